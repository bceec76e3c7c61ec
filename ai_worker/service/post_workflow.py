"""One post through the service: Phase 4.5 and 6 (an activity), then every scene's clip on leases granted by
the server pool (one activity per attempt), then the finish (merge, final scenes, report: an activity).

The workflow makes no decision of its own: the pool's scheduler picks rung and server, the error policy
(in the clip activity) judges a failure, and `PostRun` writes every record, exactly as in `run`. It keeps
only what `status` shows. Cancelled (`cancel`), it cancels its clip activities (their ComfyUI jobs are
interrupted), gives its leases back and leaves the manifest ready for a resume.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from ai_worker.orchestration.error_policy import Decision, Move
    from ai_worker.service.messages import (
        AttemptOrder,
        AttemptReport,
        FailedScene,
        Grant,
        PoolReport,
        PostRef,
        PostStatus,
        PostSubmission,
        PostSummary,
        PreparedPost,
        RunningClip,
        SceneEnded,
        TicketBatch,
        pool_workflow_id,
    )
    from ai_worker.service.pool_state import PoolSnapshot
    from ai_worker.service.pool_workflow import ServerPoolWorkflow

SHORT = timedelta(minutes=10)
"""Phase 4.5/6 and the finish: image downloads, the LLM, FFmpeg for the report's frames."""
NOT_RETRIED = ["InputError", "PostFileError", "OutputError", "RunLockedError", "GeneratorUnavailableError"]
"""Errors no retry can fix (by type name, as Temporal matches them): bad input, an unwritable or busy folder,
`--backend comfyui` with no healthy server."""


@workflow.defn(name="WaggleVideoPost")
class PostWorkflow:
    @workflow.init
    def __init__(self, post: PostSubmission) -> None:
        self.post = post
        self.prepared: PreparedPost | None = None
        self.phase = "preparing"
        self.grants: list[Grant] = []
        self.ends: list[SceneEnded] = []
        self.running: dict[int, RunningClip] = {}
        self.open: set[int] = set()
        self.done = 0
        self.failed = 0

    @workflow.signal
    def grant(self, grant: Grant) -> None:
        self.grants.append(grant)

    @workflow.signal
    def scene_ended(self, ended: SceneEnded) -> None:
        self.ends.append(ended)

    @workflow.query
    def status(self) -> PostStatus:
        prepared = self.prepared
        return PostStatus(post_id=prepared.post_id if prepared else "", phase=self.phase,
                          total=prepared.total if prepared else 0, done=self.done, failed=self.failed,
                          running=sorted(self.running.values(), key=lambda clip: clip.index))

    def _pool(self) -> workflow.ExternalWorkflowHandle[ServerPoolWorkflow]:
        return workflow.get_external_workflow_handle_for(ServerPoolWorkflow.run,
                                                         pool_workflow_id(workflow.info().task_queue))

    @workflow.run
    async def run(self, post: PostSubmission) -> PostSummary:
        prepared: PreparedPost = await workflow.execute_activity(
            "prepare_post", post, result_type=PreparedPost, start_to_close_timeout=SHORT,
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=NOT_RETRIED))
        self.prepared = prepared
        self.done = prepared.already_done
        self.open = {ticket.index for ticket in prepared.tickets}
        if self.open:
            self.phase = "clips"
            try:
                await self._clips(post, prepared)
            except asyncio.CancelledError:
                self.phase = "cancelled"
                await self._give_back(post, prepared)
                raise
        self.phase = "finishing"
        started = workflow.info().workflow_start_time.timestamp()
        summary: PostSummary = await workflow.execute_activity(
            "finish_post", PostRef(post, prepared.post_id, started), result_type=PostSummary,
            start_to_close_timeout=SHORT,
            retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=NOT_RETRIED))
        return summary

    # --- clips -------------------------------------------------------------------------------------------

    async def _clips(self, post: PostSubmission, prepared: PreparedPost) -> None:
        await workflow.execute_activity(
            "ensure_pool", PoolSnapshot(prepared.pool), start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=5))
        pool = self._pool()
        me = workflow.info().workflow_id
        await pool.signal(ServerPoolWorkflow.enqueue,
                          TicketBatch(me, prepared.servers, prepared.slots, prepared.tickets))
        # A dict, not a set: tasks are cancelled in the order they started, the same on every replay.
        self.tasks: dict[asyncio.Task[None], None] = {}
        try:
            while self.open:
                await workflow.wait_condition(lambda: bool(self.grants or self.ends or not self.open))
                while self.grants:
                    grant = self.grants.pop(0)
                    task = asyncio.create_task(self._attempt(post, prepared, grant))
                    self.tasks[task] = None
                    task.add_done_callback(lambda done: self.tasks.pop(done, None))
                while self.ends:
                    await self._scene_failed(post, prepared, self.ends.pop(0))
        finally:
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await workflow.wait(list(self.tasks))

    async def _attempt(self, post: PostSubmission, prepared: PreparedPost, grant: Grant) -> None:
        rung = prepared.pool.ladder[grant.rung_pos].number
        self.running[grant.index] = RunningClip(grant.index, rung, grant.server)
        order = AttemptOrder(post, prepared.post_id, grant, prepared.backend)
        try:
            report: AttemptReport = await workflow.execute_activity(
                "run_attempt", order, result_type=AttemptReport,
                start_to_close_timeout=timedelta(seconds=prepared.attempt_seconds),
                heartbeat_timeout=timedelta(seconds=prepared.heartbeat_seconds),
                retry_policy=RetryPolicy(maximum_attempts=prepared.attempt_retries,
                                         non_retryable_error_types=NOT_RETRIED),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        except ActivityError as exc:
            # Retries used up (workers lost again and again, or a bug): the scene fails, as a bug does in `run`.
            cause = exc.cause if exc.cause is not None else exc
            report = AttemptReport(grant.index, False, f"the clip activity failed: {cause}",
                                   Decision(Move.FAIL, "fail_fast"))
        finally:
            self.running.pop(grant.index, None)
        await self._pool().signal(ServerPoolWorkflow.report, PoolReport(workflow.info().workflow_id, report))
        if report.ok:
            self.done += 1
            self.open.discard(grant.index)

    async def _scene_failed(self, post: PostSubmission, prepared: PreparedPost, ended: SceneEnded) -> None:
        await workflow.execute_activity(
            "scene_failed", FailedScene(post, prepared.post_id, ended), start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=NOT_RETRIED))
        self.failed += 1
        self.open.discard(ended.index)

    async def _give_back(self, post: PostSubmission, prepared: PreparedPost) -> None:
        """After a cancel: leases back to the pool, the manifest's scenes back to pending (prompt ids kept)."""
        pool = self._pool()
        await pool.signal(ServerPoolWorkflow.withdraw, workflow.info().workflow_id)
        await workflow.execute_activity(
            "post_interrupted", PostRef(post, prepared.post_id),
            start_to_close_timeout=timedelta(minutes=1), retry_policy=RetryPolicy(maximum_attempts=3))
