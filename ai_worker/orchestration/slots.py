"""The Phase 7 driver: every post of a batch on one `Scheduler`, every server's slots working at once.

Each server slot is a task that asks the scheduler for a job, runs it with the server's `AttemptRunner`,
applies `error_policy.decide` to a failure, and tells the post (`PostRun`) what happened, which saves the
manifest after every change. A benched server's slot health-checks it again when its time is up.
Cancellation (Ctrl-C, SIGTERM): jobs in flight are cancelled on the server, their records go back to
``pending`` with the prompt id kept, every manifest is saved, and the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ai_worker.core.errors import ComfyUIError, OutputError, WaggleVideoError
from ai_worker.model.backend import GenerationHooks, ProgressEvent, VideoGenerator, cancel_on, is_healthy
from ai_worker.model.capabilities import Backend, loaded_model_of, servers_of, slots_of
from ai_worker.model.manifest import AttemptRecord, PendingPrompt
from ai_worker.orchestration.attempt import AttemptRunner, InFlight, plan_attempt
from ai_worker.orchestration.error_policy import decide
from ai_worker.orchestration.events import AttemptFailed, AttemptStarted, Progress, SceneStarted
from ai_worker.orchestration.gpu_manager import GPUManager
from ai_worker.orchestration.ladder import Rung
from ai_worker.orchestration.post_run import PostRun, SceneWork
from ai_worker.orchestration.scene_identity import attempt_seed
from ai_worker.orchestration.scheduler import Clock, Ended, Job, Scheduler, Server
from config.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Lane:
    server: Server
    generator: VideoGenerator
    runner: AttemptRunner


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a task group: ours first, then anything but a cancellation."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    for wanted in (WaggleVideoError, Exception):
        for leaf in leaves:
            if isinstance(leaf, wanted):
                return leaf
    return leaves[0] if leaves else group


class Orchestrator:
    """Runs posts' scenes on a backend's servers (see the module docstring)."""

    def __init__(
        self, backend: Backend, settings: Settings, ladder: tuple[Rung, ...], gpu: GPUManager,
        *, clock: Clock = time.monotonic,
    ) -> None:
        self.settings = settings
        self.gpu = gpu
        self.clock = clock
        self.scheduler = Scheduler(ladder, bench_seconds=settings.comfyui_bench_seconds,
                                   max_failures=settings.video_server_max_failures, clock=clock)
        self.lanes = [
            _Lane(self.scheduler.add_server(g.name, slots=slots_of(g), model=loaded_model_of(g)), g,
                  AttemptRunner(g, settings))
            for g in servers_of(backend)
        ]
        self.backend_name = backend.name
        self.cond = asyncio.Condition()
        self.works: dict[tuple[int, int], SceneWork] = {}

    async def run(self, posts: Sequence[PostRun]) -> None:
        """Every post's scenes to the end (clip or failure), then each post's finish (merge, final scenes)."""
        for post in posts:
            for work in await post.prepare():
                self.scheduler.add_job(work.job)
                self.works[(work.job.post, work.job.index)] = work
        try:
            if any(job.state == "queued" for job in self.scheduler.jobs):
                if await self._health_check():
                    await self._work()
                else:
                    reason = f"video backend {self.backend_name} failed its health check; clips skipped"
                    logger.warning("%s", reason)
                    for post in posts:
                        post.backend_down(reason)
        except BaseException:
            for post in posts:
                post.interrupted()
                with contextlib.suppress(OutputError):  # the error being raised says more
                    post.save()
            raise
        for post in posts:
            post.finish()
        switches = {lane.server.name: lane.server.switches for lane in self.lanes if lane.server.switches}
        if switches:
            logger.info("checkpoint switches asked of each server: %s", switches)

    async def _health_check(self) -> bool:
        checks = await asyncio.gather(*(is_healthy(lane.generator) for lane in self.lanes))
        for lane, ok in zip(self.lanes, checks, strict=True):
            if not ok:
                self.scheduler.bench(lane.server, "health check failed")
        return any(checks)

    async def _work(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for lane in self.lanes:
                    for _ in range(lane.server.slots):
                        group.create_task(self._slot(lane))
        except BaseExceptionGroup as group:
            raise _first_error(group) from None

    # --- one slot ----------------------------------------------------------------------------------------

    def _settle(self) -> None:
        for ended in self.scheduler.settle():
            self._ended(ended)

    def _ended(self, ended: Ended) -> None:
        work = self.works[(ended.job.post, ended.job.index)]
        work.post.failed(work, ended.reason, ended.kind)

    async def _next(self, lane: _Lane) -> Job | None:
        """Wait for a job for this slot; None when no work is left (or the slot must health-check)."""
        server = lane.server
        async with self.cond:
            while True:
                if server in self.scheduler.due_checks() and self.scheduler.outstanding():
                    server.checking = True
                    return None
                self._settle()
                if not self.scheduler.outstanding():
                    self.cond.notify_all()
                    return None
                if self.scheduler.benched(server):
                    await self._wait_for_bench(server)
                    continue
                job = self.scheduler.pick(server)
                if job is not None:
                    self.scheduler.start(job, server)
                    return job
                await self.cond.wait()

    async def _wait_for_bench(self, server: Server) -> None:
        """Wait for a change, or for `server`'s bench time to end (its re-check is this slot's job)."""
        due = server.benched_until
        if due is None or server.checking:
            await self.cond.wait()
            return
        try:
            async with asyncio.timeout(max(0.0, due - self.clock())):
                await self.cond.wait()
        except TimeoutError:
            pass

    async def _slot(self, lane: _Lane) -> None:
        while True:
            job = await self._next(lane)
            if job is None:
                if not lane.server.checking:
                    return
                healthy = await is_healthy(lane.generator, self.settings.comfyui_health_timeout + 1.0)
                async with self.cond:
                    self.scheduler.checked(lane.server, healthy)
                    logger.info("%s %s its re-check", lane.server.name, "passed" if healthy else "failed")
                    self.cond.notify_all()
                continue
            try:
                await self._attempt(lane, self.works[(job.post, job.index)])
            finally:
                async with self.cond:
                    if job.state == "running":
                        self.scheduler.interrupted(job)
                    self.cond.notify_all()

    # --- one attempt -------------------------------------------------------------------------------------

    async def _attempt(self, lane: _Lane, work: SceneWork) -> None:
        post, job, record = work.post, work.job, work.record
        resume = work.pending if work.pending is not None and work.pending.server == lane.server.name else None
        work.pending = None
        if resume is not None and not lane.runner.can_reattach:
            # This backend cannot collect an earlier run's prompt: stop it so it does not hold the GPU.
            await cancel_on(lane.generator, resume.prompt_id)
            resume = None
        seed: int | None = None
        if resume is not None:
            self.scheduler.resumed_at(job, resume.rung)
            raw = resume.params.get("seed")
            seed = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        rung = self.scheduler.rung(job)
        try_number = sum(1 for a in record.attempts if a.rung == rung.number and a.action != "cancelled")
        if seed is None:
            seed = attempt_seed(record.fingerprint, rung.number, try_number)
        plan = plan_attempt(
            work.scene, mode=job.mode, rung=rung, seed=seed, output_path=post.clip_path(work, rung, try_number),
            simple_prompt=post.simple_prompt(work.scene), negative_prompt=post.negative, mood=post.mood,
            settings=self.settings,
        )
        request = plan.request
        attempt = AttemptRecord(
            rung=rung.number, label=rung.label, params={**request.as_record(), "label": rung.label}, seed=seed,
            server=lane.server.name, reattached=resume is not None, shape=plan.shape.as_record(),
        )
        flight = InFlight(prompt_id=resume.prompt_id if resume else None)
        attempt.prompt_id = flight.prompt_id
        record.attempts.append(attempt)
        record.status = "running"
        record.clip_prompt = work.scene.video_prompt
        if not work.started:
            work.started = True
            post.emit(SceneStarted(work.index, post.total, job.mode, record.fingerprint, post_id=post.post_id))
        post.emit(AttemptStarted(work.index, post.total, rung.number, rung.label, lane.server.name,
                                 dict(attempt.params), reattach=resume is not None, post_id=post.post_id))
        post.save()

        def on_submitted(server: str, prompt_id: str) -> None:
            flight.prompt_id = attempt.prompt_id = prompt_id
            attempt.server = server
            record.pending = PendingPrompt(server=lane.server.name, prompt_id=prompt_id, rung=rung.number,
                                           params=dict(attempt.params))
            post.save()

        def on_progress(event: ProgressEvent) -> None:
            post.emit(Progress(work.index, post.total, event, post_id=post.post_id))

        hooks = GenerationHooks(on_progress=on_progress, on_submitted=on_submitted)
        started = time.monotonic()
        try:
            result = await lane.runner.run(request, hooks, flight, resume=resume is not None)
        except asyncio.CancelledError:
            attempt.duration_s = time.monotonic() - started
            attempt.error, attempt.error_type, attempt.action = "cancelled", "CancelledError", "cancelled"
            if flight.prompt_id is not None:
                await asyncio.shield(cancel_on(lane.generator, flight.prompt_id))
            record.status = "pending"  # the prompt id stays in `pending`: the next run re-attaches
            post.save()
            raise
        except Exception as exc:
            attempt.duration_s = time.monotonic() - started
            attempt.reattached = attempt.reattached or flight.reattached
            record.pending = None
            await self._failed(lane, work, attempt, exc, resumed=resume is not None)
            return
        attempt.duration_s = time.monotonic() - started
        attempt.reattached = attempt.reattached or flight.reattached
        attempt.recovered = flight.recovered
        attempt.probed_seconds = flight.probed_seconds
        attempt.server = result.server or attempt.server
        attempt.prompt_id = result.prompt_id or attempt.prompt_id
        async with self.cond:
            self.scheduler.succeeded(job)
        post.succeeded(work, result.path)

    async def _failed(
        self, lane: _Lane, work: SceneWork, attempt: AttemptRecord, exc: Exception, *, resumed: bool
    ) -> None:
        job = work.job
        decision = decide(exc, resumed=resumed, same_rung_retries=job.same_rung_retries)
        message = _error_text(exc)
        attempt.error, attempt.error_type, attempt.action = message, type(exc).__name__, decision.action
        if not isinstance(exc, WaggleVideoError):
            logger.error("post %s, scene %d: a bug, not retried", work.post.post_id, work.index, exc_info=exc)
        if decision.free_vram:
            named = exc.server if isinstance(exc, ComfyUIError) and exc.server else lane.server.name
            if not await self.gpu.free_vram(named) and named != lane.server.name:
                await self.gpu.free_vram(lane.server.name)
        async with self.cond:
            ended = self.scheduler.failed(job, decision, message)
            if self.scheduler.benched(lane.server):
                logger.error("benching %s for %g s (last: %s)", lane.server.name, self.settings.comfyui_bench_seconds,
                             message)
        work.post.emit(AttemptFailed(work.index, work.post.total, attempt.rung, attempt.error_type or "", message,
                                     decision.action, post_id=work.post.post_id))
        if ended is not None:
            self._ended(ended)
        else:
            work.record.status = "pending"
            work.record.next_rung = job.rung_pos
            work.post.save()
