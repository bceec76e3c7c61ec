"""The service's activities: all its I/O. Each rebuilds what it needs from the post file and its manifest
(`post_books`), so any worker can run any of them.

* `prepare_post`: Phase 4.5 and 6 and the manifest's reconciliation, as `run` does them (same functions).
* `run_attempt`: one clip attempt (`clip_attempt`).
* `scene_failed`, `post_interrupted`, `finish_post`: a scene given up, a cancelled post, the finish (merge,
  final scenes, summary, report.html).
* `check_server`: a benched server's re-check; `ensure_pool`: start the pool workflow if it is not running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.core.run_lock import post_lock
from ai_worker.model.backend import VideoGenerator, is_healthy
from ai_worker.model.capabilities import servers_of, slots_of
from ai_worker.model.paths import post_dir
from ai_worker.model.post_file import load_post
from ai_worker.model.styles import VideoStyles, load_video_styles
from ai_worker.orchestration.attempt import AttemptRunner
from ai_worker.pipeline.backend_choice import make_local_backend, select_backend
from ai_worker.pipeline.content_processor import phase_4_5_assign_modes, phase_6_prompts, record_run_facts
from ai_worker.preview.report import record_run_summary, write_report
from ai_worker.prompts.engine import VideoPromptEngine
from ai_worker.service.clip_attempt import run_clip_attempt
from ai_worker.service.messages import (
    AttemptOrder,
    AttemptReport,
    FailedScene,
    PoolConfig,
    PostRef,
    PostSubmission,
    PostSummary,
    PreparedPost,
    Ticket,
    pool_workflow_id,
)
from ai_worker.service.pool_state import PoolSnapshot, failure_kind, view_of
from ai_worker.service.post_books import PostBooks, open_books
from config.settings import Settings

logger = logging.getLogger(__name__)

LOCAL = "local"
ATTEMPT_MARGIN_S = 120.0
"""Beyond the attempt runner's own limit: the start of the activity (the post's books) and its records."""


class ServiceActivities:
    """The activities of one worker process, with its settings and its Temporal client."""

    def __init__(self, settings: Settings, client: Client) -> None:
        self.settings = settings
        self.client = client
        self._styles: VideoStyles | None = None

    def styles(self) -> VideoStyles:
        if self._styles is None:
            self._styles = load_video_styles(self.settings.video_styles_path)
        return self._styles

    def settings_for(self, post: PostSubmission) -> Settings:
        update: dict[str, object] = {"video_gen_enabled": True}
        if post.backend:
            update["video_backend"] = post.backend
        return self.settings.model_copy(update=update)

    def generator(self, settings: Settings, backend: str, server: str, out_dir: Path) -> VideoGenerator:
        if backend == LOCAL:
            return make_local_backend(settings, self.styles())
        return ComfyUIClient(server, out_dir / "tmp" / "videos", settings=settings)

    def all(self) -> list[Callable[..., Any]]:
        return [self.prepare_post, self.run_attempt, self.scene_failed, self.post_interrupted, self.finish_post,
                self.check_server, self.ensure_pool, self.posts_gone]

    # --- a post ------------------------------------------------------------------------------------------

    @activity.defn(name="prepare_post")
    async def prepare_post(self, post: PostSubmission) -> PreparedPost:
        settings = self.settings_for(post)
        loaded, errors = load_post(Path(post.post_file))
        out = Path(post.out_dir)
        folder = post_dir(out, loaded.post_id)
        engine = VideoPromptEngine(settings, self.styles())
        backend = await select_backend(settings, self.styles(), out / "tmp" / "videos")
        try:
            with post_lock(folder):  # a `run` of the same post stops this (and this stops it)
                books = open_books(settings, Path(post.post_file), out, backend.generator, engine, owned=None,
                                   retry_failed=post.retry_failed, with_manifest=False, post=loaded)
                await phase_4_5_assign_modes(loaded, settings=settings, out_dir=out)
                await phase_6_prompts(loaded, engine=engine, settings=settings, store=books.store,
                                      refresh=post.refresh_prompts)
                record_run_facts(books.store, loaded, backend, [str(e) for e in errors])
                works = await books.run.prepare()
        finally:
            await backend.generator.aclose()
        local = backend.kind == LOCAL
        servers = [LOCAL] if local else [g.name for g in servers_of(backend.generator)]
        runner = AttemptRunner(servers_of(backend.generator)[0], settings)
        return PreparedPost(
            post_id=loaded.post_id, total=len(loaded.scenes), backend=backend.kind, backend_reason=backend.reason,
            servers=servers, slots=slots_of(backend.generator) if local else 1,
            tickets=[Ticket(w.index, w.job.mode, w.job.rung_pos, w.job.resume_server) for w in works],
            pool=PoolConfig([view_of(r) for r in books.manager.ladder], settings.comfyui_bench_seconds,
                            settings.video_server_max_failures, settings.service_lease_audit_seconds),
            already_done=sum(1 for r in books.run.results if r.success),
            attempt_seconds=runner.limit() + ATTEMPT_MARGIN_S,
            heartbeat_seconds=settings.service_heartbeat_seconds,
            attempt_retries=settings.service_attempt_retries,
        )

    @activity.defn(name="run_attempt")
    async def run_attempt(self, order: AttemptOrder) -> AttemptReport:
        settings = self.settings_for(order.post)
        out = Path(order.post.out_dir)
        generator = self.generator(settings, order.backend, order.grant.server, out)
        try:
            engine = VideoPromptEngine(settings, self.styles())
            books = open_books(settings, Path(order.post.post_file), out, generator, engine,
                               owned={order.grant.index}, retry_failed=order.post.retry_failed)
            return await run_clip_attempt(books, order.grant, generator, settings)
        finally:
            await generator.aclose()

    def _books_for(self, ref: PostRef | FailedScene, owned: set[int] | None) -> PostBooks:
        post = ref.post
        settings = self.settings_for(post)
        generator = make_local_backend(settings, self.styles())  # the books write records; no clip is made
        engine = VideoPromptEngine(settings, self.styles())
        return open_books(settings, Path(post.post_file), Path(post.out_dir), generator, engine, owned=owned,
                          retry_failed=post.retry_failed)

    @activity.defn(name="scene_failed")
    async def scene_failed(self, failed: FailedScene) -> None:
        books = self._books_for(failed, {failed.ended.index})
        work = books.work(failed.ended.index, rung_pos=failed.ended.rung_pos)
        books.run.failed(work, failed.ended.reason, failure_kind(failed.ended.kind))

    @activity.defn(name="post_interrupted")
    async def post_interrupted(self, ref: PostRef) -> None:
        """After a cancel (its clip activities have ended): open scenes back to pending, prompt ids kept."""
        books = self._books_for(ref, None)
        books.run.works = [books.work(i, rung_pos=r.next_rung) for i, r in enumerate(books.run.manifest.scenes)
                           if r.status in ("running", "pending")]
        books.run.interrupted()
        books.run.save()

    @activity.defn(name="finish_post")
    async def finish_post(self, ref: PostRef) -> PostSummary:
        books = self._books_for(ref, None)
        with post_lock(books.folder):
            books.results_from_records()
            books.run.finish()
            record_run_summary(books.folder, run_started_at=ref.started_at)
            await write_report(books.folder, self.settings_for(ref.post))
        manifest = books.store.load() or books.run.manifest
        summary = manifest.summary
        results = books.run.results
        asking = [i for i, s in enumerate(books.post.scenes) if s.video_mode and (s.video_prompt or "").strip()]
        asking = asking[: self.settings.video_max_clips_per_post]
        why = next((r.failure_reason for r in results if r.failure_reason), None)
        no_clip = None
        if asking and not any(r.success for r in results):
            no_clip = (f"no clip was made: {len(asking)} scene(s) asked for one and none got it "
                       f"({why or 'see ' + str(books.store.path)})")
        return PostSummary(
            post_id=manifest.post_id, output_dir=str(books.folder), scenes=len(manifest.scenes),
            made=summary.made if summary else 0, reused=summary.reused if summary else 0,
            failed=summary.failed if summary else 0, merged=summary.merged if summary else 0,
            skipped=summary.skipped if summary else 0, no_clip_reason=no_clip,
        )

    # --- servers -----------------------------------------------------------------------------------------

    @activity.defn(name="check_server")
    async def check_server(self, server: str) -> bool:
        if server == LOCAL:
            return True
        client = ComfyUIClient(server, self.settings.output_dir, settings=self.settings)
        try:
            return await is_healthy(client, self.settings.comfyui_health_timeout + 1.0)
        finally:
            await client.aclose()

    @activity.defn(name="posts_gone")
    async def posts_gone(self, post_workflows: list[str]) -> list[str]:
        """Those of `post_workflows` that no longer run (terminated, timed out, or unknown)."""
        gone: list[str] = []
        for workflow_id in post_workflows:
            try:
                described = await self.client.get_workflow_handle(workflow_id).describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                gone.append(workflow_id)
                continue
            if described.status != WorkflowExecutionStatus.RUNNING:
                gone.append(workflow_id)
        return gone

    @activity.defn(name="ensure_pool")
    async def ensure_pool(self, snapshot: PoolSnapshot) -> None:
        from ai_worker.service.pool_workflow import ServerPoolWorkflow

        await self.client.start_workflow(
            ServerPoolWorkflow.run, snapshot, id=pool_workflow_id(activity.info().task_queue),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            run_timeout=None, task_timeout=timedelta(seconds=30),
        )


