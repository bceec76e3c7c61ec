"""The fallback ladder (docs/spec.md, 9) and the sorting of errors that decides how a scene moves on it.

Pure: the rungs come from settings (every value snapped through `model.clip_sizes`, so the numbers recorded
in the manifest are the ones the model really renders), and `classify` maps an exception *type* to what
the orchestration does next. Nothing here talks to a server.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ai_worker.core.errors import (
    ComfyUIConnectionError,
    ComfyUINotSubmittedError,
    ComfyUIOutOfMemoryError,
    ComfyUIPermanentExecutionError,
    ComfyUIServerError,
    ComfyUITimeoutError,
    ComfyUIValidationError,
    FFmpegNotFoundError,
    GeneratorError,
    GeneratorUnavailableError,
    InputError,
    MediaError,
    PromptLostError,
    WorkflowError,
)
from ai_worker.model.backend import GenerationMode, ModelVariant
from ai_worker.model.clip_sizes import validate_frame_count, validate_resolution
from ai_worker.model.recipes import RecipeRung, recipe_rung
from config.settings import Settings


@dataclass(frozen=True)
class Rung:
    """One step of the ladder. `number` is 1-based, as in the spec's table."""

    number: int
    label: str
    simplified_prompt: bool
    width: int
    height: int
    num_frames: int
    steps: int
    cfg: float
    model: ModelVariant
    recipe: RecipeRung | None = None
    """How the rung samples (`model.recipes`); None: one pass of `model` (`steps`, `cfg`)."""

    @property
    def passes(self) -> int:
        return len(self.recipe.stages) if self.recipe else 1

    @property
    def size_multiple(self) -> int:
        return self.recipe.size_multiple if self.recipe else 32

    def params(self) -> dict[str, object]:
        """The rung as JSON-safe data (for the manifest and the events)."""
        return {
            "rung": self.number,
            "label": self.label,
            "simplified_prompt": self.simplified_prompt,
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "steps": self.steps,
            "cfg": self.cfg,
            "model": self.model,
            "recipe": self.recipe.recipe if self.recipe else None,
        }


def build_ladder(settings: Settings) -> tuple[Rung, ...]:
    """The four rungs of VIDEO_RECIPE (`model.recipes`), from settings, cut to `VIDEO_MAX_RETRY`.

    1 full; 2 the same with the simplified prompt; 3 the fallback resolution, frame count and steps;
    4 the cheapest: one distilled pass (at half the fallback size in the two-stage recipes).
    Sizes are snapped to the multiple the rung's passes need (64 around the x2 upscaler).
    """
    frames = validate_frame_count(settings.video_num_frames)
    fb_frames = validate_frame_count(settings.video_num_frames_fallback)
    plan = (
        (1, "full", False, settings.video_resolution, frames, settings.video_steps, settings.video_cfg),
        (2, "simplified", True, settings.video_resolution, frames, settings.video_steps, settings.video_cfg),
        (3, "downscaled", True, settings.video_resolution_fallback, fb_frames, settings.video_steps_fallback,
         settings.video_cfg),
        (4, "distilled", True, settings.video_resolution_fallback, fb_frames, settings.video_steps_distilled,
         settings.video_cfg_distilled),
    )
    rungs: list[Rung] = []
    for number, label, simplified, (width, height), num_frames, steps, cfg in plan[: settings.video_max_retry]:
        recipe = recipe_rung(settings.video_recipe, number, steps=steps, cfg=cfg,
                             cfg_distilled=settings.video_cfg_distilled)
        size = validate_resolution(round(width * recipe.size_scale), round(height * recipe.size_scale),
                                   multiple=recipe.size_multiple)
        first = recipe.stages[0]
        rungs.append(Rung(number, label, simplified, *size, num_frames, first.steps, first.cfg, recipe.model,
                          recipe))
    return tuple(rungs)


JobKind = tuple[GenerationMode, ModelVariant, int]
"""What a validation error rules out on a server: a mode with a model and a number of passes (one workflow:
a missing upscaler rules out the two-stage graphs, not the cheapest rung's single pass)."""


class ErrorAction(enum.Enum):
    """What the orchestration does after a failed attempt."""

    FAIL_FAST = "fail_fast"
    """The scene fails now: retrying cannot help (bad input, our bug)."""
    BLOCK_KIND = "block_kind"
    """That kind of job (mode and checkpoint) is never sent to that server again in this run (validation,
    a missing or unreadable model, a node that cannot be built, a workflow that does not take a parameter);
    the scene goes on with a rung of another kind, or on another server."""
    FREE_AND_NEXT = "free_and_next"
    """Out of memory: free the server's VRAM, then the next rung (smaller) may fit."""
    REATTACH = "reattach"
    """The transport dropped: the prompt may still be running; re-attach to it by id."""
    RETRY = "retry"
    """The job never reached a server: the same rung again, elsewhere or later, without using up a rung."""
    EXTERNAL = "external"
    """Something outside the scene is broken (FFmpeg missing): the scene stops without using up a rung, and
    a re-run tries it again."""
    NEXT = "next"
    """Anything else the server or the clip did wrong: the next rung."""


def classify(exc: BaseException) -> ErrorAction:
    """Sort an attempt's exception by type (never by message)."""
    if isinstance(exc, ComfyUIValidationError | ComfyUIPermanentExecutionError | WorkflowError):
        return ErrorAction.BLOCK_KIND
    if isinstance(exc, ComfyUIOutOfMemoryError):
        return ErrorAction.FREE_AND_NEXT
    if isinstance(exc, ComfyUIConnectionError):
        return ErrorAction.REATTACH
    if isinstance(exc, GeneratorUnavailableError | ComfyUINotSubmittedError):
        return ErrorAction.RETRY
    if isinstance(exc, FFmpegNotFoundError):
        return ErrorAction.EXTERNAL
    if isinstance(exc, GeneratorError | MediaError):
        # Timeouts (the client has cancelled the job), execution errors, interrupts, lost prompts,
        # unusable outputs and clips that fail validation: a lighter rung may succeed.
        return ErrorAction.NEXT
    if isinstance(exc, InputError):
        return ErrorAction.FAIL_FAST
    # Anything else is a bug in our code (TypeError, KeyError, ...) or an error no rung can change.
    return ErrorAction.FAIL_FAST


def is_server_fault(exc: BaseException) -> bool:
    """Errors that say more about the server than about the job; enough in a row and the post gives up on
    the server instead of spending four attempts per remaining scene on it."""
    return isinstance(
        exc,
        ComfyUIConnectionError
        | ComfyUINotSubmittedError
        | ComfyUIServerError
        | PromptLostError
        | ComfyUITimeoutError
        | GeneratorUnavailableError,
    )
