"""One post's part of a Phase 7 run: its scenes, manifest, results and events.

The conductor runs any number of these on one scheduler. This object keeps the post's books, and it is the
one place that writes a scene's record: an attempt begins, is submitted, ends with an `AttemptOutcome` (or
is cancelled), and a scene ends done, failed or skipped, each through a method here that also saves the
manifest and tells the listener.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ai_worker.model.failure import FailureKind
from ai_worker.model.manifest import AttemptRecord, Manifest, ManifestStore, PendingPrompt, SceneRecord, fingerprint
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.attempt import AttemptOutcome, AttemptPlan, plan_attempt
from ai_worker.orchestration.events import (
    AttemptFailed,
    AttemptStarted,
    EventCallback,
    ManagerEvent,
    SceneDone,
    SceneFailed,
    SceneSkipped,
    SceneStarted,
    VideoGenerationResult,
)
from ai_worker.orchestration.finish import merge_results, remove_superseded_clips, write_final_scenes
from ai_worker.orchestration.ladder import Rung
from ai_worker.orchestration.reconcile import build_records, plan_starts
from ai_worker.orchestration.scene_identity import attempt_prompt_id, attempt_seed, clip_settings_payload
from ai_worker.orchestration.scheduler import Ended, Job
from config.settings import Settings

logger = logging.getLogger(__name__)

CLIPS_DIR = "clips"


def error_text(exc: BaseException) -> str:
    """An error as the manifest and the report show it: its type, and its message when it has one."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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

    def try_number(self, work: SceneWork, rung: Rung) -> int:
        """Tries of `rung` this scene has had (a cancelled one does not count: it is run again as it was)."""
        return sum(1 for a in work.record.attempts if a.rung == rung.number and a.action != "cancelled")

    def plan(self, work: SceneWork, rung: Rung, try_number: int, resume: PendingPrompt | None) -> AttemptPlan:
        """The attempt `try_number` of `rung` for the scene: seed, prompt id and clip path all derive from the
        job's identity, so whoever runs it again (after a crash, on another worker) asks for the same job; a
        re-attachment keeps the earlier prompt's seed."""
        raw = resume.params.get("seed") if resume is not None else None
        seed = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        prompt_id = None if resume is not None else attempt_prompt_id(
            self.post_id, work.record.fingerprint, rung.number, try_number)
        return plan_attempt(
            work.scene, mode=work.job.mode, rung=rung,
            seed=seed if seed is not None else attempt_seed(work.record.fingerprint, rung.number, try_number),
            output_path=self.clip_path(work, rung, try_number), simple_prompt=self.simple_prompt(work.scene),
            negative_prompt=self.negative, mood=self.mood, settings=self.settings, prompt_id=prompt_id,
        )

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
        """docs/spec.md: when the backend's health check fails no clip is attempted and the scenes stay static."""
        for work in self.works:
            if work.job.state == "queued":
                work.job.state = "failed"  # neither merged nor final: the scene is skipped
                self.skip(work.index, reason)
        self.save()

    # --- an attempt --------------------------------------------------------------------------------------

    def begin_attempt(
        self, work: SceneWork, plan: AttemptPlan, *, rung: Rung, seed: int, server: str,
        resume: PendingPrompt | None,
    ) -> AttemptRecord:
        """Record an attempt that is about to run (re-attaching to `resume`'s prompt when given)."""
        record = work.record
        attempt = AttemptRecord(
            rung=rung.number, label=rung.label, params={**plan.request.as_record(), "label": rung.label},
            seed=seed, server=server, reattached=resume is not None, shape=plan.shape.as_record(),
            prompt_id=resume.prompt_id if resume else None,
        )
        record.attempts.append(attempt)
        record.status = "running"
        record.clip_prompt = work.scene.video_prompt
        if not work.started:
            work.started = True
            self.emit(SceneStarted(work.index, self.total, work.job.mode, record.fingerprint, post_id=self.post_id))
        self.emit(AttemptStarted(work.index, self.total, rung.number, rung.label, server, dict(attempt.params),
                                 reattach=resume is not None, post_id=self.post_id))
        self.save()
        return attempt

    def submitted(self, work: SceneWork, attempt: AttemptRecord, *, slot_server: str, server: str,
                  prompt_id: str) -> None:
        """The backend queued the attempt as `prompt_id`: kept in ``pending`` so a later run re-attaches."""
        attempt.prompt_id = prompt_id
        attempt.server = server
        work.record.pending = PendingPrompt(server=slot_server, prompt_id=prompt_id, rung=attempt.rung,
                                            params=dict(attempt.params))
        self.save()

    def cancelled(self, work: SceneWork, attempt: AttemptRecord, elapsed_s: float) -> None:
        """Stopped (Ctrl-C, SIGTERM): the prompt id stays in ``pending``, so the next run re-attaches."""
        attempt.duration_s = elapsed_s
        attempt.error, attempt.error_type, attempt.action = "cancelled", "CancelledError", "cancelled"
        work.record.status = "pending"
        self.save()

    def apply(self, work: SceneWork, attempt: AttemptRecord, outcome: AttemptOutcome, *,
              action: str | None = None, ended: Ended | None = None) -> None:
        """The attempt's outcome on the scene's record. A failure comes with the error policy's `action` and,
        when the scheduler gave the scene up, how it `ended`; otherwise the scene waits for its next rung."""
        attempt.duration_s = outcome.duration_s
        attempt.reattached = attempt.reattached or outcome.reattached
        if outcome.result is not None:
            attempt.recovered = outcome.recovered
            attempt.probed_seconds = outcome.probed_seconds
            attempt.server = outcome.result.server or attempt.server
            attempt.prompt_id = outcome.result.prompt_id or attempt.prompt_id
            self.succeeded(work, outcome.result.path)
            return
        error = outcome.failure
        message = error_text(error)
        attempt.error, attempt.error_type, attempt.action = message, type(error).__name__, action
        work.record.pending = None
        self.emit(AttemptFailed(work.index, self.total, attempt.rung, attempt.error_type or "", message,
                                action or "", post_id=self.post_id))
        if ended is not None:
            self.failed(work, ended.reason, ended.kind)
            return
        work.record.status = "pending"
        work.record.next_rung = work.job.rung_pos
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
