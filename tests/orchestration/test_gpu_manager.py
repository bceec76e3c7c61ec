"""gpu_manager: VRAM read from ComfyUI's /system_stats over real HTTP, cleanup through POST /free and the
injected Ollama unloader, and Phase 7's entry check (docs/spec.md, 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.orchestration.gpu_manager import (
    GIB,
    MAX_COEXIST_VRAM_GB,
    MODEL_VRAM_REQUIREMENTS,
    GPUManager,
    ModelType,
    prepare_vram_for_video,
    vram_free_gb,
)
from config.settings import Settings
from tests.fakes.fake_comfyui import FakeComfyUI


class StatsServer:
    """A tiny ComfyUI stand-in over real HTTP whose free VRAM the test sets; counts POST /free."""

    def __init__(self, free_bytes: int) -> None:
        self.free_bytes = free_bytes
        self.frees: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "system": {},
                "devices": [
                    {
                        "name": "cuda:0",
                        "type": "cuda",
                        "index": 0,
                        "vram_total": 24 * GIB,
                        "vram_free": self.free_bytes,
                        "torch_vram_total": 0,
                        "torch_vram_free": 0,
                    }
                ],
            }
        )

    async def _free(self, request: web.Request) -> web.Response:
        self.frees.append(await request.json())
        self.free_bytes = 23 * GIB
        return web.Response(status=200)

    async def __aenter__(self) -> StatsServer:
        app = web.Application()
        app.router.add_get("/system_stats", self._stats)
        app.router.add_post("/free", self._free)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def low_vram(tmp_path: Path) -> AsyncIterator[tuple[StatsServer, ComfyUIClient]]:
    async with StatsServer(free_bytes=4 * GIB) as server:
        client = ComfyUIClient(server.url, tmp_path, settings=Settings(_env_file=None))
        yield server, client
        await client.aclose()


def test_model_table_matches_the_seed() -> None:
    assert ModelType.VIDEO == 12.0
    assert MODEL_VRAM_REQUIREMENTS[ModelType.VIDEO] == 12.0
    assert MAX_COEXIST_VRAM_GB == 20.0
    assert GPUManager.MODEL_VRAM_REQUIREMENTS.get(ModelType.VIDEO, 0) == 12.0


def test_vram_free_from_system_stats_ignores_cpu_devices() -> None:
    assert (
        vram_free_gb({"devices": [{"type": "cuda", "vram_free": 6 * GIB}, {"type": "cuda", "vram_free": 2 * GIB}]})
        == 2.0
    )
    assert vram_free_gb({"devices": [{"type": "cpu", "vram_free": 64 * GIB}]}) is None
    assert vram_free_gb({"nothing": 1}) is None
    assert vram_free_gb("garbage") is None


async def test_reads_vram_from_comfyui_over_http(tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path) as server:
        client = ComfyUIClient(server.url, tmp_path, settings=Settings(_env_file=None))
        try:
            gm = GPUManager(Settings(_env_file=None), servers=[client], use_local_probes=False)
            assert await gm.get_available_vram() == pytest.approx(24023466188 / GIB)
            # Plenty free: the entry check leaves everything loaded.
            await prepare_vram_for_video(gm)
            assert server.frees == [] and gm.cleanups == 0
        finally:
            await client.aclose()


async def test_unknown_when_nothing_answers(tmp_path: Path) -> None:
    client = ComfyUIClient("http://127.0.0.1:9", tmp_path, settings=Settings(_env_file=None, comfyui_http_timeout=1))
    try:
        gm = GPUManager(servers=[client], use_local_probes=False)
        assert await gm.get_available_vram() is None
        assert await prepare_vram_for_video(gm) is None
        assert gm.cleanups == 0
    finally:
        await client.aclose()


async def test_phase_7_entry_check_cleans_up_when_under_half(low_vram: tuple[StatsServer, ComfyUIClient]) -> None:
    server, client = low_vram
    unloaded: list[bool] = []

    async def unload() -> None:
        unloaded.append(True)

    gm = GPUManager(Settings(_env_file=None), servers=[client], ollama_unload=unload, use_local_probes=False)
    assert await prepare_vram_for_video(gm) == 4.0  # 4 GB < 12 * 0.5
    assert server.frees == [{"unload_models": True, "free_memory": True}]
    assert unloaded == [True]
    assert await gm.get_available_vram() == 23.0


async def test_cleanup_survives_a_failing_unloader(low_vram: tuple[StatsServer, ComfyUIClient]) -> None:
    server, client = low_vram

    async def broken() -> None:
        raise ConnectionError("ollama is down")

    gm = GPUManager(servers=[client], ollama_unload=broken, use_local_probes=False)
    await gm.emergency_cleanup()
    assert len(server.frees) == 1 and gm.cleanups == 1


async def test_free_vram_targets_one_server(tmp_path: Path) -> None:
    async with StatsServer(GIB) as a, StatsServer(GIB) as b:
        settings = Settings(_env_file=None)
        ca, cb = ComfyUIClient(a.url, tmp_path, settings=settings), ComfyUIClient(b.url, tmp_path, settings=settings)

        class PoolLike:
            members = (ca, cb)

        try:
            gm = GPUManager(servers=[PoolLike()], use_local_probes=False)
            assert await gm.free_vram(cb.name) == 1
            assert a.frees == [] and len(b.frees) == 1
        finally:
            await ca.aclose()
            await cb.aclose()


async def test_managed_inference_cleans_up_when_models_would_not_fit(
    low_vram: tuple[StatsServer, ComfyUIClient],
) -> None:
    server, client = low_vram
    gm = GPUManager(servers=[client], use_local_probes=False)
    async with gm.managed_inference(ModelType.TTS):  # 5 GB needed, 4 GB free: clean up first
        assert len(server.frees) == 1
        assert gm.active_vram_gb() == 5.0
        async with gm.managed_inference(ModelType.VIDEO):  # 5 + 12 <= 20 and 23 GB free now: no cleanup
            assert len(server.frees) == 1
            assert gm.active_vram_gb() == 17.0
            async with gm.managed_inference(ModelType.LLM):  # 17 + 14 > 20: clean up
                assert len(server.frees) == 2
    assert gm.active_vram_gb() == 0.0
