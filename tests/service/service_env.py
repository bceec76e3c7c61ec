"""What the service tests share: settings against a fake ComfyUI and a real Temporal dev server, post files,
in-process workers, and the manifest without its times."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from ai_worker.model.manifest import Manifest, ManifestStore
from ai_worker.service.worker import build_worker
from config.settings import Settings
from tests.fakes.settings import tiny_clip_settings
from tests.service.temporal_server import TemporalDevServer, free_port

TIMES = {"started_at", "duration_s", "created_at", "updated_at", "run_started_at", "run_finished_at", "run_seconds"}


def service_settings(temporal: TemporalDevServer, servers: list[str], out: Path, **values: Any) -> Settings:
    """Tiny clips on `servers`, prompts from the fallback (no Ollama), a task queue of its own."""
    base: dict[str, Any] = {
        "comfyui_url": servers,
        "ollama_host": f"http://127.0.0.1:{free_port()}",
        "output_dir": out,
        "video_backend": "comfyui",
        "temporal_address": temporal.address,
        "temporal_task_queue": f"test-{uuid.uuid4().hex[:10]}",
        "comfyui_poll_interval": 0.1,
        "comfyui_bench_seconds": 1.0,
        "service_heartbeat_seconds": 3.0,
    }
    return tiny_clip_settings(**{**base, **values})


def write_post(folder: Path, post_id: str, lines: list[str], mood: str = "daily") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{post_id}.json"
    scenes = [{"type": "text_only", "text_lines": [line]} for line in lines]
    data = {"post_id": post_id, "title": "테스트 글", "body_summary": "요약", "mood": mood, "scenes": scenes}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def in_process_worker(settings: Settings) -> AsyncIterator[Client]:
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    async with build_worker(client, settings):
        yield client


def load_manifest(folder: Path) -> Manifest:
    manifest = ManifestStore(folder / "manifest.json").load()
    assert manifest is not None, f"no manifest in {folder}"
    return manifest


def without_times(value: object) -> object:
    """The manifest as data, every time and duration left out (they differ from run to run)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment a `wagglebot-video worker` process needs to have `settings` (tiny clips included)."""
    width, height = settings.video_resolution
    fb_width, fb_height = settings.video_resolution_fallback
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIDEO_", "COMFYUI_", "TEMPORAL_"))}
    env.update({
        "COMFYUI_URL": ",".join(settings.comfyui_url),
        "OLLAMA_HOST": settings.ollama_host,
        "OUTPUT_DIR": str(settings.output_dir),
        "VIDEO_BACKEND": settings.video_backend,
        "VIDEO_RESOLUTION": f"{width}x{height}",
        "VIDEO_RESOLUTION_FALLBACK": f"{fb_width}x{fb_height}",
        "VIDEO_NUM_FRAMES": str(settings.video_num_frames),
        "VIDEO_NUM_FRAMES_FALLBACK": str(settings.video_num_frames_fallback),
        "VIDEO_FPS": str(settings.video_fps),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "COMFYUI_POLL_INTERVAL": str(settings.comfyui_poll_interval),
        "COMFYUI_BENCH_SECONDS": str(settings.comfyui_bench_seconds),
        "SERVICE_HEARTBEAT_SECONDS": str(settings.service_heartbeat_seconds),
    })
    return env


def start_worker_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`wagglebot-video worker` in its own process (so it can be killed with SIGKILL)."""
    binary = Path(sys.executable).parent / "wagglebot-video"
    with log.open("ab") as out:
        return subprocess.Popen([str(binary), "worker", "-v"], env=worker_env(settings), cwd=log.parent,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait for `condition` (checked every 50 ms); a bound on a wait, never a measured outcome."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {limit:g} s")
        await asyncio.sleep(0.05)
