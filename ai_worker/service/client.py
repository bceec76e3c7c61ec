"""The service from the outside: connect to Temporal, submit posts, ask how they stand, cancel them.

A post's workflow id is derived from its post id and its content (`post_workflow_id`), so submitting the same
post again attaches to its workflow, running or finished, and makes no second set of clips; a changed post
is a new workflow (its unchanged scenes keep their clips, as in `run`). A failed or cancelled workflow may
be started again: it resumes from the manifest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from ai_worker.core.errors import WaggleVideoError
from ai_worker.model.paths import safe_name
from ai_worker.model.post_file import Post
from ai_worker.service.messages import PostStatus, PostSubmission, PostSummary
from ai_worker.service.post_workflow import PostWorkflow
from config.settings import Settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
WORKFLOW_PREFIX = "post-"


class ServiceUnavailableError(WaggleVideoError):
    """The Temporal server cannot be reached."""


def post_workflow_id(post: Post) -> str:
    """``post-<post id>-<hash of the post file's content>`` (formatting and key order do not count)."""
    raw = json.loads(post.source_path.read_text(encoding="utf-8"))
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"{WORKFLOW_PREFIX}{safe_name(post.post_id)}-{digest[:16]}"


async def connect(settings: Settings) -> Client:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    except (TimeoutError, RuntimeError, OSError) as exc:
        raise ServiceUnavailableError(
            f"TEMPORAL_ADDRESS {settings.temporal_address}: no Temporal server answered ({exc or type(exc).__name__})"
        ) from exc


@dataclass(frozen=True)
class Submitted:
    post_id: str
    workflow_id: str
    attached: bool
    """The workflow existed already (running or finished): nothing new was started."""
    handle: WorkflowHandle[PostWorkflow, PostSummary]


async def submit_post(client: Client, settings: Settings, post: Post, out_dir: Path) -> Submitted:
    workflow_id = post_workflow_id(post)
    submission = PostSubmission(post_file=str(post.source_path.resolve()), out_dir=str(out_dir.resolve()))
    try:
        handle = await client.start_workflow(
            PostWorkflow.run, submission, id=workflow_id, task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        attached = False
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle_for(PostWorkflow.run, workflow_id)
        attached = True
    return Submitted(post.post_id, workflow_id, attached, handle)


@dataclass(frozen=True)
class PostState:
    workflow_id: str
    status: str
    progress: PostStatus | None
    summary: PostSummary | None


async def post_states(client: Client, post_id: str | None = None) -> list[PostState]:
    """Every post workflow (or those of `post_id`): running ones with their progress, finished ones with
    their summary."""
    prefix = f"{WORKFLOW_PREFIX}{safe_name(post_id)}-" if post_id else WORKFLOW_PREFIX
    states: list[PostState] = []
    async for execution in client.list_workflows("WorkflowType = 'WaggleVideoPost'"):
        if not execution.id.startswith(prefix):
            continue
        handle = client.get_workflow_handle_for(PostWorkflow.run, execution.id, run_id=execution.run_id)
        status = execution.status.name.lower() if execution.status is not None else "unknown"
        progress = summary = None
        if execution.status == WorkflowExecutionStatus.RUNNING:
            progress = await handle.query(PostWorkflow.status)
        elif execution.status == WorkflowExecutionStatus.COMPLETED:
            summary = await handle.result()
        states.append(PostState(execution.id, status, progress, summary))
    return states


async def cancel_post(client: Client, post_id: str) -> list[str]:
    """Cancel every running workflow of `post_id` and wait until each has stopped (its ComfyUI jobs are
    interrupted by then); returns their ids."""
    cancelled: list[str] = []
    for state in await post_states(client, post_id):
        if state.status != "running":
            continue
        handle = client.get_workflow_handle_for(PostWorkflow.run, state.workflow_id)
        await handle.cancel()
        cancelled.append(state.workflow_id)
    for workflow_id in cancelled:
        handle = client.get_workflow_handle_for(PostWorkflow.run, workflow_id)
        try:
            await handle.result()
        except Exception as exc:  # WorkflowFailureError(CancelledError): what a cancel ends with
            logger.info("%s ended: %r", workflow_id, exc)
    return cancelled
