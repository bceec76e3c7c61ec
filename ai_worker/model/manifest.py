"""`manifest.json`: what happened to every scene of a post, written atomically after every change.

A scene is keyed by a fingerprint of its content and of the settings that shape its clip, not by its
index, so a re-run can reuse finished clips and re-attach to prompts still running on a server.

On disk (version 2) every path is relative to the manifest's folder and every time is ISO 8601 (UTC), so the
folder can be moved or read from another machine; in memory paths are as the stage uses them (absolute, or
relative to the working directory) and times are Unix seconds. Version 1 files (paths as written, times as
numbers) still load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, ValidationError

from ai_worker.core.atomic import write_text_atomic
from ai_worker.core.errors import InputError, OutputError
from ai_worker.model.anchor import VisualAnchor
from ai_worker.model.failure import FailureKind
from ai_worker.model.manifest_paths import convert_paths, relative_to_folder, resolve_in_folder

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 2


def _from_iso(value: object) -> object:
    """Accept ISO 8601 text (version 2) as well as Unix seconds (version 1)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value  # let pydantic report it as not a number
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return value


def iso_time(seconds: float) -> str:
    """Unix seconds as ISO 8601 in UTC, to the millisecond."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _to_iso(value: float | None) -> str | None:
    return None if value is None else iso_time(value)


Time = Annotated[float, BeforeValidator(_from_iso), PlainSerializer(_to_iso, when_used="json")]
"""Unix seconds in memory, ISO 8601 (UTC) on disk; version 1's numbers still load."""


SceneStatus = Literal["pending", "running", "done", "failed", "skipped"]


class AttemptRecord(BaseModel):
    """One try at making a scene's clip."""

    rung: int
    params: dict[str, object] = Field(default_factory=dict)
    seed: int | None = None
    server: str | None = None
    prompt_id: str | None = None
    started_at: Time = Field(default_factory=time.time)
    duration_s: float | None = None
    error: str | None = None
    error_type: str | None = None
    # Added by the orchestration: what the ladder called the rung, what it did after the error
    # (`next`, `free_and_next`, `fail_fast`, `reattach`, `retry`), and whether the result came from a
    # re-attached prompt rather than a fresh submission.
    label: str | None = None
    action: str | None = None
    reattached: bool = False
    recovered: bool = False
    """The server had lost the prompt (restarted), and the clip it had already written was taken."""
    shape: dict[str, object] | None = None
    """`clip_plan.ClipShape.as_record()`: the width, height and frames asked for, and why."""
    probed_seconds: float | None = None
    """The clip's real duration (probed), beside the narration length and frames asked in `shape`."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.duration_s is not None


class PendingPrompt(BaseModel):
    """A prompt queued on a server whose result we have not collected yet (for resume)."""

    server: str
    prompt_id: str
    rung: int
    params: dict[str, object] = Field(default_factory=dict)


class SceneRecord(BaseModel):
    """Everything decided and done for one scene."""

    index: int
    fingerprint: str
    type: str
    text_lines: list[str | dict[str, str]] = Field(default_factory=list)
    image_url: str | None = None
    image_path: str | None = None
    image_score: float | None = None
    image_category: str | None = None
    image_reasons: list[str] = Field(default_factory=list)
    mode: Literal["t2v", "i2v"] | None = None
    prompt: str | None = None
    prompt_simple: str | None = None
    prompt_source: str | None = None
    status: SceneStatus = "pending"
    attempts: list[AttemptRecord] = Field(default_factory=list)
    pending: PendingPrompt | None = None
    clip_path: str | None = None
    failure_reason: str | None = None
    merged_into: int | None = None
    merged_from: list[int] = Field(default_factory=list)
    # Added by the orchestration (resume): where the ladder stands and why a scene failed.
    next_rung: int = 0
    failure_kind: FailureKind | None = None
    skip_reason: str | None = None
    # Why the post file's scene was not taken as written (unknown type, refused image path, ...); its lines
    # are still all here.
    input_error: str | None = None
    clip_prompt: str | None = None
    """The Phase 6 prompt the finished clip was made from (a refreshed prompt makes the clip again)."""
    reused: bool = False
    """This run reused the clip an earlier run made."""
    retried: str | None = None
    """Why this run tried the scene again after an earlier run failed it."""


class FinalScene(BaseModel):
    """One scene as the renderer gets it, after failed scenes were merged away."""

    clip_path: str | None = None
    text_lines: list[str | dict[str, str]] = Field(default_factory=list)
    source_indices: list[int] = Field(default_factory=list)
    type: str = "text_only"


class ManifestSummary(BaseModel):
    """The counts the report shows, for the last run (written when a run finishes)."""

    scenes: int = 0
    made: int = 0
    """Clips made by the last run."""
    reused: int = 0
    """Clips kept from an earlier run (still valid, not made again)."""
    failed: int = 0
    merged: int = 0
    """Failed scenes whose lines moved to a neighbour."""
    skipped: int = 0
    """Scenes that stay static (no clip attempted)."""
    final_scenes: int = 0
    run_started_at: Time | None = None
    run_finished_at: Time | None = None
    run_seconds: float | None = None


class Manifest(BaseModel):
    """The whole post."""

    version: int = MANIFEST_VERSION
    post_id: str
    title: str = ""
    mood: str = "daily"
    mood_given: str | None = None
    """The post file's mood when it was not a known one (`mood` is the one used instead)."""
    backend: str | None = None
    backend_reason: str | None = None
    created_at: Time = Field(default_factory=time.time)
    updated_at: Time = Field(default_factory=time.time)
    scenes: list[SceneRecord] = Field(default_factory=list)
    input_errors: list[str] = Field(default_factory=list)
    final_scenes: list[FinalScene] = Field(default_factory=list)
    settings_fingerprint: str | None = None
    visual_anchor: VisualAnchor | None = None
    """The post's one look (main character, place, time of day, palette) every T2V prompt was written with."""
    summary: ManifestSummary | None = None

    def by_fingerprint(self) -> dict[str, SceneRecord]:
        return {scene.fingerprint: scene for scene in self.scenes}


def fingerprint(payload: dict[str, object]) -> str:
    """A stable short hash of JSON-safe data (content plus the settings that shape the clip)."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def summarize(manifest: Manifest, *, run_started_at: float | None, run_finished_at: float | None) -> ManifestSummary:
    """The report's counts; a done scene is "reused" when the last run kept a clip an earlier run made (the
    orchestration marks it so), else "made"."""
    done = [scene for scene in manifest.scenes if scene.status == "done"]
    reused = sum(1 for scene in done if scene.reused)
    made = len(done) - reused
    seconds = None
    if run_started_at is not None and run_finished_at is not None:
        seconds = round(max(0.0, run_finished_at - run_started_at), 3)
    return ManifestSummary(
        scenes=len(manifest.scenes),
        made=made,
        reused=reused,
        failed=sum(1 for s in manifest.scenes if s.status == "failed"),
        merged=sum(1 for s in manifest.scenes if s.merged_into is not None),
        skipped=sum(1 for s in manifest.scenes if s.status == "skipped"),
        final_scenes=len(manifest.final_scenes),
        run_started_at=run_started_at,
        run_finished_at=run_finished_at,
        run_seconds=seconds,
    )


class ManifestStore:
    """Reads and writes one post's manifest file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def folder(self) -> Path:
        return self.path.parent

    def load(self) -> Manifest | None:
        """The manifest on disk, or None when there is none. A corrupt file is an `InputError`."""
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"top level is {type(data).__name__}, not an object")
            version = data.get("version", 1)
            if isinstance(version, int) and version >= 2:
                convert_paths(data, lambda p: resolve_in_folder(p, self.folder))
            manifest = Manifest.model_validate(data)
        except (ValidationError, ValueError) as exc:
            raise InputError(f"{self.path}: not a readable manifest ({exc.__class__.__name__}: {exc})") from exc
        manifest.version = MANIFEST_VERSION
        return manifest

    def dumps(self, manifest: Manifest) -> str:
        """The manifest as written to disk: paths relative to its folder, times ISO 8601."""
        data = manifest.model_dump(mode="json")
        data["version"] = MANIFEST_VERSION
        convert_paths(data, lambda p: relative_to_folder(p, self.folder))
        return json.dumps(data, ensure_ascii=False, indent=2)

    def save(self, manifest: Manifest) -> None:
        """Write atomically; a failure to write is an `OutputError` naming the file."""
        manifest.updated_at = time.time()
        try:
            write_text_atomic(self.path, self.dumps(manifest))
        except OSError as exc:
            raise OutputError(f"{self.path}: could not save the manifest ({exc.strerror or exc})") from exc
