"""The video stage's part of the content pipeline: Phase 4.5, 6 and 7, gated by VIDEO_GEN_ENABLED.

Phase 4.5 decides text- or image-to-video per scene, Phase 6 writes the prompts (reusing those an earlier
run saved for unchanged scenes), Phase 7 makes the clips (fallback ladder, merge of failed scenes,
manifest). Many posts run as one batch: every server is shared through one scheduler, and each post has its
own folder ``<out>/<post_id>/`` (locked while a run writes it) and manifest.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ai_worker.core.atomic import remove_leftover_parts
from ai_worker.core.errors import PostFileError
from ai_worker.core.run_lock import post_lock
from ai_worker.media.local_backend import STAGED_SUFFIX
from ai_worker.media.narration import resolve_audio_paths
from ai_worker.model.manifest import MANIFEST_NAME, Manifest, ManifestStore, fingerprint, summarize
from ai_worker.model.paths import image_cache_dir, post_dir
from ai_worker.model.post_file import Post
from ai_worker.model.scene import SceneDecision
from ai_worker.model.styles import load_video_styles
from ai_worker.orchestration.conductor import PostJob, VideoManager
from ai_worker.orchestration.events import EventCallback, VideoGenerationResult
from ai_worker.orchestration.gpu_manager import GPUManager, prepare_vram_for_video
from ai_worker.orchestration.reconcile import build_records, reuse_saved_prompts
from ai_worker.orchestration.scene_identity import clip_settings_payload
from ai_worker.pipeline.backend_choice import BackendChoice, select_backend
from ai_worker.pipeline.post_inputs import copy_post_inputs
from ai_worker.pipeline.video_modes import assign_video_modes
from ai_worker.prompts.engine import VideoPromptEngine
from ai_worker.prompts.llm_client import unload_model
from config.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class VideoStageResult:
    """What the stage did for one post."""

    post_id: str
    enabled: bool
    output_dir: Path
    backend: str | None = None
    backend_reason: str | None = None
    scenes: list[SceneDecision] = field(default_factory=list)
    results: list[VideoGenerationResult] = field(default_factory=list)
    input_errors: list[str] = field(default_factory=list)
    prompts_reused: int = 0
    """Scenes whose Phase 6 prompts came from the manifest of an earlier run."""
    clips_asked: int = 0
    """Scenes that asked for a clip (a mode and a prompt after Phase 6, up to VIDEO_MAX_CLIPS_PER_POST),
    counted before Phase 7 merges failed scenes away."""

    @property
    def manifest_path(self) -> Path:
        return self.output_dir / MANIFEST_NAME


@dataclass
class PostInput:
    """One post of a batch, with the scenes its file loader rejected."""

    post: Post
    input_errors: list[PostFileError] = field(default_factory=list)


def scenes_asking_for_clips(scenes: Sequence[SceneDecision], max_clips: int) -> int:
    """How many scenes ask for a clip: a video mode and a prompt, up to `max_clips` of them."""
    return min(sum(1 for s in scenes if s.video_mode and (s.video_prompt or "").strip()), max(0, max_clips))


async def phase_4_5_assign_modes(post: Post, *, settings: Settings, out_dir: Path) -> None:
    """Phase 4.5: text- or image-to-video per scene (downloads and scores images)."""
    # Audio paths relative to the post file remain in posts built in code and in scenes the loader kept from a
    # rejected scene (it resolves only the scenes it accepts); resolving is idempotent for the rest.
    resolve_audio_paths(post.scenes, post.base_dir)
    await assign_video_modes(
        post.scenes, post_id=post.post_id, settings=settings, out_dir=out_dir, base_dir=post.base_dir
    )


async def phase_6_prompts(
    post: Post, *, engine: VideoPromptEngine, settings: Settings | None = None,
    store: ManifestStore | None = None, refresh: bool = False,
) -> int:
    """Phase 6: the post's visual anchor, then an English LTX-2 prompt and a simplified one for every scene
    that gets a clip.

    With a `store` (and `settings`), an unchanged scene gets the prompts an earlier run saved there (an LLM
    samples a new prompt on every call, and a new prompt would mean a new clip) unless `refresh`; so does the
    anchor, so new prompts keep the post's look. Prompts and anchor are saved there for the next run. Returns
    how many scenes reused saved prompts."""
    if store is None or settings is None:
        await engine.generate_batch(post.scenes, post.mood, post.title, post.body_summary)
        return 0
    old = store.load()
    payload = clip_settings_payload(settings, engine.negative_prompt)
    wanting = [s for s in post.scenes if s.video_mode in ("t2v", "i2v")]
    needing = wanting if refresh else reuse_saved_prompts(old, post.scenes, mood=post.mood, payload=payload)
    saved_anchor = None if refresh or old is None else old.visual_anchor
    anchor = saved_anchor
    if needing or anchor is None:
        anchor = await engine.generate_batch(
            post.scenes, post.mood, post.title, post.body_summary, only=needing, anchor=saved_anchor
        )
    manifest = build_records(old, post.scenes, post_id=post.post_id, title=post.title, mood=post.mood,
                             payload=payload, settings_fingerprint=fingerprint(payload))
    manifest.visual_anchor = anchor
    store.save(manifest)
    reused = len(wanting) - len(needing)
    if reused:
        logger.info("post %s: %d scene(s) keep the prompts saved by an earlier run", post.post_id, reused)
    return reused


async def phase_7_clips(
    posts: Sequence[Post],
    *,
    settings: Settings,
    engine: VideoPromptEngine,
    backend: BackendChoice,
    stores: Sequence[ManifestStore],
    on_event: EventCallback | None = None,
    retry_failed: bool = False,
) -> list[list[VideoGenerationResult]]:
    """Phase 7 for a batch of posts on one backend: clips through the fallback ladder, failed scenes' lines
    merged into survivors."""
    if backend.kind == "comfyui":
        gpu = GPUManager(settings, servers=[backend.generator], ollama_unload=lambda: unload_model(settings))
        await prepare_vram_for_video(gpu)
    manager = VideoManager(comfy_client=backend.generator, prompt_engine=engine, config=settings)
    jobs = [PostJob(p.scenes, p.mood, p.post_id, s.path.parent, p.title, s, on_event)
            for p, s in zip(posts, stores, strict=True)]
    return await manager.generate_batch(jobs, retry_failed=retry_failed)


async def process_posts(
    inputs: Sequence[PostInput],
    *,
    settings: Settings,
    out_dir: Path,
    on_event: EventCallback | None = None,
    on_backend: Callable[[BackendChoice], None] | None = None,
    refresh_prompts: bool = False,
    retry_failed: bool = False,
    backend_chosen_by: str = "VIDEO_BACKEND",
) -> list[VideoStageResult]:
    """Run Phase 4.5, 6 and 7 for every post when VIDEO_GEN_ENABLED, sharing the servers in Phase 7; each
    post's clips and manifest go to ``<out_dir>/<post_id>/``. `backend_chosen_by` names where VIDEO_BACKEND's
    value came from in errors (the setting, or the CLI's ``--backend``)."""
    results = [
        VideoStageResult(post_id=i.post.post_id, enabled=settings.video_gen_enabled,
                         output_dir=post_dir(out_dir, i.post.post_id), scenes=i.post.scenes,
                         input_errors=[str(error) for error in i.input_errors])
        for i in inputs
    ]
    if not settings.video_gen_enabled:
        logger.info("VIDEO_GEN_ENABLED is off: video phases skipped for %d post(s)", len(inputs))
        return results
    styles = load_video_styles(settings.video_styles_path)
    engine = VideoPromptEngine(settings, styles)
    stores = [ManifestStore(result.output_dir / MANIFEST_NAME) for result in results]
    # First: a backend that cannot work (--backend comfyui, no server up) stops the run before any work.
    backend = await select_backend(settings, styles, out_dir / "tmp" / "videos", chosen_by=backend_chosen_by)
    logger.info("backend: %s", backend.reason)
    if on_backend is not None:
        on_backend(backend)
    try:
        with contextlib.ExitStack() as locks:
            for result in results:  # before any work: a second run of the same post stops here
                locks.enter_context(post_lock(result.output_dir))
            for result in results:  # what a killed run of the post left half-written
                _remove_leftovers(result.output_dir, image_cache_dir(out_dir, result.post_id))
            started: list[float] = []
            for item, store, result in zip(inputs, stores, results, strict=True):
                started.append(time.time())
                await phase_4_5_assign_modes(item.post, settings=settings, out_dir=out_dir)
                copy_post_inputs(item.post.scenes, result.output_dir)
                result.prompts_reused = await phase_6_prompts(
                    item.post, engine=engine, settings=settings, store=store, refresh=refresh_prompts
                )
                result.backend, result.backend_reason = backend.kind, backend.reason
                result.clips_asked = scenes_asking_for_clips(item.post.scenes, settings.video_max_clips_per_post)
                record_run_facts(store, item.post, backend, result.input_errors)
            clips = await phase_7_clips(
                [i.post for i in inputs], settings=settings, engine=engine, backend=backend, stores=stores,
                on_event=on_event, retry_failed=retry_failed,
            )
            for store, since in zip(stores, started, strict=True):  # still under each post's lock
                _record_summary(store, since)
    finally:
        await backend.generator.aclose()
    for result, post_results in zip(results, clips, strict=True):
        result.results = post_results
    return results


async def process_post(
    post: Post,
    *,
    settings: Settings,
    out_dir: Path,
    input_errors: list[PostFileError] | None = None,
    on_event: EventCallback | None = None,
    on_backend: Callable[[BackendChoice], None] | None = None,
    refresh_prompts: bool = False,
    retry_failed: bool = False,
) -> VideoStageResult:
    """`process_posts` for one post."""
    results = await process_posts(
        [PostInput(post, list(input_errors or []))], settings=settings, out_dir=out_dir, on_event=on_event,
        on_backend=on_backend, refresh_prompts=refresh_prompts, retry_failed=retry_failed,
    )
    return results[0]


def record_run_facts(store: ManifestStore, post: Post, backend: BackendChoice, input_errors: list[str]) -> None:
    """The backend choice and the post file's rejected scenes, in the manifest before Phase 7 starts (the
    manager keeps what it finds there), so they are on disk even if the run stops half-way."""
    manifest = store.load() or Manifest(post_id=post.post_id, title=post.title, mood=post.mood)
    manifest.backend = backend.kind
    manifest.backend_reason = backend.reason
    manifest.input_errors = input_errors
    manifest.mood_given = post.mood_given
    store.save(manifest)


def _record_summary(store: ManifestStore, started_at: float) -> None:
    """The run's counts and the post's own time in its manifest: from the start of its Phase 4.5 to the end of
    its last attempt in this run (posts of a batch share the servers, so the batch's end is not theirs)."""
    manifest = store.load()
    if manifest is None:
        return
    ends = [a.started_at + (a.duration_s or 0.0) for scene in manifest.scenes for a in scene.attempts
            if a.started_at >= started_at]
    finished = max(ends, default=None) or time.time()
    manifest.summary = summarize(manifest, run_started_at=started_at, run_finished_at=finished)
    store.save(manifest)


def _remove_leftovers(*folders: Path) -> None:
    for folder in folders:
        removed = remove_leftover_parts(folder, (f".*{STAGED_SUFFIX}",))
        if removed:
            logger.info("%s: removed %d file(s) a stopped run left half-written", folder, len(removed))
