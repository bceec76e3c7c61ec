"""One post's part of a Phase 7 run: its scenes, manifest, results and events. The orchestrator runs any
number of these on one scheduler; this object only keeps the post's own books."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ai_worker.model.failure import FailureKind
from ai_worker.model.manifest import Manifest, ManifestStore, PendingPrompt, SceneRecord, fingerprint
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.events import (
    EventCallback,
    ManagerEvent,
    SceneDone,
    SceneFailed,
    SceneSkipped,
    VideoGenerationResult,
)
from ai_worker.orchestration.finish import merge_results, remove_superseded_clips, write_final_scenes
from ai_worker.orchestration.ladder import Rung
from ai_worker.orchestration.reconcile import build_records, plan_starts
from ai_worker.orchestration.scene_identity import clip_settings_payload
from ai_worker.orchestration.scheduler import Job
from config.settings import Settings

logger = logging.getLogger(__name__)

CLIPS_DIR = "clips"


@dataclass(eq=False)
class SceneWork:
    """A scene of this post that is on the ladder in this run."""

    post: PostRun
    index: int
    scene: SceneDecision
    record: SceneRecord
    job: Job
    pending: PendingPrompt | None = None
    started: bool = False


class PostRun:
    """The state of one post in one run."""

    def __init__(
        self,
        *,
        number: int,
        scenes: list[SceneDecision],
        mood: str,
        post_id: str,
        title: str,
        output_dir: Path,
        store: ManifestStore | None,
        on_event: EventCallback | None,
        settings: Settings,
        ladder: tuple[Rung, ...],
        negative_prompt: str,
        simplify: Callable[[str], str],
        retry_failed: bool = False,
    ) -> None:
        self.number = number
        self.scenes = scenes
        self.mood = mood
        self.post_id = post_id
        self.title = title
        self.clips_dir = output_dir / CLIPS_DIR
        self.store = store
        self.on_event = on_event
        self.settings = settings
        self.ladder = ladder
        self.negative = negative_prompt
        self.simplify = simplify
        self.retry_failed = retry_failed
        self.total = len(scenes)
        self.manifest = Manifest(post_id=post_id, title=title, mood=mood)
        self.results: list[VideoGenerationResult] = []
        self.works: list[SceneWork] = []

    # --- plumbing ----------------------------------------------------------------------------------------

    def emit(self, event: ManagerEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken progress display must not stop the clips
            logger.exception("on_event callback failed for %s", type(event).__name__)

    def save(self) -> None:
        if self.store is not None:
            self.store.save(self.manifest)

    def clip_path(self, work: SceneWork, rung: Rung, try_number: int) -> Path:
        suffix = f"_t{try_number}" if try_number else ""
        return self.clips_dir / f"scene_{work.index:02d}_{work.record.fingerprint}_r{rung.number}{suffix}.mp4"

    def simple_prompt(self, scene: SceneDecision) -> str:
        # `simplify` (VideoManager.simplify) already falls back to the prompt when it simplifies to nothing.
        return scene.video_prompt_simple or self.simplify(scene.video_prompt or "")

    # --- setup -------------------------------------------------------------------------------------------

    async def prepare(self) -> list[SceneWork]:
        """Reconcile the manifest with the scenes; returns the scenes that go on the ladder in this run."""
        old = self.store.load() if self.store is not None else None
        payload = clip_settings_payload(self.settings, self.negative)
        self.manifest = build_records(old, self.scenes, post_id=self.post_id, title=self.title, mood=self.mood,
                                      payload=payload, settings_fingerprint=fingerprint(payload))
        starts = await plan_starts(self.manifest, self.scenes, max_clips=self.settings.video_max_clips_per_post,
                                   ladder_len=len(self.ladder), retry_failed=self.retry_failed)
        self.results = [VideoGenerationResult(scene_index=i, success=False) for i in range(self.total)]
        for index, (scene, record, start) in enumerate(zip(self.scenes, self.manifest.scenes, starts, strict=True)):
            if start.kind == "skip":
                self.skip(index, start.reason or "skipped")
            elif start.kind == "reuse":
                self._done(index, start.clip or Path(), reused=True)
            elif start.kind == "failed":
                self.results[index].failure_reason = start.reason
                if start.new:
                    self.emit(SceneFailed(index, self.total, start.reason or "failed", 0, post_id=self.post_id))
            elif scene.video_mode is not None:
                job = Job(post=self.number, index=index, mode=scene.video_mode, rung_pos=start.rung_pos,
                          resume_server=start.resume.server if start.resume else None)
                self.works.append(SceneWork(self, index, scene, record, job, pending=start.resume))
        self.save()
        return self.works

    def skip(self, index: int, reason: str) -> None:
        record = self.manifest.scenes[index]
        record.status = "skipped"
        record.skip_reason = reason
        self.results[index].skipped = True
        self.results[index].failure_reason = reason
        self.emit(SceneSkipped(index, self.total, reason, post_id=self.post_id))

    def backend_down(self, reason: str) -> None:
        """The seed: when the backend's health check fails no clip is attempted and the scenes stay static."""
        for work in self.works:
            if work.job.state == "queued":
                work.job.state = "failed"  # neither merged nor final: the scene is skipped
                self.skip(work.index, reason)
        self.save()

    # --- outcomes ----------------------------------------------------------------------------------------

    def _done(self, index: int, clip: Path, *, reused: bool) -> None:
        result = self.results[index]
        result.success = True
        result.clip_path = clip
        result.reused = reused
        self.emit(SceneDone(index, self.total, clip, len(self.manifest.scenes[index].attempts), reused,
                            post_id=self.post_id))

    def succeeded(self, work: SceneWork, clip: Path) -> None:
        record = work.record
        record.pending = None
        record.status = "done"
        record.clip_path = str(clip)
        record.clip_prompt = work.scene.video_prompt
        record.next_rung = work.job.rung_pos
        self.save()
        self._done(work.index, clip, reused=False)

    def failed(self, work: SceneWork, reason: str, kind: FailureKind) -> None:
        record = work.record
        record.status = "failed"
        record.failure_reason = reason
        record.failure_kind = kind
        record.pending = None
        record.next_rung = len(self.ladder) if kind == "exhausted" else work.job.rung_pos
        self.results[work.index].failure_reason = reason
        logger.warning("post %s, scene %d: no clip (%s)", self.post_id, work.index, reason)
        self.save()
        self.emit(SceneFailed(work.index, self.total, reason, len(record.attempts), post_id=self.post_id))

    def interrupted(self) -> None:
        """Cancelled or broken: what is recorded stays consistent for a resume."""
        for work in self.works:
            if work.job.state in ("queued", "running"):
                work.record.status = "pending"
                work.record.next_rung = work.job.rung_pos

    # --- the end -----------------------------------------------------------------------------------------

    def finish(self) -> list[VideoGenerationResult]:
        for record, result, scene in zip(self.manifest.scenes, self.results, self.scenes, strict=True):
            result.attempts = len(record.attempts)
            result.attempt_log = list(record.attempts)
            if result.skipped:
                continue
            if result.success and result.clip_path is not None:
                scene.video_clip_path = str(result.clip_path)
                scene.video_generation_failed = False
            else:
                result.failure_reason = result.failure_reason or record.failure_reason or "no clip"
                scene.video_clip_path = None
                scene.video_generation_failed = True
        plan = merge_results(self.scenes, self.results)
        write_final_scenes(self.manifest, self.scenes, plan)
        self.save()
        if self.store is not None:
            remove_superseded_clips(self.manifest, self.clips_dir)
        done = sum(1 for r in self.results if r.success)
        logger.info("post %s: %d of %d scenes have clips; %d merged away", self.post_id, done,
                    len(self.results), len(plan.targets))
        return self.results
