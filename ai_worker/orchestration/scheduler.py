"""The one scheduler: which scene's attempt runs next, on which server. Pure: no I/O, no asyncio; time
comes from an injected clock, so every rule here is tested without sleeping.

Rules:

* Breadth-first: queued jobs are taken by (rung, post, story order), so every scene's first attempt runs
  before any second one, across every post of the batch.
* Distilled last (the checkpoint gate): a job on a later checkpoint may start on a server only when no job
  on an earlier checkpoint is queued anywhere and none is in flight on that server. On one server that is
  "at most one checkpoint switch per batch". With several servers an idle server does not wait for
  full-model work running elsewhere; a later full-model retry prefers a server still holding that model.
* Slots: a server takes ``slots`` jobs at once (a ComfyUI server: one running, one queued behind it).
* Affinity: a job goes to an idle server before it queues behind a busy one, and to a server already
  holding its checkpoint before it makes another switch.
* Blocking: a job kind (mode, checkpoint, passes) that failed for good on a server is not sent there again; a job
  whose kind is blocked on every live server moves on to a rung of another kind, or fails.
* Benching: a server that failed ``max_failures`` times in a row, or never got the job, is benched for
  ``bench_seconds`` and health-checked again after that (`due_checks`); it is not dropped for good. While
  every server is benched nothing can run and queued jobs wait for the re-checks: a blip costs no scene.
  Only when every server has failed ``wait_rechecks`` re-checks in a row (about ``wait_rechecks`` times
  ``bench_seconds``) do the queued jobs end as "unavailable", without using up a rung (the next run starts
  them at the rung that never ran). The budget is counted in re-checks, not seconds, so no clock reading
  decides an outcome: time only decides when the next re-check runs.
* Re-attachment: a job resuming an earlier run's prompt goes to the server that has it, first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ai_worker.model.backend import GenerationMode, ModelVariant
from ai_worker.model.failure import FailureKind
from ai_worker.orchestration.error_policy import Decision, Move
from ai_worker.orchestration.ladder import JobKind, Rung

Clock = Callable[[], float]
JobState = Literal["queued", "running", "done", "failed"]


@dataclass(eq=False)
class Job:
    """One scene on its way down the ladder."""

    post: int
    index: int
    mode: GenerationMode
    rung_pos: int = 0
    same_rung_retries: int = 0
    state: JobState = "queued"
    resume_server: str | None = None
    """The server holding an earlier run's prompt for this job (re-attach there first)."""
    server: Server | None = None
    """Where the job is in flight (while running)."""


@dataclass(eq=False)
class Server:
    name: str
    slots: int = 1
    model: ModelVariant | None = None
    """The checkpoint the server will hold once the jobs given to it have run."""
    switches: int = 0
    """Checkpoint changes this batch asked of the server (the first load is not one)."""
    failures: int = 0
    """Server faults in a row."""
    benched_until: float | None = None
    checking: bool = False
    failed_rechecks: int = 0
    """Re-checks failed in a row since it was benched."""
    blocked: dict[JobKind, str] = field(default_factory=dict)
    last_error: str | None = None
    running: int = 0


@dataclass(frozen=True)
class Ended:
    """A job that failed, and why."""

    job: Job
    reason: str
    kind: FailureKind


class Scheduler:
    def __init__(
        self, ladder: Sequence[Rung], *, bench_seconds: float, max_failures: int, clock: Clock,
        wait_rechecks: int = 3,
    ) -> None:
        if not ladder:
            raise ValueError("the ladder has no rungs")
        self.ladder = tuple(ladder)
        self.bench_seconds = bench_seconds
        self.max_failures = max(1, max_failures)
        self.wait_rechecks = max(0, wait_rechecks)
        self.clock = clock
        self.servers: list[Server] = []
        self.jobs: list[Job] = []
        order: list[ModelVariant] = []
        for rung in self.ladder:
            if rung.model not in order:
                order.append(rung.model)
        self._rank = {model: i for i, model in enumerate(order)}

    # --- setup -------------------------------------------------------------------------------------------

    def add_server(self, name: str, *, slots: int = 1, model: ModelVariant | None = None) -> Server:
        server = Server(name=name, slots=max(1, slots), model=model)
        self.servers.append(server)
        return server

    def add_job(self, job: Job) -> Job:
        job.rung_pos = min(max(job.rung_pos, 0), len(self.ladder) - 1)
        self.jobs.append(job)
        return job

    # --- facts -------------------------------------------------------------------------------------------

    def rung(self, job: Job) -> Rung:
        return self.ladder[job.rung_pos]

    def kind(self, job: Job) -> JobKind:
        rung = self.rung(job)
        return (job.mode, rung.model, rung.passes)

    def benched(self, server: Server) -> bool:
        return server.benched_until is not None

    def live(self) -> list[Server]:
        return [s for s in self.servers if not self.benched(s)]

    def outstanding(self) -> bool:
        return any(job.state in ("queued", "running") for job in self.jobs)

    # --- benching ----------------------------------------------------------------------------------------

    def bench(self, server: Server, reason: str) -> None:
        server.benched_until = self.clock() + self.bench_seconds
        server.last_error = reason
        server.failed_rechecks = 0

    def due_checks(self) -> list[Server]:
        """Benched servers whose time is up and that nobody is checking yet."""
        now = self.clock()
        return [s for s in self.servers if s.benched_until is not None and not s.checking
                and now >= s.benched_until]

    def checked(self, server: Server, healthy: bool) -> None:
        server.checking = False
        if healthy:
            server.benched_until = None
            server.failures = 0
            server.failed_rechecks = 0
        else:
            server.failed_rechecks += 1
            server.benched_until = self.clock() + self.bench_seconds

    def waiting_for_recheck(self) -> bool:
        """Every server is benched, but a re-check under way or still in the budget may bring one back."""
        return any(s.checking or s.failed_rechecks < self.wait_rechecks for s in self.servers)

    # --- choosing ----------------------------------------------------------------------------------------

    def settle(self) -> list[Ended]:
        """End or move on queued jobs that no live server can run."""
        ended: list[Ended] = []
        live = self.live()
        for job in self.jobs:
            if job.state != "queued":
                continue
            if not live:
                if self.waiting_for_recheck():
                    continue
                last = "; ".join(f"{s.name}: {s.last_error}" for s in self.servers if s.last_error)
                ended.append(self._end(job, f"no video server left ({last or 'none healthy'})", "unavailable"))
                continue
            if job.resume_server is not None and not any(s.name == job.resume_server for s in live):
                job.resume_server = None
            message = self._blocked_everywhere(job, live)
            while message is not None and job.rung_pos + 1 < len(self.ladder):
                job.rung_pos += 1
                job.same_rung_retries = 0
                message = self._blocked_everywhere(job, live)
            if message is not None:
                ended.append(self._end(job, message, "fatal"))
        return ended

    def _blocked_everywhere(self, job: Job, live: list[Server]) -> str | None:
        kind = self.kind(job)
        messages = [s.blocked.get(kind) for s in live]
        if messages and all(m is not None for m in messages):
            return messages[0]
        return None

    def pick(self, server: Server) -> Job | None:
        """The next job for one free slot of `server`, or None (see the module docstring)."""
        if self.benched(server) or server.running >= server.slots:
            return None
        queued = [j for j in self.jobs if j.state == "queued"]
        if not queued:
            return None
        waiting = min(self._rank[self.rung(j).model] for j in queued)
        own = min((self._rank[self.rung(j).model] for j in self.jobs if j.state == "running" and j.server is server),
                  default=len(self._rank))
        gate = min(waiting, own)
        for job in sorted(queued, key=lambda j: (j.resume_server is None, j.rung_pos, j.post, j.index)):
            if job.resume_server is not None:
                if job.resume_server == server.name:
                    return job
                continue
            if self._rank[self.rung(job).model] > gate:
                continue
            if self.kind(job) in server.blocked:
                continue
            if self._better_elsewhere(server, job):
                continue
            return job
        return None

    def _better_elsewhere(self, server: Server, job: Job) -> bool:
        """Another live server that can run `job` should have it: an idle one when `server` is busy, or one
        already holding the job's checkpoint with a free slot when `server` would have to switch."""
        model = self.rung(job).model
        kind = self.kind(job)
        busy = server.running > 0
        switches = server.model is not None and server.model != model
        if not busy and not switches:
            return False
        for other in self.live():
            if other is server or kind in other.blocked:
                continue
            if busy and other.running == 0 and other.model in (None, model):
                return True
            if switches and other.model == model and other.running < other.slots:
                return True
        return False

    # --- state changes -----------------------------------------------------------------------------------

    def start(self, job: Job, server: Server) -> None:
        job.state = "running"
        job.server = server
        server.running += 1
        model = self.rung(job).model
        if server.model is not None and server.model != model:
            server.switches += 1
        server.model = model

    def resumed_at(self, job: Job, rung_number: int) -> None:
        """A re-attached prompt was made at `rung_number` (not necessarily the job's rung)."""
        for pos, rung in enumerate(self.ladder):
            if rung.number == rung_number:
                job.rung_pos = pos
        job.resume_server = None

    def succeeded(self, job: Job) -> None:
        server = self._release(job)
        if server is not None:
            server.failures = 0
        job.state = "done"

    def interrupted(self, job: Job) -> None:
        """Cancelled (Ctrl-C): back to the queue as it was."""
        self._release(job)
        job.state = "queued"

    def failed(self, job: Job, decision: Decision, message: str) -> Ended | None:
        """Apply `decision` to `job` (and to the server it ran on); returns the job's end when it fails."""
        server = self._release(job)
        kind = self.kind(job)
        if server is not None:
            server.last_error = message
            if decision.block is not None:
                targets = self.servers if decision.block == "all" else [server]
                for target in targets:
                    target.blocked[kind] = message
            if decision.server_fault:
                server.failures += 1
                if server.failures >= self.max_failures or decision.bench_now:
                    self.bench(server, message)
            else:
                server.failures = 0
        if decision.move is Move.SAME_RUNG:
            if decision.counts:
                job.same_rung_retries += 1
            job.state = "queued"
            return None
        if decision.move is Move.NEXT_RUNG:
            if job.rung_pos + 1 >= len(self.ladder):
                return self._end(job, f"all {len(self.ladder)} attempts failed; last: {message}", "exhausted")
            job.rung_pos += 1
            job.same_rung_retries = 0
            job.state = "queued"
            return None
        return self._end(job, message, decision.failure_kind)

    def _release(self, job: Job) -> Server | None:
        server = job.server
        if server is not None:
            server.running -= 1
        job.server = None
        return server

    def _end(self, job: Job, reason: str, kind: FailureKind) -> Ended:
        job.state = "failed"
        return Ended(job, reason, kind)
