"""The server pool: one long-running workflow that owns the one `Scheduler` of every post and every worker.

Posts hand it their scenes (`enqueue`); it grants a lease (`Grant`: this scene, this rung, this server) by
signalling the post's workflow, which runs the clip activity and signals the end back (`report`); the
lease is then free. A server takes `slots` clips at once (1: one clip on a GPU at a time, whatever the
number of workers and posts), and the scheduler's rules hold across posts and workers: breadth-first,
checkpoint affinity, blocking, benching with re-check (a health-check activity when the bench time is up,
on a workflow timer), re-attachment to a resumed prompt's server.

Deterministic: time is `workflow.now()`, all I/O is in activities; the history is renewed with
continue-as-new (the scheduler's state carried as a `PoolSnapshot`) before it grows large.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ai_worker.orchestration.error_policy import Decision, Move
    from ai_worker.orchestration.scheduler import Ended, Job, Server
    from ai_worker.service.messages import Grant, PoolReport, SceneEnded, ServerView, TicketBatch
    from ai_worker.service.pool_state import PoolSnapshot, PoolState

CHECK_ACTIVITY = "check_server"
AUDIT_ACTIVITY = "posts_gone"

CONTINUE_AS_NEW_EVENTS = 10_000
"""Well below Temporal's 51,200-event limit, and small enough to replay quickly on a new worker."""


def decision_of(report: PoolReport) -> Decision:
    return report.report.decision or Decision(Move.FAIL, "fail_fast")


@workflow.defn(name="WaggleVideoServers")
class ServerPoolWorkflow:
    @workflow.init
    def __init__(self, snapshot: PoolSnapshot) -> None:
        self.state = PoolState(snapshot, lambda: workflow.now().timestamp())
        self.changed = True
        self.checks: set[asyncio.Task[Any]] = set()
        self.next_audit: float | None = None

    # --- signals and queries -----------------------------------------------------------------------------

    @workflow.signal
    def enqueue(self, batch: TicketBatch) -> None:
        self.state.add_servers(batch.servers, batch.slots)
        self.state.add_tickets(batch.post_workflow, batch.tickets)
        self.changed = True

    @workflow.signal
    def report(self, message: PoolReport) -> None:
        job = self.state.find(message.post_workflow, message.report.index)
        if job is None or job.state != "running":
            return  # a duplicate or a withdrawn post's late report
        scheduler = self.state.scheduler
        if message.report.resumed_rung is not None:
            scheduler.resumed_at(job, message.report.resumed_rung)
        if message.report.ok:
            scheduler.succeeded(job)
            self.state.drop(job)
        else:
            ended = scheduler.failed(job, decision_of(message), message.report.message)
            if ended is not None:
                self._tell_ended(ended)
        self.changed = True

    @workflow.signal
    def withdraw(self, post_workflow: str) -> None:
        """A post was cancelled: its jobs leave the pool and its leases are free."""
        self.state.withdraw(post_workflow)
        self.changed = True

    @workflow.query
    def servers(self) -> list[ServerView]:
        return [ServerView(s.name, s.running, self.state.scheduler.benched(s), s.last_error)
                for s in self.state.scheduler.servers]

    # --- the loop ----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, snapshot: PoolSnapshot) -> None:
        del snapshot  # read by __init__
        while True:
            with contextlib.suppress(TimeoutError):  # a bench or an audit is due
                await workflow.wait_condition(lambda: self.changed, timeout=self._next_due())
            self.changed = False
            self._start_checks()
            for ended in self.state.scheduler.settle():
                self._tell_ended(ended)
            await self._grant_all()
            self._audit_leases()
            if workflow.info().get_current_history_length() > CONTINUE_AS_NEW_EVENTS and not self.checks:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.state.snapshot())

    def _next_due(self) -> timedelta | None:
        now = workflow.now().timestamp()
        due = [s.benched_until for s in self.state.scheduler.servers
               if s.benched_until is not None and not s.checking]
        if self.next_audit is not None:
            due.append(self.next_audit)
        return timedelta(seconds=max(0.0, min(due) - now) + 0.001) if due else None

    def _start_checks(self) -> None:
        if not self.state.scheduler.outstanding():
            return  # nobody waits for a benched server; check it when work comes
        for server in self.state.scheduler.due_checks():
            server.checking = True
            task = asyncio.create_task(self._check(server))
            self.checks.add(task)
            task.add_done_callback(self.checks.discard)

    async def _check(self, server: Server) -> None:
        try:
            healthy = await workflow.execute_activity(
                CHECK_ACTIVITY, server.name, result_type=bool, start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3))
        except Exception:  # the activity itself failed (no worker could run it): unhealthy this time
            healthy = False
        self.state.scheduler.checked(server, healthy)
        self.changed = True

    def _audit_leases(self) -> None:
        """Every `audit_seconds` while leases are held, ask whether their posts still run: a post terminated
        from outside (not cancelled: it cannot say so) would otherwise hold its server for ever."""
        now = workflow.now().timestamp()
        holders = sorted({owner for job in self.state.scheduler.jobs if job.state == "running"
                          and (owner := self.state.owner.get(id(job))) is not None})
        if not holders:
            self.next_audit = None
            return
        if self.next_audit is None:
            self.next_audit = now + self.state.config.audit_seconds
        elif now >= self.next_audit:
            self.next_audit = now + self.state.config.audit_seconds
            task = asyncio.create_task(self._audit(holders))
            self.checks.add(task)
            task.add_done_callback(self.checks.discard)

    async def _audit(self, holders: list[str]) -> None:
        try:
            gone: list[str] = await workflow.execute_activity(
                AUDIT_ACTIVITY, holders, result_type=list[str], start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3))
        except Exception:  # no answer: ask again next time rather than take a lease from a live post
            return
        for post_workflow in gone:
            workflow.logger.warning("post workflow %s ended without giving its leases back; freed", post_workflow)
            self.state.withdraw(post_workflow)
        self.changed = True

    async def _grant_all(self) -> None:
        scheduler = self.state.scheduler
        granted: list[tuple[Job, Server]] = []
        for server in scheduler.servers:
            while (job := scheduler.pick(server)) is not None:
                scheduler.start(job, server)
                granted.append((job, server))
        for job, server in granted:
            owner = self.state.owner.get(id(job))
            grant = Grant(job.index, server.name, job.rung_pos, job.same_rung_retries)
            if owner is None or not await self._signal(owner, "grant", grant):
                self.state.drop(job)
                self.changed = True

    def _tell_ended(self, ended: Ended) -> None:
        owner = self.state.owner.get(id(ended.job))
        message = SceneEnded(ended.job.index, ended.reason, ended.kind, ended.job.rung_pos)
        self.state.drop(ended.job)
        if owner is not None:
            task = asyncio.create_task(self._signal(owner, "scene_ended", message))
            self.checks.add(task)
            task.add_done_callback(self.checks.discard)

    async def _signal(self, post_workflow: str, name: str, payload: object) -> bool:
        """Tell a post; False when it is gone (finished, cancelled, terminated)."""
        try:
            await workflow.get_external_workflow_handle(post_workflow).signal(name, payload)
        except Exception:
            workflow.logger.warning("post workflow %s is gone; its job leaves the pool", post_workflow)
            return False
        return True
