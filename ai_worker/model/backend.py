"""The small interface every video backend implements: the ComfyUI client, the pool of clients and the
FFmpeg-only local backend. `VideoManager` depends on this, never on ComfyUI itself.

A backend turns one `ClipRequest` into one mp4 at `request.output_path` and returns a `ClipResult`.
Parameters mean the same thing on every backend (width, height, frames, fps), so the fallback ladder's
rungs are comparable wherever they run. `is_healthy` and `cancel_on` call the two "never raises" methods
with a time limit, for callers that must not hang on a server that is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT_S = 10.0
"""Seconds a cancel (queue delete / interrupt / socket close) may take; it must not hang a shutdown."""
HEALTH_TIMEOUT_S = 30.0

ModelVariant = Literal["full", "distilled"]
GenerationMode = Literal["t2v", "i2v"]


@dataclass(frozen=True)
class Stage:
    """One sampling pass of a clip: its latent size in pixels, checkpoint and schedule.

    `sigmas` is a fixed schedule (the distilled model's); None means ``LTXVScheduler`` with `steps`.
    """

    width: int
    height: int
    model: ModelVariant
    steps: int
    cfg: float
    sigmas: tuple[float, ...] | None = None
    distilled_lora: bool = False
    """The dev model with the distilled LoRA applied (stage 2 of ComfyUI's dev template)."""

    def as_record(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "steps": self.steps,
            "cfg": self.cfg,
            "sigmas": list(self.sigmas) if self.sigmas is not None else None,
            "distilled_lora": self.distilled_lora,
        }


@dataclass(frozen=True)
class ClipRequest:
    """Everything that shapes one generated clip."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    cfg: float
    seed: int
    output_path: Path
    model: ModelVariant = "full"
    init_image: Path | None = None
    strength: float = 0.75
    mood: str = "daily"
    prompt_id: str | None = None
    """The job's own id (a lowercase UUID derived from its identity), when the caller chose one; a backend
    with prompt ids uses it instead of a random one."""
    recipe: str = "single-pass"
    stages: tuple[Stage, ...] = ()
    """The sampling passes (`model.recipes`); two means half size, the x2 latent upscaler, then full size.
    Empty: one pass of `model` at the request's size (`steps`, `cfg`)."""

    @property
    def mode(self) -> GenerationMode:
        return "i2v" if self.init_image is not None else "t2v"

    @property
    def two_stage(self) -> bool:
        return len(self.stages) == 2

    def as_record(self) -> dict[str, object]:
        """The request as JSON-safe data for the manifest (paths as strings)."""
        return {
            "mode": self.mode,
            "prompt": self.prompt,
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "steps": self.steps,
            "cfg": self.cfg,
            "seed": self.seed,
            "model": self.model,
            "init_image": str(self.init_image) if self.init_image else None,
            "strength": self.strength,
            "recipe": self.recipe,
            "stages": [stage.as_record() for stage in self.stages],
        }


@dataclass(frozen=True)
class ClipResult:
    """A finished clip: where it is, and which server and prompt made it."""

    path: Path
    server: str
    prompt_id: str | None = None


@dataclass(frozen=True)
class ProgressEvent:
    """Sampling progress of one job (from ComfyUI `progress` messages, or the local encoder)."""

    server: str
    prompt_id: str | None
    value: int
    maximum: int
    node: str | None = None


ProgressCallback = Callable[[ProgressEvent], None]
SubmittedCallback = Callable[[str, str], None]
"""Called with (server, prompt_id) as soon as a job is queued, so the manifest can record it for resume."""


@dataclass
class GenerationHooks:
    """Optional callbacks a caller passes with a request."""

    on_progress: ProgressCallback | None = None
    on_submitted: SubmittedCallback | None = None


@runtime_checkable
class VideoGenerator(Protocol):
    """What `VideoManager` needs from a backend."""

    @property
    def name(self) -> str:
        """A short label for logs and the manifest (e.g. 'local' or the server URL)."""
        ...

    async def health_check(self) -> bool:
        """True when the backend can take work now. Never raises."""
        ...

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        """Text-to-video. Raises a `GeneratorError` subclass on failure."""
        ...

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        """Image-to-video from `request.init_image`. Raises a `GeneratorError` subclass on failure."""
        ...

    async def cancel(self, prompt_id: str) -> None:
        """Stop a job: delete it from the queue if pending, interrupt it if running. Never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


async def cancel_on(generator: VideoGenerator, prompt_id: str) -> None:
    """Cancel `prompt_id` on `generator`; never raises (a server that is gone has nothing to cancel)."""
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT_S):
            await generator.cancel(prompt_id)
    except Exception as exc:
        logger.warning("could not cancel %s on %s: %r", prompt_id, generator.name, exc)


async def is_healthy(generator: VideoGenerator, timeout: float = HEALTH_TIMEOUT_S) -> bool:
    """The generator's health check within `timeout`; never raises."""
    try:
        async with asyncio.timeout(timeout):
            return bool(await generator.health_check())
    except Exception as exc:  # health_check must not raise; one that does is unhealthy
        logger.warning("health check of %s failed: %r", generator.name, exc)
        return False
