"""Which backend Phase 7 uses (VIDEO_BACKEND / --backend), decided before any work so a run that cannot make
clips says so at once, naming every ComfyUI server and why it is not usable."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.comfy.pool import ComfyUIPool
from ai_worker.core.errors import GeneratorUnavailableError
from ai_worker.media.local_backend import LocalBackend
from ai_worker.model.capabilities import Backend
from ai_worker.model.styles import VideoStyles
from config.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendChoice:
    """The backend Phase 7 will use, and why (shown to the user and kept in the manifest)."""

    generator: Backend
    kind: str
    reason: str


def make_local_backend(settings: Settings, styles: VideoStyles) -> LocalBackend:
    """The FFmpeg-only backend, with the moods' palettes and the FFmpeg settings."""
    return LocalBackend(
        palettes=styles.palettes(),
        ffmpeg_binary=settings.ffmpeg_binary,
        timeout=settings.ffmpeg_timeout,
        preset=settings.ffmpeg_preset,
        crf=settings.ffmpeg_crf,
    )


async def comfyui_problems(settings: Settings, work_dir: Path) -> dict[str, str | None]:
    """Every COMFYUI_URL entry and why it is not healthy (None when it is), all checked at once, each within
    COMFYUI_HEALTH_TIMEOUT."""
    clients = [ComfyUIClient(url, work_dir, settings=settings) for url in settings.comfyui_url]
    try:
        problems = await asyncio.gather(*(client.health_problem() for client in clients))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return dict(zip(settings.comfyui_url, problems, strict=True))


def _said(problems: dict[str, str | None]) -> str:
    return "; ".join(f"{url} ({problem})" for url, problem in problems.items() if problem is not None)


async def select_backend(
    settings: Settings, styles: VideoStyles, work_dir: Path, *, chosen_by: str = "VIDEO_BACKEND"
) -> BackendChoice:
    """`local`, `comfyui` (at least one healthy server, else `GeneratorUnavailableError`), or `auto`: ComfyUI
    when a server passes its health check, else the local backend. `chosen_by` names where the choice came
    from (``VIDEO_BACKEND`` or ``--backend``), for the error."""
    if settings.video_backend == "local":
        reason = "local backend chosen (--backend local or VIDEO_BACKEND=local)"
        return BackendChoice(make_local_backend(settings, styles), "local", reason)
    problems = await comfyui_problems(settings, work_dir)
    healthy = [url for url, problem in problems.items() if problem is None]
    if healthy:
        reason = f"ComfyUI answered its health check: {', '.join(healthy)}"
        if len(healthy) < len(problems):
            reason += f"; not answering: {_said(problems)}"
        return BackendChoice(ComfyUIPool.from_settings(settings, work_dir), "comfyui", reason)
    if settings.video_backend == "comfyui":
        chosen = "--backend comfyui" if chosen_by == "--backend" else f"{chosen_by}=comfyui"
        raise GeneratorUnavailableError(f"{chosen} but no ComfyUI server is healthy: {_said(problems)}")
    reason = f"ComfyUI did not answer its health check ({_said(problems)}); using the local FFmpeg backend"
    return BackendChoice(make_local_backend(settings, styles), "local", reason)
