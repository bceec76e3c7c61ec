"""One clip attempt inside the `run_attempt` activity: the same steps as a `run` slot (`PostRun.plan`,
`begin_attempt`, the `AttemptRunner`, `error_policy.decide`, `PostRun.apply`), with what a distributed
run adds:

* **Nothing made twice.** The prompt id is derived from the job's identity (`PostRun.plan`); before
  submitting, the server is asked for it (`/history`, then `/queue`). A job it knows (queued, running or
  finished) is re-attached, never submitted again: a retried activity (its worker was killed, Temporal gave
  the attempt to another worker after the heartbeat timeout) collects the job the first one started. A
  retried activity also takes over its predecessor's unfinished attempt record instead of adding one.
* **Heartbeats** every third of the heartbeat timeout while the attempt runs, with its sampling progress,
  so a lost worker is noticed and a cancel (`cancel`, a cancelled workflow) reaches the attempt, which
  interrupts its ComfyUI job.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from temporalio import activity

from ai_worker.core.errors import ComfyUIError, WaggleVideoError
from ai_worker.model.backend import GenerationHooks, ProgressEvent, VideoGenerator
from ai_worker.model.capabilities import MemoryFreeing, PromptLookup
from ai_worker.model.manifest import AttemptRecord, PendingPrompt
from ai_worker.orchestration.attempt import AttemptRunner, InFlight
from ai_worker.orchestration.error_policy import Move, decide
from ai_worker.orchestration.post_run import SceneWork, error_text
from ai_worker.service.messages import AttemptReport, Grant
from ai_worker.service.post_books import PostBooks
from config.settings import Settings

logger = logging.getLogger(__name__)


async def known_to_server(generator: VideoGenerator, prompt_id: str) -> bool:
    """Does the server have `prompt_id` (queued, running or finished)? Only a server with prompt ids
    (`PromptLookup`) can be asked; one that cannot is taken as not having it (the submission will then fail
    as `run`'s does)."""
    if not isinstance(generator, PromptLookup):
        return False
    try:
        state = await generator.prompt_state(prompt_id)
    except WaggleVideoError as exc:
        logger.warning("could not ask %s about prompt %s: %s", generator.name, prompt_id, exc)
        return False
    return state != "absent"


def _unfinished(work: SceneWork, rung: int) -> AttemptRecord | None:
    """The scene's last attempt when it is at `rung` and never ended: a predecessor activity's, lost with
    its worker."""
    if not work.record.attempts:
        return None
    last = work.record.attempts[-1]
    if last.rung == rung and last.duration_s is None and last.error is None and last.action is None:
        return last
    return None


async def _heartbeat(every: float, progress: dict[str, object]) -> None:
    while True:
        activity.heartbeat(dict(progress))
        await asyncio.sleep(every)


async def run_clip_attempt(books: PostBooks, grant: Grant, generator: VideoGenerator,
                           settings: Settings) -> AttemptReport:
    post = books.run
    work = books.work(grant.index, rung_pos=grant.rung_pos, same_rung_retries=grant.same_rung_retries)
    resume: PendingPrompt | None = work.pending if work.pending is not None and work.pending.server == grant.server \
        else None
    resumed_rung: int | None = None
    if resume is not None:
        positions = [pos for pos, rung in enumerate(post.ladder) if rung.number == resume.rung]
        if positions:
            work.job.rung_pos, resumed_rung = positions[0], resume.rung
    rung = post.ladder[work.job.rung_pos]
    earlier = _unfinished(work, rung.number)
    try_number = post.try_number(work, rung) - (1 if earlier is not None else 0)
    plan = post.plan(work, rung, try_number, resume)
    prompt_id = resume.prompt_id if resume is not None else plan.request.prompt_id
    request = dataclasses.replace(plan.request, prompt_id=prompt_id)
    if earlier is not None:
        attempt = earlier
    else:
        attempt = post.begin_attempt(work, plan, rung=rung, seed=request.seed, server=grant.server, resume=resume)
    reattach = prompt_id is not None and await known_to_server(generator, prompt_id)
    if reattach:
        attempt.reattached = True
        logger.info("post %s scene %d: prompt %s is already on %s; re-attaching", post.post_id, grant.index,
                    prompt_id, grant.server)
    flight = InFlight(prompt_id=prompt_id if reattach else attempt.prompt_id)
    progress: dict[str, object] = {"index": grant.index, "rung": rung.number, "server": grant.server,
                                   "prompt_id": prompt_id}

    def on_submitted(server: str, submitted_id: str) -> None:
        flight.prompt_id = submitted_id
        post.submitted(work, attempt, slot_server=grant.server, server=server, prompt_id=submitted_id)

    def on_progress(event: ProgressEvent) -> None:
        progress.update(value=event.value, maximum=event.maximum)

    runner = AttemptRunner(generator, settings)
    beat = asyncio.create_task(_heartbeat(max(0.2, settings.service_heartbeat_seconds / 3), progress))
    try:
        outcome = await runner.run(request, GenerationHooks(on_progress=on_progress, on_submitted=on_submitted),
                                   flight, resume=reattach)
    except asyncio.CancelledError:
        post.cancelled(work, attempt, flight.elapsed_s)
        raise
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    if outcome.result is not None:
        post.apply(work, attempt, outcome)
        return AttemptReport(grant.index, True, reattached=reattach, resumed_rung=resumed_rung)
    exc = outcome.failure
    decision = decide(exc, resumed=resume is not None, same_rung_retries=grant.same_rung_retries)
    if not isinstance(exc, WaggleVideoError):
        logger.error("post %s, scene %d: a bug, not retried", post.post_id, grant.index, exc_info=exc)
    if decision.free_vram and isinstance(generator, MemoryFreeing):
        with contextlib.suppress(WaggleVideoError, ComfyUIError):
            await generator.free_memory()
    if decision.move is Move.NEXT_RUNG and work.job.rung_pos + 1 < len(post.ladder):
        work.job.rung_pos += 1  # where the pool's scheduler will move it (the record says so, as in `run`)
    post.apply(work, attempt, outcome, action=decision.action)
    return AttemptReport(grant.index, False, error_text(exc), decision, reattached=reattach,
                         resumed_rung=resumed_rung)
