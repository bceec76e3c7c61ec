"""The servers' slots at work: every slot of every server takes jobs from the one `Scheduler` at once.

Each slot is a task that asks the scheduler for a job, runs it with its server's `AttemptRunner`, has
`error_policy.decide` judge a failure, and hands the `AttemptOutcome` to the post (`PostRun.apply`), the
one place that writes scene records. A benched server's slot health-checks it again when its time is up.
Cancellation (Ctrl-C, SIGTERM): jobs in flight are cancelled on the server and their records go back to
``pending`` with the prompt id kept; the conductor saves every manifest and the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ai_worker.core.errors import ComfyUIError, WaggleVideoError
from ai_worker.model.backend import GenerationHooks, ProgressEvent, VideoGenerator, cancel_on, is_healthy
from ai_worker.model.capabilities import Backend, loaded_model_of, servers_of, slots_of
from ai_worker.model.manifest import AttemptRecord
from ai_worker.orchestration.attempt import AttemptOutcome, AttemptRunner, InFlight
from ai_worker.orchestration.error_policy import decide
from ai_worker.orchestration.events import Progress
from ai_worker.orchestration.gpu_manager import GPUManager
from ai_worker.orchestration.post_run import SceneWork, error_text
from ai_worker.orchestration.scheduler import Clock, Ended, Job, Scheduler, Server
from config.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Lane:
    server: Server
    generator: VideoGenerator
    runner: AttemptRunner


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
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


class ServerSlots:
    """The scheduler and every server slot of one backend (see the module docstring)."""

    def __init__(
        self, backend: Backend, scheduler: Scheduler, settings: Settings, gpu: GPUManager, *, clock: Clock,
    ) -> None:
        self.settings = settings
        self.gpu = gpu
        self.clock = clock
        self.scheduler = scheduler
        self.lanes = [
            _Lane(scheduler.add_server(g.name, slots=slots_of(g), model=loaded_model_of(g)), g,
                  AttemptRunner(g, settings))
            for g in servers_of(backend)
        ]
        self.cond = asyncio.Condition()
        self.works: dict[tuple[int, int], SceneWork] = {}

    def add(self, work: SceneWork) -> None:
        self.scheduler.add_job(work.job)
        self.works[(work.job.post, work.job.index)] = work

    def switches(self) -> dict[str, int]:
        """Checkpoint switches asked of each server in this run."""
        return {lane.server.name: lane.server.switches for lane in self.lanes if lane.server.switches}

    async def health_check(self) -> bool:
        """Every server's health check; a failing one is benched. True when at least one passed."""
        checks = await asyncio.gather(*(is_healthy(lane.generator) for lane in self.lanes))
        for lane, ok in zip(self.lanes, checks, strict=True):
            if not ok:
                self.scheduler.bench(lane.server, "health check failed")
        return any(checks)

    async def work(self) -> None:
        """Run every slot until no job is outstanding."""
        try:
            async with asyncio.TaskGroup() as group:
                for lane in self.lanes:
                    for _ in range(lane.server.slots):
                        group.create_task(self._slot(lane))
        except BaseExceptionGroup as group:
            raise first_error(group) from None

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
                self._settle()  # first: a spent re-check budget ends the queued jobs before another re-check
                if not self.scheduler.outstanding():
                    self.cond.notify_all()
                    return None
                if server in self.scheduler.due_checks():
                    server.checking = True
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
        post, job = work.post, work.job
        resume = work.pending if work.pending is not None and work.pending.server == lane.server.name else None
        work.pending = None
        if resume is not None and not lane.runner.can_reattach:
            # This backend cannot collect an earlier run's prompt: stop it so it does not hold the GPU.
            await cancel_on(lane.generator, resume.prompt_id)
            resume = None
        if resume is not None:
            self.scheduler.resumed_at(job, resume.rung)
        rung = self.scheduler.rung(job)
        plan = post.plan(work, rung, post.try_number(work, rung), resume)
        seed = plan.request.seed
        attempt = post.begin_attempt(work, plan, rung=rung, seed=seed, server=lane.server.name, resume=resume)
        flight = InFlight(prompt_id=attempt.prompt_id)

        def on_submitted(server: str, prompt_id: str) -> None:
            flight.prompt_id = prompt_id
            post.submitted(work, attempt, slot_server=lane.server.name, server=server, prompt_id=prompt_id)

        def on_progress(event: ProgressEvent) -> None:
            post.emit(Progress(work.index, post.total, event, post_id=post.post_id))

        hooks = GenerationHooks(on_progress=on_progress, on_submitted=on_submitted)
        try:
            outcome = await lane.runner.run(plan.request, hooks, flight, resume=resume is not None)
        except asyncio.CancelledError:
            post.cancelled(work, attempt, flight.elapsed_s)
            raise
        if outcome.result is not None:
            async with self.cond:
                self.scheduler.succeeded(job)
            post.apply(work, attempt, outcome)
            return
        await self._failed(lane, work, attempt, outcome, resumed=resume is not None)

    async def _failed(
        self, lane: _Lane, work: SceneWork, attempt: AttemptRecord, outcome: AttemptOutcome, *, resumed: bool
    ) -> None:
        exc = outcome.failure
        job = work.job
        decision = decide(exc, resumed=resumed, same_rung_retries=job.same_rung_retries)
        message = error_text(exc)
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
        work.post.apply(work, attempt, outcome, action=decision.action, ended=ended)
