"""What crosses Temporal's boundary: workflow inputs and results, activity orders and reports, signals and
query answers. Small, JSON-safe dataclasses (paths as strings, never clip bytes), so every payload stays far
below Temporal's 2 MB limit and the workflow sandbox imports nothing heavy for them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ai_worker.orchestration.error_policy import Decision

POOL_WORKFLOW_PREFIX = "wagglebot-video-servers-"


def pool_workflow_id(task_queue: str) -> str:
    """The one server pool of a task queue: every post's leases come from it."""
    return POOL_WORKFLOW_PREFIX + task_queue


@dataclass(frozen=True)
class PostSubmission:
    """One post for the service: its file and the output root every worker can write."""

    post_file: str
    out_dir: str
    backend: str = ""
    """auto, comfyui or local; empty: the worker's VIDEO_BACKEND."""
    retry_failed: bool = False
    refresh_prompts: bool = False


@dataclass(frozen=True)
class RungView:
    """One rung of the ladder as the pool's scheduler needs it."""

    number: int
    label: str
    simplified_prompt: bool
    width: int
    height: int
    num_frames: int
    steps: int
    cfg: float
    model: str
    recipe: str | None = None
    """The rung's recipe (`model.recipes`): its number of passes is part of a job's kind."""


@dataclass(frozen=True)
class Ticket:
    """A scene that needs a clip, as its post hands it to the pool."""

    index: int
    mode: str
    rung_pos: int
    resume_server: str | None = None


@dataclass(frozen=True)
class PoolConfig:
    """What the pool's scheduler is built with (from the settings of the worker that starts it)."""

    ladder: list[RungView]
    bench_seconds: float
    max_failures: int
    audit_seconds: float = 60.0


@dataclass(frozen=True)
class TicketBatch:
    """A post's scenes for the pool, and the servers its backend uses."""

    post_workflow: str
    servers: list[str]
    slots: int
    tickets: list[Ticket]


@dataclass(frozen=True)
class Grant:
    """The pool's lease: run scene `index` at ladder position `rung_pos` on `server` now."""

    index: int
    server: str
    rung_pos: int
    same_rung_retries: int


@dataclass(frozen=True)
class SceneEnded:
    """The pool gave a scene up (its job failed for good)."""

    index: int
    reason: str
    kind: str
    rung_pos: int


@dataclass(frozen=True)
class AttemptOrder:
    """One attempt for the clip activity: which post, scene, rung and server; the rest is on disk."""

    post: PostSubmission
    post_id: str
    grant: Grant
    backend: str


@dataclass(frozen=True)
class AttemptReport:
    """How an attempt ended: a clip, or the error policy's decision and the message."""

    index: int
    ok: bool
    message: str = ""
    decision: Decision | None = None
    reattached: bool = False
    resumed_rung: int | None = None
    """A re-attached earlier prompt ran at this rung (the pool's job moves there)."""


@dataclass(frozen=True)
class PoolReport:
    """An attempt's end, from its post to the pool: the lease goes back."""

    post_workflow: str
    report: AttemptReport


@dataclass(frozen=True)
class PreparedPost:
    """A post after Phase 4.5 and 6 and the manifest's reconciliation."""

    post_id: str
    total: int
    backend: str
    backend_reason: str
    servers: list[str]
    slots: int
    tickets: list[Ticket]
    pool: PoolConfig
    already_done: int = 0
    attempt_seconds: float = 3600.0
    """The clip activity's limit: the attempt runner's own, plus a margin."""
    heartbeat_seconds: float = 30.0
    attempt_retries: int = 5


@dataclass(frozen=True)
class PostRef:
    """A post the service works on (for the activities that write its books)."""

    post: PostSubmission
    post_id: str
    started_at: float = 0.0


@dataclass(frozen=True)
class FailedScene:
    post: PostSubmission
    post_id: str
    ended: SceneEnded


@dataclass(frozen=True)
class PostSummary:
    """A finished post: the manifest's counts, and why no clip was made when none was."""

    post_id: str
    output_dir: str
    scenes: int
    made: int
    reused: int
    failed: int
    merged: int
    skipped: int
    no_clip_reason: str | None = None


@dataclass
class RunningClip:
    index: int
    rung: int
    server: str


@dataclass
class PostStatus:
    """A post workflow's answer to `status`."""

    post_id: str
    phase: str
    total: int
    done: int
    failed: int
    running: list[RunningClip] = field(default_factory=list)


@dataclass
class ServerView:
    name: str
    running: int
    benched: bool
    last_error: str | None
