"""The pool's scheduler as data: built from a `PoolConfig`, saved to a `PoolSnapshot` and restored from one,
so the pool workflow can continue as new (a fresh history) without losing a lease, a bench or a rung.

Pure: the orchestration's `Scheduler` with the workflow's clock; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ai_worker.model.backend import ModelVariant
from ai_worker.model.failure import FailureKind
from ai_worker.model.recipes import RECIPES, recipe_rung
from ai_worker.orchestration.ladder import Rung
from ai_worker.orchestration.scheduler import Clock, Job, Scheduler, Server
from ai_worker.service.messages import PoolConfig, RungView, Ticket

UNCHECKED = "not checked yet"


@dataclass(frozen=True)
class ServerSnapshot:
    name: str
    slots: int
    model: str | None
    switches: int
    failures: int
    benched_until: float | None
    failed_rechecks: int
    blocked: list[list[str | int]]
    """[mode, model, passes, message] per blocked job kind."""
    last_error: str | None


@dataclass(frozen=True)
class JobSnapshot:
    post_workflow: str
    index: int
    mode: str
    rung_pos: int
    same_rung_retries: int
    state: str
    resume_server: str | None
    server: str | None


@dataclass(frozen=True)
class PoolSnapshot:
    config: PoolConfig
    posts: list[str] = field(default_factory=list)
    servers: list[ServerSnapshot] = field(default_factory=list)
    jobs: list[JobSnapshot] = field(default_factory=list)


def rung_of(view: RungView) -> Rung:
    recipe = (recipe_rung(view.recipe, view.number, steps=view.steps, cfg=view.cfg)
              if view.recipe in RECIPES else None)
    return Rung(view.number, view.label, view.simplified_prompt, view.width, view.height, view.num_frames,
                view.steps, view.cfg, _model(view.model) or "full", recipe)


def view_of(rung: Rung) -> RungView:
    return RungView(rung.number, rung.label, rung.simplified_prompt, rung.width, rung.height, rung.num_frames,
                    rung.steps, rung.cfg, rung.model, rung.recipe.recipe if rung.recipe else None)


class PoolState:
    """Every post's jobs on one `Scheduler`; each job knows its post workflow."""

    def __init__(self, snapshot: PoolSnapshot, clock: Clock) -> None:
        config = snapshot.config
        self.config = config
        self.scheduler = Scheduler([rung_of(r) for r in config.ladder], bench_seconds=config.bench_seconds,
                                   max_failures=config.max_failures, clock=clock)
        self.posts: list[str] = list(snapshot.posts)
        self.owner: dict[int, str] = {}
        """id(job) -> the post workflow that owns it."""
        for saved in snapshot.servers:
            server = self.scheduler.add_server(saved.name, slots=saved.slots, model=_model(saved.model))
            server.switches, server.failures = saved.switches, saved.failures
            server.benched_until, server.failed_rechecks = saved.benched_until, saved.failed_rechecks
            server.blocked = {("i2v" if b[0] == "i2v" else "t2v", _model(str(b[1])) or "full", int(b[2])): str(b[3])
                              for b in saved.blocked}
            server.last_error = saved.last_error
        by_name = {s.name: s for s in self.scheduler.servers}
        for saved_job in snapshot.jobs:
            job = self._add(saved_job.post_workflow, Ticket(saved_job.index, saved_job.mode, saved_job.rung_pos,
                                                            saved_job.resume_server))
            job.same_rung_retries = saved_job.same_rung_retries
            if saved_job.state == "running" and saved_job.server in by_name:
                server = by_name[saved_job.server]
                job.state, job.server = "running", server
                server.running += 1

    # --- posts and servers -------------------------------------------------------------------------------

    def add_servers(self, names: list[str], slots: int) -> None:
        """Servers not seen yet join benched with their time up: a health check runs before any job goes
        there (the scheduler's re-check)."""
        known = {s.name for s in self.scheduler.servers}
        for name in names:
            if name not in known:
                server = self.scheduler.add_server(name, slots=slots)
                server.benched_until = self.scheduler.clock()
                server.last_error = UNCHECKED

    def add_tickets(self, post_workflow: str, tickets: list[Ticket]) -> None:
        for ticket in tickets:
            if self.find(post_workflow, ticket.index) is None:
                self._add(post_workflow, ticket)

    def _add(self, post_workflow: str, ticket: Ticket) -> Job:
        if post_workflow not in self.posts:
            self.posts.append(post_workflow)
        job = Job(post=self.posts.index(post_workflow), index=ticket.index,
                  mode="i2v" if ticket.mode == "i2v" else "t2v", rung_pos=ticket.rung_pos,
                  resume_server=ticket.resume_server)
        self.scheduler.add_job(job)
        self.owner[id(job)] = post_workflow
        return job

    def find(self, post_workflow: str, index: int) -> Job | None:
        for job in self.scheduler.jobs:
            if job.index == index and self.owner.get(id(job)) == post_workflow:
                return job
        return None

    def drop(self, job: Job) -> None:
        """A job that ended (done, failed, withdrawn) leaves the pool; its slot is freed if it held one. Twice is
        once: a withdrawal may come while the pool awaits the grant it sent that job."""
        if job not in self.scheduler.jobs:
            return
        if job.state == "running":
            self.scheduler.interrupted(job)
        self.scheduler.jobs.remove(job)
        self.owner.pop(id(job), None)
        self._forget_idle_posts()

    def withdraw(self, post_workflow: str) -> None:
        for job in [j for j in self.scheduler.jobs if self.owner.get(id(j)) == post_workflow]:
            self.drop(job)

    def _forget_idle_posts(self) -> None:
        # Post numbers order the breadth-first queue; a post with no job left needs no number.
        live = set(self.owner.values())
        if not live and self.posts:
            self.posts.clear()

    def server(self, name: str) -> Server | None:
        return next((s for s in self.scheduler.servers if s.name == name), None)

    # --- saving ------------------------------------------------------------------------------------------

    def snapshot(self) -> PoolSnapshot:
        servers = [
            ServerSnapshot(s.name, s.slots, s.model, s.switches, s.failures, s.benched_until, s.failed_rechecks,
                           [[mode, model, passes, message] for (mode, model, passes), message in s.blocked.items()],
                           s.last_error)
            for s in self.scheduler.servers
        ]
        jobs = [
            JobSnapshot(self.owner[id(j)], j.index, j.mode, j.rung_pos, j.same_rung_retries, j.state,
                        j.resume_server, j.server.name if j.server is not None else None)
            for j in self.scheduler.jobs if j.state in ("queued", "running")
        ]
        return PoolSnapshot(self.config, list(self.posts), servers, jobs)


def _model(name: str | None) -> ModelVariant | None:
    if name == "full":
        return "full"
    if name == "distilled":
        return "distilled"
    return None


def failure_kind(text: str) -> FailureKind:
    """A `FailureKind` from its name (as it crossed a boundary); anything else is "fatal"."""
    for kind in ("external", "exhausted", "unavailable"):
        if text == kind:
            return kind
    return "fatal"
