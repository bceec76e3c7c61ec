"""A worker: runs the post and pool workflows and every activity, against one Temporal server. Any number of
workers on any machines share the work; they must see the same output root and the same settings."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ai_worker.service.activities import ServiceActivities
from ai_worker.service.pool_workflow import ServerPoolWorkflow
from ai_worker.service.post_workflow import PostWorkflow
from config.settings import Settings

logger = logging.getLogger(__name__)

PASSED_THROUGH = ("rich",)
"""Modules the workflow sandbox must not re-import: `workflow.logger` reaches the process's log handlers, and
the CLI's `RichHandler` imports parts of rich lazily on its first record; re-imported inside the sandbox,
that import fails and so would every workflow task that logs (the pool would stop for ever)."""
MAX_ACTIVITIES = 32
"""Clip activities mostly wait on a server; the pool's leases, not this, bound the GPU work."""


def build_worker(client: Client, settings: Settings) -> Worker:
    activities = ServiceActivities(settings, client)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[PostWorkflow, ServerPoolWorkflow],
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)),
        activities=activities.all(),
        max_concurrent_activities=MAX_ACTIVITIES,
        # A stopped worker lets its clips finish (a cancelled clip activity would interrupt its ComfyUI job);
        # killed, its clips go to other workers after the heartbeat timeout, which re-attach to the same jobs.
        graceful_shutdown_timeout=timedelta(seconds=settings.video_gen_timeout),
    )
