"""What the service tests share: settings against a fake ComfyUI and a real Temporal dev server, post files,
in-process workers, and the manifest without its times."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
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
