"""One attempt of one scene on one server: build the request, run it (or re-attach to an earlier prompt)
within our own guard, re-attach after a dropped connection, cancel on the server when stopped.

The runner does I/O and returns an `AttemptOutcome` (a clip, or the error it ended with); it writes no
record. What an error means is `error_policy`'s decision, where the job goes next is the scheduler's, and
the scene's record is written in one place, `post_run.PostRun`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ai_worker.core.errors import ComfyUIConnectionError, ComfyUITimeoutError, PromptLostError, WaggleVideoError
from ai_worker.media.probe import validate_clip
from ai_worker.model.backend import (
    ClipRequest,
    ClipResult,
    GenerationHooks,
    GenerationMode,
    VideoGenerator,
    cancel_on,
    is_healthy,
)
from ai_worker.model.capabilities import OutputRecoverable, Reattachable
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.clip_plan import ClipShape, plan_clip
from ai_worker.orchestration.ladder import Rung
from config.settings import Settings

logger = logging.getLogger(__name__)

ATTEMPT_GRACE_S = 60.0
"""Beyond VIDEO_GEN_TIMEOUT, what an attempt may spend on upload, download and validation before our own
guard cancels it (the client bounds the wait itself; this catches a backend that does not)."""
MAX_REATTACH = 2
"""Re-attachments to one prompt after dropped connections before the attempt counts as failed."""


@dataclass
class InFlight:
    """What the caller and the runner share about the attempt in flight."""

    prompt_id: str | None = None
    """The prompt on the server (kept current by the caller's `on_submitted` hook)."""
    reattached: bool = False
    recovered: bool = False
    """The server lost the prompt, but the clip it had written was still there and was taken."""
    probed_seconds: float | None = None
    """The finished clip's real duration, as probed when it was validated."""
    elapsed_s: float = 0.0
    """How long the attempt ran, however it ended (a cancelled one included)."""


@dataclass(frozen=True)
class AttemptOutcome:
    """How an attempt ended: `result` when it made a valid clip, else the `error` it ended with."""

    result: ClipResult | None
    error: Exception | None
    duration_s: float
    reattached: bool = False
    recovered: bool = False
    probed_seconds: float | None = None

    @property
    def failure(self) -> Exception:
        """The error a failed attempt ended with (what `error_policy.decide` judges)."""
        return self.error if self.error is not None else WaggleVideoError("the attempt made no clip")


@dataclass(frozen=True)
class AttemptPlan:
    """Everything one attempt sends: the request and the shape it was planned with."""

    request: ClipRequest
    shape: ClipShape


def plan_attempt(
    scene: SceneDecision,
    *,
    mode: GenerationMode,
    rung: Rung,
    seed: int,
    output_path: Path,
    simple_prompt: str,
    negative_prompt: str,
    mood: str,
    settings: Settings,
    prompt_id: str | None = None,
) -> AttemptPlan:
    """The request for `scene` at `rung`; its width, height and frames come from `clip_plan.plan_clip`."""
    shape = plan_clip(scene, rung, settings)
    prompt = simple_prompt if rung.simplified_prompt else (scene.video_prompt or "")
    init = Path(scene.video_init_image) if mode == "i2v" and scene.video_init_image else None
    request = ClipRequest(
        prompt=prompt,
        negative_prompt=negative_prompt,
        width=shape.width,
        height=shape.height,
        num_frames=shape.num_frames,
        fps=settings.video_fps,
        steps=rung.steps,
        cfg=rung.cfg,
        seed=seed,
        output_path=output_path,
        model=rung.model,
        init_image=init,
        strength=settings.video_i2v_denoise,
        mood=mood,
        prompt_id=prompt_id,
        recipe=rung.recipe.recipe if rung.recipe else "single-pass",
        stages=rung.recipe.stages_at(shape.width, shape.height) if rung.recipe else (),
    )
    return AttemptPlan(request, shape)


class AttemptRunner:
    """Runs attempts on one generator."""

    def __init__(self, generator: VideoGenerator, settings: Settings) -> None:
        self.generator = generator
        self.settings = settings

    @property
    def can_reattach(self) -> bool:
        return isinstance(self.generator, Reattachable)

    def limit(self) -> float:
        limit = self.settings.video_gen_timeout + ATTEMPT_GRACE_S
        if self.can_reattach:
            # A server's queue: the attempt may wait behind our other slot or other users' jobs first (the
            # client bounds that wait by COMFYUI_QUEUE_TIMEOUT and starts VIDEO_GEN_TIMEOUT at execution).
            limit += self.settings.comfyui_queue_timeout
        return limit

    async def run(
        self, request: ClipRequest, hooks: GenerationHooks, flight: InFlight, *, resume: bool
    ) -> AttemptOutcome:
        """Submit `request` (or, when `resume`, re-attach to ``flight.prompt_id``) and validate the clip.

        Errors of the attempt come back in the outcome; a cancellation stops the job on the server and
        propagates (the caller records it)."""
        started = time.monotonic()
        try:
            result = await self._run(request, hooks, flight, resume=resume)
        except asyncio.CancelledError:
            flight.elapsed_s = time.monotonic() - started
            if flight.prompt_id is not None:
                await asyncio.shield(cancel_on(self.generator, flight.prompt_id))
            raise
        except Exception as exc:
            flight.elapsed_s = time.monotonic() - started
            return AttemptOutcome(None, exc, flight.elapsed_s, reattached=flight.reattached)
        flight.elapsed_s = time.monotonic() - started
        return AttemptOutcome(result, None, flight.elapsed_s, reattached=flight.reattached,
                              recovered=flight.recovered, probed_seconds=flight.probed_seconds)

    async def _run(self, request: ClipRequest, hooks: GenerationHooks, flight: InFlight, *, resume: bool) -> ClipResult:
        """Re-attaching after dropped connections while the server is still up."""
        request.output_path.parent.mkdir(parents=True, exist_ok=True)
        limit = self.limit()
        reattaches = 0
        prompt_id = flight.prompt_id if resume else None
        while True:
            try:
                async with asyncio.timeout(limit):
                    result = await self._once(request, hooks, prompt_id)
                break
            except TimeoutError:
                if flight.prompt_id is not None:
                    await cancel_on(self.generator, flight.prompt_id)
                raise ComfyUITimeoutError(
                    f"{self.generator.name}: attempt ran past {limit:g} s and was cancelled",
                    server=self.generator.name, prompt_id=flight.prompt_id,
                ) from None
            except PromptLostError:
                recovered = await self._recover(request)
                if recovered is None:
                    raise
                flight.recovered = True
                result = recovered
                break
            except ComfyUIConnectionError as exc:
                prompt_id = exc.prompt_id or flight.prompt_id
                if prompt_id is None or not self.can_reattach or reattaches >= MAX_REATTACH:
                    raise
                # A server that is down has nothing to re-attach to: polling it would only wait.
                if not await is_healthy(self.generator, self.settings.comfyui_health_timeout + 1.0):
                    raise
                reattaches += 1
                flight.reattached = True
                logger.warning("%s: connection lost on prompt %s (%s); re-attaching", self.generator.name,
                               prompt_id, exc)
        info = await asyncio.to_thread(
            validate_clip, result.path, width=request.width, height=request.height,
            min_frames=request.num_frames, fps=request.fps,
        )
        flight.probed_seconds = info.duration
        return result

    async def _recover(self, request: ClipRequest) -> ClipResult | None:
        if not isinstance(self.generator, OutputRecoverable):
            return None
        try:
            async with asyncio.timeout(self.settings.comfyui_http_timeout * 2 + 5.0):
                return await self.generator.recover_output(request)
        except (WaggleVideoError, TimeoutError) as exc:
            logger.info("%s: nothing recovered for %s: %r", self.generator.name, request.output_path.name, exc)
            return None

    async def _once(self, request: ClipRequest, hooks: GenerationHooks, prompt_id: str | None) -> ClipResult:
        if prompt_id is not None and isinstance(self.generator, Reattachable):
            return await self.generator.reattach(prompt_id, request, hooks)
        if request.mode == "i2v":
            return await self.generator.generate_i2v(request, hooks)
        return await self.generator.generate_t2v(request, hooks)
