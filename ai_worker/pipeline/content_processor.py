"""The video stage's part of the content pipeline: Phase 4.5, 6 and 7, gated by VIDEO_GEN_ENABLED.

Phase 4.5 decides text- or image-to-video per scene, Phase 6 writes the prompts, Phase 7 makes the clips
(fallback ladder, merge of failed scenes, manifest). Everything is written under one output folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ai_worker.errors import PostFileError
from ai_worker.gpu_manager import GPUManager, prepare_vram_for_video
from ai_worker.llm.client import unload_model
from ai_worker.pipeline.paths import post_dir
from ai_worker.pipeline.post_file import Post
from ai_worker.pipeline.scene_director import SceneDecision, assign_video_modes
from ai_worker.video.capabilities import Backend
from ai_worker.video.comfy_pool import ComfyUIPool
from ai_worker.video.events import EventCallback, VideoGenerationResult
from ai_worker.video.local_backend import LocalBackend
from ai_worker.video.manager import VideoManager
from ai_worker.video.manifest import MANIFEST_NAME, Manifest, ManifestStore
from ai_worker.video.prompt_engine import VideoPromptEngine
from ai_worker.video.styles import VideoStyles, load_video_styles
from config.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendChoice:
    """The backend Phase 7 will use, and why (shown to the user and kept in the manifest)."""

    generator: Backend
    kind: str
    reason: str


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

    @property
    def manifest_path(self) -> Path:
        return self.output_dir / MANIFEST_NAME


def make_local_backend(settings: Settings, styles: VideoStyles) -> LocalBackend:
    """The FFmpeg-only backend, with the moods' palettes and the FFmpeg settings."""
    return LocalBackend(
        palettes=styles.palettes(),
        ffmpeg_binary=settings.ffmpeg_binary,
        timeout=settings.ffmpeg_timeout,
        preset=settings.ffmpeg_preset,
        crf=settings.ffmpeg_crf,
    )


async def select_backend(settings: Settings, styles: VideoStyles, work_dir: Path) -> BackendChoice:
    """`local`, `comfyui`, or `auto`: ComfyUI when its health check passes, else the local backend."""
    servers = ", ".join(settings.comfyui_url)
    if settings.video_backend == "local":
        return BackendChoice(make_local_backend(settings, styles), "local", "local backend chosen (--backend local)")
    pool = ComfyUIPool.from_settings(settings, work_dir)
    if settings.video_backend == "comfyui":
        return BackendChoice(pool, "comfyui", f"ComfyUI chosen (--backend comfyui): {servers}")
    if await pool.health_check():
        return BackendChoice(pool, "comfyui", f"ComfyUI answered its health check: {servers}")
    await pool.aclose()
    reason = f"ComfyUI did not answer its health check ({servers}); using the local FFmpeg backend"
    return BackendChoice(make_local_backend(settings, styles), "local", reason)


async def phase_4_5_assign_modes(post: Post, *, settings: Settings, out_dir: Path) -> None:
    """Phase 4.5: text- or image-to-video per scene (downloads and scores images)."""
    await assign_video_modes(
        post.scenes, post_id=post.post_id, settings=settings, out_dir=out_dir, base_dir=post.base_dir
    )


async def phase_6_prompts(post: Post, *, engine: VideoPromptEngine) -> None:
    """Phase 6: an English LTX-2 prompt and a simplified one for every scene that gets a clip."""
    await engine.generate_batch(post.scenes, post.mood, post.title, post.body_summary)


async def phase_7_clips(
    post: Post,
    *,
    settings: Settings,
    engine: VideoPromptEngine,
    backend: BackendChoice,
    store: ManifestStore,
    on_event: EventCallback | None = None,
) -> list[VideoGenerationResult]:
    """Phase 7: clips through the fallback ladder; failed scenes' lines merged into survivors."""
    if backend.kind == "comfyui":
        gpu = GPUManager(settings, servers=[backend.generator], ollama_unload=lambda: unload_model(settings))
        await prepare_vram_for_video(gpu)
    manager = VideoManager(comfy_client=backend.generator, prompt_engine=engine, config=settings)
    return await manager.generate_all_clips(
        post.scenes,
        post.mood,
        post.post_id,
        post.title,
        post.body_summary,
        output_dir=store.path.parent,
        store=store,
        on_event=on_event,
    )


async def process_post(
    post: Post,
    *,
    settings: Settings,
    out_dir: Path,
    input_errors: list[PostFileError] | None = None,
    on_event: EventCallback | None = None,
    on_backend: Callable[[BackendChoice], None] | None = None,
) -> VideoStageResult:
    """Run Phase 4.5, 6 and 7 for one post when VIDEO_GEN_ENABLED; write clips and manifest under `out_dir`."""
    folder = post_dir(out_dir, post.post_id)
    result = VideoStageResult(
        post_id=post.post_id,
        enabled=settings.video_gen_enabled,
        output_dir=folder,
        scenes=post.scenes,
        input_errors=[str(error) for error in input_errors or []],
    )
    if not settings.video_gen_enabled:
        logger.info("VIDEO_GEN_ENABLED is off: video phases skipped for post %s", post.post_id)
        return result
    styles = load_video_styles(settings.video_styles_path)
    engine = VideoPromptEngine(settings, styles)
    await phase_4_5_assign_modes(post, settings=settings, out_dir=out_dir)
    await phase_6_prompts(post, engine=engine)
    backend = await select_backend(settings, styles, out_dir / "tmp" / "videos")
    result.backend, result.backend_reason = backend.kind, backend.reason
    logger.info("backend: %s", backend.reason)
    if on_backend is not None:
        on_backend(backend)
    store = ManifestStore(folder / MANIFEST_NAME)
    try:
        _record_run_facts(store, post, backend, result.input_errors)
        result.results = await phase_7_clips(
            post, settings=settings, engine=engine, backend=backend, store=store, on_event=on_event
        )
    finally:
        await backend.generator.aclose()
    return result


def _record_run_facts(store: ManifestStore, post: Post, backend: BackendChoice, input_errors: list[str]) -> None:
    """The backend choice and the post file's rejected scenes, in the manifest before Phase 7 starts (the
    manager keeps what it finds there), so they are on disk even if the run stops half-way."""
    manifest = store.load() or Manifest(post_id=post.post_id, title=post.title, mood=post.mood)
    manifest.backend = backend.kind
    manifest.backend_reason = backend.reason
    manifest.input_errors = input_errors
    store.save(manifest)
