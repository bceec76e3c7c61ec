"""ComfyUIPool: a group of servers (checked, cancelled on, freed and closed together); the scheduling of its
members is the orchestration's (see test_scheduler.py), shown here end to end over two fake ComfyUI servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ai_worker.comfy.pool import ComfyUIPool
from ai_worker.core.errors import GeneratorUnavailableError
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks
from ai_worker.model.capabilities import ServerGroup, servers_of
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.conductor import VideoManager
from config.settings import Settings
from tests.fakes.settings import tiny_clip_settings


class Member:
    def __init__(self, name: str, healthy: bool = True) -> None:
        self._name = name
        self.healthy = healthy
        self.cancelled: list[str] = []
        self.frees = 0
        self.closed = False

    @property
    def name(self) -> str:
        return self._name

    async def health_check(self) -> bool:
        return self.healthy

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        raise AssertionError("not used")

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        raise AssertionError("not used")

    async def cancel(self, prompt_id: str) -> None:
        self.cancelled.append(prompt_id)

    async def free_memory(self) -> None:
        self.frees += 1

    async def aclose(self) -> None:
        self.closed = True


async def test_a_pool_is_a_group_of_its_members() -> None:
    a, b = Member("a"), Member("b", healthy=False)
    pool = ComfyUIPool([a, b])
    assert isinstance(pool, ServerGroup) and servers_of(pool) == [a, b]
    assert pool.name == "pool(2)"
    assert await pool.health() == {"a": True, "b": False}
    assert await pool.health_check() is True
    b.healthy = a.healthy = False
    assert await pool.health_check() is False
    await pool.cancel("p-1")
    assert a.cancelled == b.cancelled == ["p-1"]
    await pool.free_memory()
    assert (a.frees, b.frees) == (1, 1)
    await pool.aclose()
    assert a.closed and b.closed


async def test_empty_pool_is_refused() -> None:
    with pytest.raises(GeneratorUnavailableError, match="at least one server"):
        ComfyUIPool([])


async def test_from_settings_builds_one_client_per_url(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, comfyui_url="http://127.0.0.1:1,http://127.0.0.1:2", comfyui_bench_seconds=5)
    pool = ComfyUIPool.from_settings(settings, tmp_path)
    try:
        assert [m.name for m in pool.members] == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        members: list[Any] = list(pool.members)
        assert all(type(m).__name__ == "ComfyUIClient" for m in members)
    finally:
        await pool.aclose()


async def test_pool_over_two_fake_comfyui_servers_moves_work_off_a_dead_one(tmp_path: Path) -> None:
    from tests.fakes.fake_comfyui import FakeComfyUI

    async with FakeComfyUI(tmp_path / "a") as a, FakeComfyUI(tmp_path / "b") as b:
        settings = tiny_clip_settings(
            comfyui_url=[a.url, b.url], comfyui_health_timeout=2, comfyui_http_timeout=5, video_steps=2,
            comfyui_poll_interval=0.02, comfyui_bench_seconds=600,
        )  # fmt: skip
        pool = ComfyUIPool.from_settings(settings, tmp_path / "out")
        scenes = [SceneDecision(type="text_only", text_lines=[f"줄 {i}"], video_mode="t2v",
                                video_prompt=f"A cat walks on a beach at dawn, shot {i}. The camera follows.")
                  for i in range(6)]
        await b.stop()  # down from the start: benched by the health check, never sent a job
        try:
            results = await VideoManager(pool, None, settings).generate_all_clips(
                scenes, "daily", "p", output_dir=tmp_path / "post")
        finally:
            await pool.aclose()
        assert all(r.success for r in results)
        assert {a.server for r in results for a in r.attempt_log} == {a.url}
        assert len(a.jobs_run) == 6
