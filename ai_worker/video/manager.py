"""`VideoManager` (Phase 7, seed sections 5, 9, 10): every scene's clip through the fallback ladder, on every
server at once, with failed scenes merged away so that no line of the script is lost.

How a post runs:

* Health check first; when it fails no clip is attempted and the scenes stay as they are (static).
* At most ``VIDEO_MAX_CLIPS_PER_POST`` scenes get a clip; the rest are skipped (they stay static scenes).
* Breadth-first: each scene's next attempt is queued by (rung, story order), so every scene's first attempt
  runs before any second one, and the distilled rung only starts once no full-model work is left: a post
  on one server switches checkpoints at most once (see `_PostRun._pick` for several servers). With several
  servers (a pool's ``members``) they all work at once.
* Pipelining: a generator that declares ``slots`` (a ComfyUI server: 2) gets that many attempts at once:
  one executing and one waiting in the server's own queue, so the GPU starts the next job while we download
  and validate the last one. The server still executes one job at a time. Undeclared generators (and the
  CPU-bound local backend) get one.
* Errors are sorted by type (`ladder.classify`): validation and missing models fail fast and stop that kind
  of job on that server for the rest of the post; OOM frees the server's VRAM and goes down a rung; a timeout
  (already cancelled on the server) goes down a rung; a dropped connection re-attaches to the same prompt;
  a server that fails `VIDEO_SERVER_MAX_FAILURES` times in a row is given up on for this post.
* Every clip is validated (`probe.validate_clip`) before it counts.
* The manifest is written atomically after every change; a second run reuses clips that still validate,
  does not repeat finished scenes, and re-attaches to prompts still running on the server.
* Cancellation (Ctrl-C, SIGTERM via `install_sigterm_cancel`): jobs in flight are cancelled on the server,
  their records go back to ``pending`` with the prompt id kept, the manifest is saved, and the error re-raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ai_worker.errors import (
    ComfyUIConnectionError,
    ComfyUIInterruptedError,
    ComfyUITimeoutError,
    PromptLostError,
    WaggleVideoError,
    WorkflowError,
)
from ai_worker.gpu_manager import GPUManager
from ai_worker.pipeline.scene_director import SceneDecision, line_text
from ai_worker.video.generator import (
    ClipRequest,
    ClipResult,
    GenerationHooks,
    GenerationMode,
    ModelVariant,
    ProgressEvent,
    VideoGenerator,
)
from ai_worker.video.ladder import ErrorAction, JobKind, Rung, build_ladder, classify, is_server_fault
from ai_worker.video.manifest import (
    AttemptRecord,
    FinalScene,
    Manifest,
    ManifestStore,
    PendingPrompt,
    SceneRecord,
    fingerprint,
)
from ai_worker.video.merge import MergePlan, apply_merge
from ai_worker.video.probe import validate_clip
from ai_worker.video.prompt_text import NEGATIVE_PROMPT, simplify_prompt
from config.settings import Settings

logger = logging.getLogger(__name__)

CLIPS_DIR = "clips"
ATTEMPT_GRACE_S = 60.0
"""Beyond VIDEO_GEN_TIMEOUT, what an attempt may spend on upload, download and validation before our own
guard cancels it (the client bounds the wait itself; this catches a backend that does not)."""
CANCEL_TIMEOUT_S = 10.0
MAX_REATTACH = 2
"""Re-attachments to one prompt after dropped connections before the attempt counts as failed."""
MAX_SAME_RUNG_RETRIES = 2
"""Retries of a rung for reasons that are not the job's fault (no server free, transport before submit)."""
SEED_SPACE = 2**32


# --- results and events ---------------------------------------------------------------------------------------


@dataclass
class VideoGenerationResult:
    """What happened to one scene (the seed's fields, plus the attempts themselves)."""

    scene_index: int
    success: bool
    clip_path: Path | None = None
    attempts: int = 0
    failure_reason: str | None = None
    merged_into: int | None = None
    attempt_log: list[AttemptRecord] = field(default_factory=list)
    skipped: bool = False
    """No clip was attempted (no video mode or prompt, over the clip limit, backend down): the scene stays,
    static, and is not merged."""


@dataclass(frozen=True)
class SceneStarted:
    scene_index: int
    total_scenes: int
    mode: str
    fingerprint: str


@dataclass(frozen=True)
class AttemptStarted:
    scene_index: int
    total_scenes: int
    rung: int
    label: str
    server: str
    params: dict[str, object]
    reattach: bool = False


@dataclass(frozen=True)
class Progress:
    scene_index: int
    total_scenes: int
    progress: ProgressEvent


@dataclass(frozen=True)
class AttemptFailed:
    scene_index: int
    total_scenes: int
    rung: int
    error_type: str
    message: str
    action: str


@dataclass(frozen=True)
class SceneDone:
    scene_index: int
    total_scenes: int
    clip_path: Path
    attempts: int
    reused: bool = False


@dataclass(frozen=True)
class SceneFailed:
    scene_index: int
    total_scenes: int
    reason: str
    attempts: int


@dataclass(frozen=True)
class SceneSkipped:
    scene_index: int
    total_scenes: int
    reason: str


ManagerEvent = SceneStarted | AttemptStarted | Progress | AttemptFailed | SceneDone | SceneFailed | SceneSkipped
EventCallback = Callable[[ManagerEvent], None]


def install_sigterm_cancel(task: asyncio.Task[Any]) -> Callable[[], None]:
    """Make SIGTERM cancel `task` (as Ctrl-C does under `asyncio.run`), so Phase 7 cancels its jobs on the
    server and leaves a consistent manifest. Returns a function that removes the handler. Where the loop
    cannot take signal handlers (not the main thread, Windows) it does nothing."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        logger.debug("SIGTERM handler not installed: %s", exc)
        return lambda: None

    def remove() -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)

    return remove


# --- pure helpers ---------------------------------------------------------------------------------------------


def clip_settings_payload(settings: Settings, negative_prompt: str) -> dict[str, object]:
    """The settings that shape a clip (part of every scene's fingerprint)."""
    return {
        "resolution": list(settings.video_resolution),
        "resolution_fallback": list(settings.video_resolution_fallback),
        "frames": settings.video_num_frames,
        "frames_fallback": settings.video_num_frames_fallback,
        "fps": settings.video_fps,
        "steps": [settings.video_steps, settings.video_steps_fallback, settings.video_steps_distilled],
        "cfg": [settings.video_cfg, settings.video_cfg_distilled],
        "models": [settings.video_model_full, settings.video_model_distilled],
        "i2v_denoise": settings.video_i2v_denoise,
        "negative_prompt": negative_prompt,
    }


def scene_fingerprint(scene: SceneDecision, mood: str, settings_payload: dict[str, object]) -> str:
    """A scene's identity across runs: its content, prompts and the clip-shaping settings (not its index,
    and not its narration audio paths, which TTS may rewrite)."""
    return fingerprint({
        "type": scene.type,
        "text": [line_text(line) for line in scene.text_lines],
        "image_url": scene.image_url,
        "init_image": scene.video_init_image,
        "mode": scene.video_mode,
        "prompt": scene.video_prompt,
        "prompt_simple": scene.video_prompt_simple,
        "mood": mood,
        "settings": settings_payload,
    })


def attempt_seed(scene_fp: str, rung: int, try_number: int) -> int:
    """A reproducible seed per scene, rung and try (a retried rung gets a new seed, so ComfyUI's cache
    cannot hand back the same failed output)."""
    digest = hashlib.sha256(f"{scene_fp}:{rung}:{try_number}".encode()).hexdigest()
    return int(digest[:8], 16) % SEED_SPACE


# --- the run's state ------------------------------------------------------------------------------------------

JobState = Literal["queued", "running", "done", "failed"]


@dataclass(eq=False)
class _Job:
    """One scene on its way down the ladder."""

    index: int
    scene: SceneDecision
    record: SceneRecord
    mode: GenerationMode
    rung_pos: int = 0
    same_rung_retries: int = 0
    state: JobState = "queued"
    clip: Path | None = None
    resume: PendingPrompt | None = None
    started: bool = False
    worker: _Worker | None = None
    """Where the job is in flight (while ``running``)."""


@dataclass(eq=False)
class _Worker:
    """One server (or one lane of a generator that routes by itself), with `slots` attempts at once."""

    generator: VideoGenerator
    name: str
    slots: int = 1
    model: ModelVariant | None = None
    """The checkpoint the server will hold once the jobs we gave it have run (last assigned, else loaded)."""
    switches: int = 0
    """Checkpoint changes this post asked of the server (the first load is not one)."""
    failures: int = 0
    given_up: bool = False
    last_error: str | None = None


def generator_slots(generator: object) -> int:
    """Attempts a generator takes at once: its ``slots`` attribute when it declares a positive int, else 1.

    A ComfyUI server declares 2 (one executing, one in its queue); the local FFmpeg backend 1 (it is CPU-bound
    and has no queue). A generator that does not say is given one, so nothing is sent concurrently to a
    backend that was not built for it."""
    slots = getattr(generator, "slots", None)
    if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0:
        return slots
    return 1


def _loaded_model(generator: object) -> ModelVariant | None:
    loaded = getattr(generator, "loaded_model", None)
    if loaded == "full":
        return "full"
    if loaded == "distilled":
        return "distilled"
    return None


def _workers_for(generator: VideoGenerator) -> list[_Worker]:
    """A pool that lists its `members` is scheduled member by member (each with its own slots); any other
    generator is one worker with its own slots."""
    members = getattr(generator, "members", None)
    if not (isinstance(members, Sequence) and members and not isinstance(members, str | bytes)):
        members = [generator]
    return [_Worker(generator=m, name=m.name, slots=generator_slots(m), model=_loaded_model(m)) for m in members]


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class VideoManager:
    """Phase 7: clips for a post's scenes (see the module docstring)."""

    def __init__(
        self,
        comfy_client: VideoGenerator,
        prompt_engine: object | None,
        config: Settings,
        *,
        gpu_manager: GPUManager | None = None,
    ) -> None:
        self.generator = comfy_client
        self.prompt_engine = prompt_engine
        self.settings = config
        self.gpu = gpu_manager or GPUManager(config, servers=[comfy_client], use_local_probes=False)
        self.ladder: tuple[Rung, ...] = build_ladder(config)

    # --- prompts (Phase 6's pure helpers) ------------------------------------------------------------------

    def simplify(self, prompt: str) -> str:
        """The simplified prompt for rungs 2-4 when Phase 6 did not leave one: the engine's own
        `simplify_prompt` if it has one, else the deterministic one from `prompt_text`."""
        method = getattr(self.prompt_engine, "simplify_prompt", None)
        result = method(prompt) if callable(method) else simplify_prompt(prompt)
        return result if isinstance(result, str) and result.strip() else prompt

    def negative_prompt(self) -> str:
        value = getattr(self.prompt_engine, "negative_prompt", None)
        return value if isinstance(value, str) else NEGATIVE_PROMPT

    # --- the seed's API ------------------------------------------------------------------------------------

    async def generate_all_clips(
        self,
        scenes: list[SceneDecision],
        mood: str,
        post_id: str,
        title: str = "",
        body_summary: str = "",
        *,
        output_dir: Path | None = None,
        store: ManifestStore | None = None,
        on_event: EventCallback | None = None,
    ) -> list[VideoGenerationResult]:
        """Make a clip for every scene that gets one, merge failed scenes into survivors (mutating `scenes`),
        and return one result per input scene, in input order."""
        del body_summary  # the prompts were written in Phase 6; kept for the seed's signature
        out = Path(output_dir) if output_dir is not None else self.settings.video_output_dir / post_id
        run = _PostRun(self, scenes, mood, post_id, title, out, store, on_event)
        return await run.execute()

    def _merge_failed_scenes(
        self, scenes: list[SceneDecision], results: list[VideoGenerationResult]
    ) -> MergePlan:
        """Remove failed scenes from `scenes` (in place), their lines going to survivors (see `merge`);
        `results` must be one per scene in the same order, and get their `merged_into` set."""
        if len(results) != len(scenes):
            raise ValueError(f"merge: {len(results)} results for {len(scenes)} scenes")
        failed = [not r.success and not r.skipped for r in results]
        plan = apply_merge(scenes, failed)
        for failed_pos, target_pos in plan.targets.items():
            results[failed_pos].merged_into = results[target_pos].scene_index
        return plan


class _PostRun:
    """The state of one `generate_all_clips` call."""

    def __init__(
        self,
        manager: VideoManager,
        scenes: list[SceneDecision],
        mood: str,
        post_id: str,
        title: str,
        output_dir: Path,
        store: ManifestStore | None,
        on_event: EventCallback | None,
    ) -> None:
        self.m = manager
        self.settings = manager.settings
        self.ladder = manager.ladder
        self.scenes = scenes
        self.mood = mood
        self.post_id = post_id
        self.title = title
        self.output_dir = output_dir
        self.clips_dir = output_dir / CLIPS_DIR
        self.store = store
        self.on_event = on_event
        self.total = len(scenes)
        self.negative = manager.negative_prompt()
        self.workers = _workers_for(manager.generator)
        self.jobs: list[_Job] = []
        self.results: list[VideoGenerationResult] = []
        self.blocked: dict[str, dict[JobKind, str]] = {}
        self.cond = asyncio.Condition()
        self.manifest = Manifest(post_id=post_id, title=title, mood=mood)
        model_order: list[str] = []
        for rung in self.ladder:
            if rung.model not in model_order:
                model_order.append(rung.model)
        self.model_rank = {model: i for i, model in enumerate(model_order)}

    # --- plumbing --------------------------------------------------------------------------------------------

    def emit(self, event: ManagerEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken progress display must not stop the clips
            logger.exception("on_event callback failed for %s", type(event).__name__)

    def save(self) -> None:
        if self.store is None:
            return
        self.store.save(self.manifest)

    # --- setup ----------------------------------------------------------------------------------------------

    def _build_records(self) -> dict[int, SceneRecord]:
        old = self.store.load() if self.store is not None else None
        previous = old.by_fingerprint() if old is not None else {}
        if old is not None:
            self.manifest = old.model_copy(update={"title": self.title, "mood": self.mood, "final_scenes": []})
        payload = clip_settings_payload(self.settings, self.negative)
        self.manifest.settings_fingerprint = fingerprint(payload)
        if self.manifest.backend is None:
            self.manifest.backend = self.m.generator.name
        records: dict[int, SceneRecord] = {}
        for index, scene in enumerate(self.scenes):
            fp = scene_fingerprint(scene, self.mood, payload)
            record = previous.pop(fp, None)
            if record is None:
                record = SceneRecord(index=index, fingerprint=fp, type=scene.type)
            record.index = index
            record.type = scene.type
            record.text_lines = list(scene.text_lines)
            record.image_url = scene.image_url
            record.image_path = scene.image_path or scene.video_init_image
            record.image_score = scene.image_score
            record.image_category = scene.image_category
            record.image_reasons = list(scene.image_reasons)
            record.mode = scene.video_mode
            record.prompt = scene.video_prompt
            record.prompt_simple = scene.video_prompt_simple
            record.prompt_source = scene.prompt_source
            record.input_error = scene.input_error
            record.merged_into = None
            record.merged_from = []
            records[index] = record
        self.manifest.scenes = [records[i] for i in range(len(self.scenes))]
        return records

    def _skip(self, index: int, record: SceneRecord, reason: str) -> None:
        record.status = "skipped"
        record.skip_reason = reason
        self.results[index].skipped = True
        self.results[index].failure_reason = reason
        self.emit(SceneSkipped(index, self.total, reason))

    async def _reuse(self, job: _Job) -> bool:
        """A clip from an earlier run that still validates counts as done."""
        record = job.record
        if record.status != "done" or not record.clip_path:
            return False
        path = Path(record.clip_path)
        ok_attempts = [a for a in record.attempts if a.error is None and a.duration_s is not None]
        params = ok_attempts[-1].params if ok_attempts else {}
        try:
            await asyncio.to_thread(
                validate_clip,
                path,
                width=_int_or_none(params.get("width")),
                height=_int_or_none(params.get("height")),
                min_frames=_int_or_none(params.get("num_frames")),
                fps=_int_or_none(params.get("fps")),
            )
        except WaggleVideoError as exc:
            logger.info("scene %d: earlier clip %s no longer validates (%s); making it again", job.index, path, exc)
            record.status = "pending"
            record.clip_path = None
            last = _int_or_none(ok_attempts[-1].rung) if ok_attempts else None
            record.next_rung = max(0, (last or 1) - 1)
            return False
        job.state = "done"
        job.clip = path
        self.emit(SceneDone(job.index, self.total, path, len(record.attempts), reused=True))
        return True

    async def _prepare(self) -> None:
        records = self._build_records()
        self.results = [VideoGenerationResult(scene_index=i, success=False) for i in range(len(self.scenes))]
        clips_left = self.settings.video_max_clips_per_post
        for index, scene in enumerate(self.scenes):
            record = records[index]
            if scene.video_mode is None:
                self._skip(index, record, "no video mode (scene stays static)")
                continue
            if not (scene.video_prompt or "").strip():
                self._skip(index, record, "no video prompt from Phase 6 (scene stays static)")
                continue
            if clips_left <= 0:
                self._skip(index, record, f"over VIDEO_MAX_CLIPS_PER_POST ({self.settings.video_max_clips_per_post})")
                continue
            clips_left -= 1
            job = _Job(index=index, scene=scene, record=record, mode=scene.video_mode)
            self.jobs.append(job)
            if await self._reuse(job):
                continue
            if record.status == "failed" and record.failure_kind == "exhausted":
                # Every rung was tried in an earlier run: a finished scene is not repeated.
                job.state = "failed"
                continue
            record.skip_reason = None
            record.failure_reason = None
            record.failure_kind = None
            record.status = "pending"
            job.rung_pos = min(record.next_rung, len(self.ladder) - 1)
            job.resume = record.pending
            if scene.video_mode == "i2v" and not _image_exists(scene.video_init_image):
                self._fail(job, f"scene {index}: image-to-video init image {scene.video_init_image!r} is missing",
                           "fatal")
        self.save()

    # --- the run ----------------------------------------------------------------------------------------------

    async def execute(self) -> list[VideoGenerationResult]:
        if not self.scenes:
            return []
        await self._prepare()
        try:
            if any(job.state == "queued" for job in self.jobs):
                if await self._health_check():
                    async with asyncio.TaskGroup() as group:
                        for worker in self.workers:
                            for _ in range(worker.slots):
                                group.create_task(self._worker_loop(worker))
                else:
                    self._backend_down()
        except BaseException:
            # Cancelled (Ctrl-C, SIGTERM) or broken: what is recorded so far stays consistent for a resume.
            for job in self.jobs:
                if job.state in ("queued", "running"):
                    job.record.status = "pending"
            self.save()
            raise
        self._finish()
        return self.results

    async def _health_check(self) -> bool:
        generators: dict[int, _Worker] = {}
        for worker in self.workers:
            generators.setdefault(id(worker.generator), worker)
        checks = await asyncio.gather(*(self._check(w) for w in generators.values()))
        healthy = {id(w.generator) for w, ok in zip(generators.values(), checks, strict=True) if ok}
        for worker in self.workers:
            if id(worker.generator) not in healthy:
                worker.given_up = True
                worker.last_error = "health check failed"
        return bool(healthy)

    @staticmethod
    async def _check(worker: _Worker) -> bool:
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT_S * 3):
                return bool(await worker.generator.health_check())
        except Exception as exc:  # health_check must not raise; one that does is unhealthy
            logger.warning("health check of %s failed: %r", worker.name, exc)
            return False

    def _backend_down(self) -> None:
        """The seed: when the backend's health check fails, no clip is attempted and scenes stay static."""
        reason = f"video backend {self.m.generator.name} failed its health check; clips skipped"
        logger.warning("%s", reason)
        for job in self.jobs:
            if job.state == "queued":
                job.state = "failed"  # not a scene failure: undone below so it is neither merged nor final
                job.record.status = "pending"
                self._skip(job.index, job.record, reason)
        self.save()

    def _rung(self, job: _Job) -> Rung:
        return self.ladder[job.rung_pos]

    def _kind(self, job: _Job) -> JobKind:
        return (job.mode, self._rung(job).model)

    def _live(self) -> list[_Worker]:
        return [w for w in self.workers if not w.given_up]

    def _blocked_everywhere(self, kind: JobKind) -> str | None:
        live = self._live()
        if not live:
            return None
        messages = [self.blocked.get(w.name, {}).get(kind) for w in live]
        if all(message is not None for message in messages):
            return messages[0]
        return None

    def _settle(self) -> None:
        """Fail or move on queued scenes that no live server can run."""
        live = self._live()
        for job in self.jobs:
            if job.state != "queued":
                continue
            if not live:
                last = "; ".join(f"{w.name}: {w.last_error}" for w in self.workers if w.last_error)
                self._fail(job, f"no video server left for this post ({last or 'none healthy'})", "unavailable")
                continue
            if job.resume is not None and not any(w.name == job.resume.server for w in live):
                job.resume = None
            message = self._blocked_everywhere(self._kind(job))
            while message is not None and job.rung_pos + 1 < len(self.ladder):
                job.rung_pos += 1
                job.same_rung_retries = 0
                message = self._blocked_everywhere(self._kind(job))
            if message is not None:
                self._fail(job, message, "fatal")

    def _outstanding(self) -> bool:
        return any(job.state in ("queued", "running") for job in self.jobs)

    def _pick(self, worker: _Worker) -> _Job | None:
        """The next job for one of `worker`'s slots: breadth-first by (rung, story order), within the
        checkpoint gate.

        The gate: a job on a later checkpoint (the distilled rung) may start on `worker` only when

        * no job on an earlier checkpoint is *queued* (waiting for a server) anywhere, and
        * none is in flight on `worker` itself.

        On one server this is "the distilled rung waits until every full-model job is finished", so such a
        post switches at most once: a full-model job in flight that fails and comes back as a full-model
        retry finds nothing distilled sent to its server. With several servers an idle server does not wait
        for full-model jobs running *elsewhere*; it starts distilled work at once (with 4 servers, waiting
        left up to 3 GPUs idle for a whole job length at the switch point). The price: a full-model retry
        that appears after that may run on a server that already switched, i.e. a second switch on that
        server. It goes to a server still holding the full model when one has a free slot (see
        `_better_elsewhere`), and a switch (seconds) is cheaper than an idle GPU for a job (minutes).
        """
        self._settle()
        queued = [j for j in self.jobs if j.state == "queued"]
        if not queued:
            return None
        waiting_rank = min(self.model_rank[self._rung(j).model] for j in queued)
        # In flight "on this server": lanes of one self-routing generator (`capacity`) count as one server.
        own_rank = min((self.model_rank[self._rung(j).model] for j in self.jobs
                        if j.state == "running" and j.worker is not None
                        and j.worker.generator is worker.generator), default=len(self.model_rank))
        gate = min(waiting_rank, own_rank)
        blocked = self.blocked.get(worker.name, {})
        candidates = sorted(queued, key=lambda j: (0 if j.resume is not None else 1, j.rung_pos, j.index))
        for job in candidates:
            if job.resume is not None:
                if job.resume.server == worker.name:
                    return job
                continue
            rung = self._rung(job)
            if self.model_rank[rung.model] > gate:
                continue
            if self._kind(job) in blocked:
                continue
            if self._better_elsewhere(worker, job):
                continue
            return job
        return None

    def _busy(self, worker: _Worker) -> int:
        return sum(1 for j in self.jobs if j.state == "running" and j.worker is worker)

    def _better_elsewhere(self, worker: _Worker, job: _Job) -> bool:
        """True when another live server that can run `job` should have it (it picks the job up on the same
        wake-up): an idle one, when `worker` is busy (queueing behind a running job while a GPU is idle would
        delay the job for nothing); or one already holding the job's checkpoint with a free slot, when taking
        it would switch `worker`'s."""
        model = self._rung(job).model
        kind = self._kind(job)
        busy = self._busy(worker) > 0
        switches = worker.model is not None and worker.model != model
        if not busy and not switches:
            return False
        for other in self.workers:
            if other.generator is worker.generator or other.given_up or kind in self.blocked.get(other.name, {}):
                continue
            load = self._busy(other)
            if busy and load == 0 and other.model in (None, model):
                return True
            if switches and other.model == model and load < other.slots:
                return True
        return False

    async def _worker_loop(self, worker: _Worker) -> None:
        """One slot of `worker`: pick a job, run it, repeat until no work is left."""
        while True:
            async with self.cond:
                while True:
                    if worker.given_up:
                        self._settle()
                        self.cond.notify_all()
                        return
                    job = self._pick(worker)
                    if job is not None:
                        break
                    if not self._outstanding():
                        self.cond.notify_all()
                        return
                    await self.cond.wait()
                job.state = "running"
                job.worker = worker
                model = self._rung(job).model
                if worker.model is not None and worker.model != model:
                    worker.switches += 1
                worker.model = model
            try:
                await self._attempt(worker, job)
            finally:
                async with self.cond:
                    job.worker = None
                    if job.state == "running":
                        job.state = "queued"
                    self.cond.notify_all()

    # --- one attempt ----------------------------------------------------------------------------------------

    def _request(self, job: _Job, rung: Rung, seed: int, try_number: int) -> ClipRequest:
        scene = job.scene
        prompt = scene.video_prompt or ""
        if rung.simplified_prompt:
            prompt = scene.video_prompt_simple or self.m.simplify(prompt)
        suffix = f"_t{try_number}" if try_number else ""
        path = self.clips_dir / f"scene_{job.index:02d}_{job.record.fingerprint}_r{rung.number}{suffix}.mp4"
        return ClipRequest(
            prompt=prompt,
            negative_prompt=self.negative,
            width=rung.width,
            height=rung.height,
            num_frames=rung.num_frames,
            fps=self.settings.video_fps,
            steps=rung.steps,
            cfg=rung.cfg,
            seed=seed,
            output_path=path,
            model=rung.model,
            init_image=Path(scene.video_init_image) if job.mode == "i2v" and scene.video_init_image else None,
            strength=self.settings.video_i2v_denoise,
            mood=self.mood,
        )

    async def _attempt(self, worker: _Worker, job: _Job) -> None:
        rung = self._rung(job)
        resume = job.resume
        job.resume = None
        if resume is not None and not callable(getattr(worker.generator, "reattach", None)):
            # This backend cannot collect an earlier run's prompt: stop it so it does not hold the GPU.
            await self._cancel(worker, resume.prompt_id)
            resume = None
        if resume is not None:
            seed = _int_or_none(resume.params.get("seed"))
            rung = next((r for r in self.ladder if r.number == resume.rung), rung)
            job.rung_pos = self.ladder.index(rung)
        else:
            seed = None
        try_number = sum(1 for a in job.record.attempts if a.rung == rung.number and a.action != "cancelled")
        if seed is None:
            seed = attempt_seed(job.record.fingerprint, rung.number, try_number)
        request = self._request(job, rung, seed, try_number)
        record = AttemptRecord(
            rung=rung.number, label=rung.label, params={**request.as_record(), "label": rung.label},
            seed=seed, server=worker.name, reattached=resume is not None,
        )
        if resume is not None:
            record.prompt_id = resume.prompt_id
        job.record.attempts.append(record)
        job.record.status = "running"
        if not job.started:
            job.started = True
            self.emit(SceneStarted(job.index, self.total, job.mode, job.record.fingerprint))
        self.emit(AttemptStarted(job.index, self.total, rung.number, rung.label, worker.name,
                                 dict(record.params), reattach=resume is not None))
        self.save()

        def on_submitted(server: str, prompt_id: str) -> None:
            record.prompt_id = prompt_id
            record.server = server
            job.record.pending = PendingPrompt(server=server, prompt_id=prompt_id, rung=rung.number,
                                               params=dict(record.params))
            self.save()

        def on_progress(event: ProgressEvent) -> None:
            self.emit(Progress(job.index, self.total, event))

        hooks = GenerationHooks(on_progress=on_progress, on_submitted=on_submitted)
        started = time.monotonic()
        try:
            result = await self._run_on(worker, request, hooks, record, resume)
            await asyncio.to_thread(
                validate_clip, result.path, width=request.width, height=request.height,
                min_frames=request.num_frames, fps=request.fps,
            )
        except asyncio.CancelledError:
            record.duration_s = time.monotonic() - started
            record.error, record.error_type, record.action = "cancelled", "CancelledError", "cancelled"
            if record.prompt_id is not None:
                await asyncio.shield(self._cancel(worker, record.prompt_id))
            job.record.status = "pending"  # the prompt id stays in `pending`: the next run re-attaches
            self.save()
            raise
        except Exception as exc:
            record.duration_s = time.monotonic() - started
            job.record.pending = None
            await self._failed(worker, job, rung, record, exc, resumed=resume is not None)
            return
        record.duration_s = time.monotonic() - started
        record.server = result.server or record.server
        record.prompt_id = result.prompt_id or record.prompt_id
        worker.failures = 0
        job.record.pending = None
        job.record.status = "done"
        job.record.clip_path = str(result.path)
        job.record.next_rung = job.rung_pos
        job.clip = result.path
        job.state = "done"
        self.save()
        self.emit(SceneDone(job.index, self.total, result.path, len(job.record.attempts)))

    async def _run_on(
        self,
        worker: _Worker,
        request: ClipRequest,
        hooks: GenerationHooks,
        record: AttemptRecord,
        resume: PendingPrompt | None,
    ) -> ClipResult:
        """Submit (or re-attach to) the job, re-attaching after dropped connections, within our own guard."""
        request.output_path.parent.mkdir(parents=True, exist_ok=True)
        reattach = getattr(worker.generator, "reattach", None)
        limit = self.settings.video_gen_timeout + ATTEMPT_GRACE_S
        if reattach is not None:
            # A server's queue: the attempt may wait behind our other slot or other users' jobs first (the
            # client bounds that wait by COMFYUI_QUEUE_TIMEOUT and starts VIDEO_GEN_TIMEOUT at execution).
            limit += self.settings.comfyui_queue_timeout
        reattaches = 0
        prompt_id = resume.prompt_id if resume is not None else None
        while True:
            try:
                async with asyncio.timeout(limit):
                    if prompt_id is not None and callable(reattach):
                        result: ClipResult = await reattach(prompt_id, request, hooks)
                        return result
                    if request.mode == "i2v":
                        return await worker.generator.generate_i2v(request, hooks)
                    return await worker.generator.generate_t2v(request, hooks)
            except TimeoutError:
                if record.prompt_id is not None:
                    await self._cancel(worker, record.prompt_id)
                raise ComfyUITimeoutError(
                    f"{worker.name}: attempt ran past {limit:g} s and was cancelled", server=worker.name,
                    prompt_id=record.prompt_id,
                ) from None
            except ComfyUIConnectionError as exc:
                prompt_id = exc.prompt_id or record.prompt_id
                if prompt_id is None or not callable(reattach) or reattaches >= MAX_REATTACH:
                    raise
                reattaches += 1
                record.reattached = True
                logger.warning("%s: connection lost on prompt %s (%s); re-attaching", worker.name, prompt_id, exc)

    async def _cancel(self, worker: _Worker, prompt_id: str) -> None:
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT_S):
                await worker.generator.cancel(prompt_id)
        except Exception as exc:  # cancel must not raise; a server that is gone has nothing to cancel
            logger.warning("could not cancel %s on %s: %r", prompt_id, worker.name, exc)

    async def _failed(
        self, worker: _Worker, job: _Job, rung: Rung, record: AttemptRecord, exc: Exception, *, resumed: bool
    ) -> None:
        action = classify(exc)
        message = _error_text(exc)
        record.error, record.error_type = message, type(exc).__name__
        worker.last_error = message
        if resumed and isinstance(exc, ComfyUIInterruptedError | PromptLostError):
            # The prompt from an earlier run was cancelled (Ctrl-C) or died with its server: run the rung again.
            record.action = "retry"
            self._requeue(job, counts=False)
        elif action is ErrorAction.BLOCK_KIND:
            record.action = action.value
            kind = self._kind(job)
            names = [w.name for w in self.workers] if isinstance(exc, WorkflowError) else [worker.name]
            for name in names:
                self.blocked.setdefault(name, {})[kind] = message
            logger.error("scene %d: %s (no more %s/%s jobs on %s for this post)", job.index, message, *kind,
                         ", ".join(names))
            self._fail(job, message, "fatal")
        elif action is ErrorAction.FAIL_FAST:
            record.action = action.value
            if not isinstance(exc, WaggleVideoError):
                logger.error("scene %d: a bug, not retried", job.index, exc_info=exc)
            self._fail(job, message, "fatal")
        elif action is ErrorAction.FREE_AND_NEXT:
            record.action = action.value
            freed = await self.m.gpu.free_vram(getattr(exc, "server", None) or worker.name)
            if not freed and worker.name != (getattr(exc, "server", None) or worker.name):
                await self.m.gpu.free_vram(worker.name)
            self._next_rung(job, message)
        elif action in (ErrorAction.REATTACH, ErrorAction.RETRY):
            if job.same_rung_retries < MAX_SAME_RUNG_RETRIES and not (
                action is ErrorAction.REATTACH and job.same_rung_retries >= 1
            ):
                record.action = "retry"
                self._requeue(job, counts=True)
            else:
                record.action = "next"
                self._next_rung(job, message)
        else:
            record.action = action.value
            self._next_rung(job, message)
        if is_server_fault(exc):
            worker.failures += 1
            if worker.failures >= self.settings.video_server_max_failures:
                worker.given_up = True
                logger.error("giving up on %s for post %s after %d failures in a row (last: %s)",
                             worker.name, self.post_id, worker.failures, message)
        else:
            worker.failures = 0
        self.emit(AttemptFailed(job.index, self.total, rung.number, record.error_type or "", message,
                                record.action or ""))
        self.save()

    def _requeue(self, job: _Job, *, counts: bool) -> None:
        """The same rung again (on whichever server picks it up)."""
        if counts:
            job.same_rung_retries += 1
        job.state = "queued"
        job.record.status = "pending"
        job.record.next_rung = job.rung_pos

    def _next_rung(self, job: _Job, message: str) -> None:
        if job.rung_pos + 1 >= len(self.ladder):
            job.record.next_rung = len(self.ladder)
            self._fail(job, f"all {len(self.ladder)} attempts failed; last: {message}", "exhausted")
            return
        job.rung_pos += 1
        job.same_rung_retries = 0
        job.state = "queued"
        job.record.status = "pending"
        job.record.next_rung = job.rung_pos

    def _fail(self, job: _Job, reason: str, kind: Literal["exhausted", "fatal", "unavailable"]) -> None:
        job.state = "failed"
        job.record.status = "failed"
        job.record.failure_reason = reason
        job.record.failure_kind = kind
        job.record.pending = None
        if kind != "exhausted":
            job.record.next_rung = job.rung_pos
        logger.warning("scene %d: no clip (%s)", job.index, reason)
        self.emit(SceneFailed(job.index, self.total, reason, len(job.record.attempts)))

    # --- after the run ----------------------------------------------------------------------------------------

    def _finish(self) -> None:
        for job in self.jobs:
            result = self.results[job.index]
            result.attempts = len(job.record.attempts)
            result.attempt_log = list(job.record.attempts)
            if result.skipped:
                continue
            if job.state == "done" and job.clip is not None:
                result.success = True
                result.clip_path = job.clip
                job.scene.video_clip_path = str(job.clip)
                job.scene.video_generation_failed = False
            else:
                result.failure_reason = job.record.failure_reason or "no clip"
                job.scene.video_clip_path = None
                job.scene.video_generation_failed = True
        plan = self.m._merge_failed_scenes(self.scenes, self.results)
        by_index = {record.index: record for record in self.manifest.scenes}
        for failed, target in plan.targets.items():
            by_index[failed].merged_into = target
        final: list[FinalScene] = []
        for kept, scene in zip(plan.kept, self.scenes, strict=True):
            sources = plan.sources.get(kept, [kept])
            by_index[kept].merged_from = [s for s in sources if s != kept]
            final.append(FinalScene(
                clip_path=scene.video_clip_path,
                text_lines=list(scene.text_lines),
                source_indices=sources,
                type=scene.type,
            ))
        self.manifest.final_scenes = final
        self.save()
        done = sum(1 for r in self.results if r.success)
        logger.info("post %s: %d of %d scenes have clips; %d merged away", self.post_id, done,
                    len(self.results), len(plan.targets))


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _image_exists(path: str | None) -> bool:
    return bool(path) and Path(path or "").is_file()


__all__ = [
    "AttemptFailed",
    "AttemptStarted",
    "EventCallback",
    "ManagerEvent",
    "Progress",
    "SceneDone",
    "SceneFailed",
    "SceneSkipped",
    "SceneStarted",
    "VideoGenerationResult",
    "VideoManager",
    "install_sigterm_cancel",
]
