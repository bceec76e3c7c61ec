"""Every read from a ComfyUI server is bounded: JSON answers in size, clip downloads in size and in total time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.comfy.outputs import DownloadLimits, download_view
from ai_worker.comfy.protocol import OutputFile
from ai_worker.core.errors import ComfyUIConnectionError, ComfyUIServerError, InvalidOutputError
from config.settings import Settings
from tests.comfy.test_client import make_request
from tests.fakes.fake_comfyui import FakeComfyUI


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_defaults_are_sensible() -> None:
    defaults = settings()
    assert defaults.comfyui_download_max_bytes == 2 * 1024**3
    assert defaults.comfyui_max_response_bytes == 64 * 1024**2
    assert 0 < defaults.comfyui_download_deadline <= 3600


async def test_a_clip_over_the_download_cap_is_refused(tmp_path: Path) -> None:
    async with (
        FakeComfyUI(tmp_path / "comfy") as fake,
        ComfyUIClient(fake.url, tmp_path / "out", settings=settings(comfyui_download_max_bytes=1000)) as client,
    ):
        request = make_request(tmp_path)
        with pytest.raises(InvalidOutputError, match=r"larger than 1000 bytes \(COMFYUI_DOWNLOAD_MAX_BYTES\)"):
            await client.generate_t2v(request)
        assert ("GET", "/view") in fake.requests
    assert not request.output_path.exists()
    assert list(request.output_path.parent.iterdir()) == []  # no .part left behind


async def test_a_json_answer_over_the_limit_is_a_server_error(tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as fake:
        async with ComfyUIClient(fake.url, tmp_path, settings=settings(comfyui_max_response_bytes=2000)) as small:
            with pytest.raises(ComfyUIServerError, match="GET /object_info answered more than 2000 bytes"):
                await small.object_info()
            assert await small.health_problem() is None  # /system_stats is small
        async with ComfyUIClient(fake.url, tmp_path, settings=settings()) as default:
            assert "CheckpointLoaderSimple" in await default.object_info()


class Endless:
    """A server that never stops answering: JSON that never closes, a clip that never ends, a clip that trickles."""

    def __init__(self) -> None:
        self.url = ""

    async def _forever(self, request: web.Request, head: bytes, chunk: bytes, pause: float) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        await response.write(head)
        while True:
            await response.write(chunk)
            await asyncio.sleep(pause)

    async def json(self, request: web.Request) -> web.StreamResponse:
        return await self._forever(request, b'{"system": [', b"0," * 4096, 0)

    async def view(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("filename") == "trickle.mp4":
            return await self._forever(request, b"", b"\0", 0.01)
        return await self._forever(request, b"", b"\0" * 65536, 0)


@pytest.fixture
async def endless() -> AsyncIterator[Endless]:
    state = Endless()
    app = web.Application()
    app.router.add_get("/system_stats", state.json)
    app.router.add_get("/history/{prompt_id}", state.json)
    app.router.add_get("/view", state.view)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield state
    await runner.cleanup()


async def test_an_endless_json_answer_stops_at_the_limit(endless: Endless, tmp_path: Path) -> None:
    limit = 100_000
    async with ComfyUIClient(endless.url, tmp_path, settings=settings(comfyui_max_response_bytes=limit)) as client:
        problem = await client.health_problem()
        assert problem is not None and f"more than {limit} bytes" in problem
        with pytest.raises(ComfyUIServerError, match="GET /system_stats answered more than"):
            await client.system_stats()


async def test_an_endless_clip_stops_at_the_cap(endless: Endless, tmp_path: Path) -> None:
    target = tmp_path / "clip.part"
    async with httpx.AsyncClient(base_url=endless.url) as http:
        with pytest.raises(InvalidOutputError, match="larger than 1000000 bytes"):
            await download_view(http, OutputFile(filename="endless.mp4", subfolder="", type="output"), target,
                                limits=DownloadLimits(max_bytes=1_000_000, deadline=600), server="s", prompt_id="p")
    assert target.stat().st_size <= 1_000_000


async def test_a_trickling_clip_stops_at_the_deadline(endless: Endless, tmp_path: Path) -> None:
    # Each byte arrives well within any read timeout, so only the overall deadline can end this download.
    async with httpx.AsyncClient(base_url=endless.url, timeout=30) as http:
        with pytest.raises(ComfyUIConnectionError, match=r"longer than 0\.3 s \(COMFYUI_DOWNLOAD_DEADLINE\)"):
            await download_view(http, OutputFile(filename="trickle.mp4", subfolder="", type="output"),
                                tmp_path / "clip.part", limits=DownloadLimits(max_bytes=10**9, deadline=0.3),
                                server="s", prompt_id="p")


async def test_an_endless_history_answer_is_a_failed_poll(endless: Endless, tmp_path: Path) -> None:
    async def no_wait(_: float) -> None:
        return None

    values = settings(comfyui_max_response_bytes=100_000, comfyui_max_poll_errors=2)
    async with ComfyUIClient(endless.url, tmp_path, settings=values, sleep=no_wait) as client:
        with pytest.raises(ComfyUIConnectionError, match=r"2 polls in a row failed.*more than 100000 bytes"):
            await client.reattach("p-1", make_request(tmp_path))
