"""What Phase 7 tells its caller while it runs (progress events) and when it ends (one result per scene)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ai_worker.model.backend import ProgressEvent
from ai_worker.model.manifest import AttemptRecord


@dataclass
class VideoGenerationResult:
    """What happened to one scene (docs/spec.md's fields, plus the attempts themselves)."""

    scene_index: int
    success: bool
    clip_path: Path | None = None
    attempts: int = 0
    failure_reason: str | None = None
    merged_into: int | None = None
    attempt_log: list[AttemptRecord] = field(default_factory=list)
    skipped: bool = False
    """No clip was attempted (no video mode or prompt, over the clip limit, backend down): the scene stays,
    static, and is not merged."""
    reused: bool = False
    """The clip came from an earlier run."""


@dataclass(frozen=True)
class SceneEvent:
    """What every event names: the scene, how many scenes its post has, and the post."""

    scene_index: int
    total_scenes: int
    post_id: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class SceneStarted(SceneEvent):
    mode: str
    fingerprint: str


@dataclass(frozen=True)
class AttemptStarted(SceneEvent):
    rung: int
    label: str
    server: str
    params: dict[str, object]
    reattach: bool = False


@dataclass(frozen=True)
class Progress(SceneEvent):
    progress: ProgressEvent


@dataclass(frozen=True)
class AttemptFailed(SceneEvent):
    rung: int
    error_type: str
    message: str
    action: str


@dataclass(frozen=True)
class SceneDone(SceneEvent):
    clip_path: Path
    attempts: int
    reused: bool = False


@dataclass(frozen=True)
class SceneFailed(SceneEvent):
    reason: str
    attempts: int


@dataclass(frozen=True)
class SceneSkipped(SceneEvent):
    reason: str


ManagerEvent = SceneStarted | AttemptStarted | Progress | AttemptFailed | SceneDone | SceneFailed | SceneSkipped
EventCallback = Callable[[ManagerEvent], None]
