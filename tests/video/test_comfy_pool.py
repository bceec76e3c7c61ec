from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ai_worker.errors import (
    ComfyUIConnectionError,
    ComfyUIExecutionError,
    ComfyUIServerError,
    GeneratorError,
    GeneratorUnavailableError,
)
from ai_worker.video.comfy_pool import ComfyUIPool
from ai_worker.video.generator import (
    ClipRequest,
    ClipResult,
    GenerationHooks,
    ModelVariant,
    ProgressEvent,
    VideoGenerator,
)
from config.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeGenerator:
    """An in-process member: jobs block until the test lets them finish."""

    def __init__(self, name: str, *, loaded_model: ModelVariant | None = None) -> None:
        self._name = name
        self.loaded_model = loaded_model
        self.healthy = True
        self.health_calls = 0
        self.fail_before_submit: list[Exception] = []
        self.fail_after_submit: list[Exception] = []
        self.running: list[str] = []
        self.max_running = 0
        self.done: dict[str, asyncio.Event] = {}
        self.cancelled: list[str] = []
        self.closed = False
        self._count = 0

    @property
    def name(self) -> str:
        return self._name

    async def health_check(self) -> bool:
        self.health_calls += 1
        return self.healthy

    async def _job(self, request: ClipRequest, hooks: GenerationHooks | None) -> ClipResult:
        if self.fail_before_submit:
            raise self.fail_before_submit.pop(0)
        self._count += 1
        prompt_id = f"{self._name}-p{self._count}"
        if hooks and hooks.on_submitted:
            hooks.on_submitted(self._name, prompt_id)
        if hooks and hooks.on_progress:
            hooks.on_progress(ProgressEvent(self._name, prompt_id, 1, 2))
        self.running.append(prompt_id)
        self.max_running = max(self.max_running, len(self.running))
        event = self.done.setdefault(prompt_id, asyncio.Event())
        try:
            await event.wait()
            if self.fail_after_submit:
                raise self.fail_after_submit.pop(0)
        finally:
            self.running.remove(prompt_id)
        self.loaded_model = request.model
        return ClipResult(request.output_path, self._name, prompt_id)

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        return await self._job(request, hooks)

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        return await self._job(request, hooks)

    async def cancel(self, prompt_id: str) -> None:
        self.cancelled.append(prompt_id)

    async def aclose(self) -> None:
        self.closed = True

    def finish(self, prompt_id: str) -> None:
        self.done.setdefault(prompt_id, asyncio.Event()).set()


def request(model: ModelVariant = "full", name: str = "c.mp4") -> ClipRequest:
    return ClipRequest(
        prompt="p", negative_prompt="n", width=64, height=64, num_frames=9, fps=24, steps=2, cfg=1.0, seed=1,
        output_path=Path(name), model=model,
    )  # fmt: skip


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def make_pool(*members: FakeGenerator, clock: FakeClock | None = None) -> ComfyUIPool:
    return ComfyUIPool(list(members), bench_seconds=60.0, clock=clock or FakeClock())


async def test_fakes_implement_the_protocol() -> None:
    assert isinstance(FakeGenerator("a"), VideoGenerator)
    assert isinstance(make_pool(FakeGenerator("a")), VideoGenerator)


async def test_name_and_result_server() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    pool = make_pool(a, b)
    assert pool.name == "pool(2)"
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    a.finish("a-p1")
    result = await task
    assert result == ClipResult(Path("c.mp4"), "a", "a-p1")


async def test_idle_member_before_busy_one_even_with_the_right_model() -> None:
    a, b = FakeGenerator("a", loaded_model="full"), FakeGenerator("b", loaded_model="distilled")
    pool = make_pool(a, b)
    first = asyncio.create_task(pool.generate_t2v(request("full")))
    await settle()
    second = asyncio.create_task(pool.generate_t2v(request("full")))
    await settle()
    assert a.running == ["a-p1"] and b.running == ["b-p1"]
    a.finish("a-p1")
    b.finish("b-p1")
    assert (await first).server == "a" and (await second).server == "b"


async def test_prefers_the_member_holding_the_checkpoint() -> None:
    a, b = FakeGenerator("a", loaded_model="full"), FakeGenerator("b", loaded_model="distilled")
    pool = make_pool(a, b)
    task = asyncio.create_task(pool.generate_t2v(request("distilled")))
    await settle()
    assert b.running == ["b-p1"] and a.running == []
    b.finish("b-p1")
    assert (await task).server == "b"


async def test_when_all_busy_queue_behind_the_matching_model() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    pool = make_pool(a, b)
    t1 = asyncio.create_task(pool.generate_t2v(request("distilled")))
    await settle()
    t2 = asyncio.create_task(pool.generate_t2v(request("full")))
    await settle()
    assert a.running == ["a-p1"] and b.running == ["b-p1"]
    # both busy: a full-model job queues on b, which is about to hold the full checkpoint
    t3 = asyncio.create_task(pool.generate_t2v(request("full")))
    await settle()
    assert b.running == ["b-p1", "b-p2"]
    for prompt_id in ("a-p1", "b-p1", "b-p2"):
        (a if prompt_id.startswith("a") else b).finish(prompt_id)
    assert [(await t).server for t in (t1, t2, t3)] == ["a", "b", "b"]


async def test_at_most_one_running_and_one_queued_per_member() -> None:
    a = FakeGenerator("a")
    pool = make_pool(a)
    tasks = [asyncio.create_task(pool.generate_t2v(request(name=f"{i}.mp4"))) for i in range(4)]
    await settle()
    assert a.running == ["a-p1", "a-p2"]
    a.finish("a-p1")
    await settle()
    assert a.running == ["a-p2", "a-p3"]
    for prompt_id in ("a-p2", "a-p3", "a-p4"):
        a.finish(prompt_id)
        await settle()
    results = await asyncio.gather(*tasks)
    assert [r.prompt_id for r in results] == ["a-p1", "a-p2", "a-p3", "a-p4"]
    assert a.max_running == 2


async def test_transport_failure_before_submit_benches_and_moves_on() -> None:
    clock = FakeClock()
    a, b = FakeGenerator("a"), FakeGenerator("b")
    a.fail_before_submit.append(ComfyUIConnectionError("refused", server="a"))
    pool = make_pool(a, b, clock=clock)
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    assert b.running == ["b-p1"]
    b.finish("b-p1")
    assert (await task).server == "b"
    assert pool.benched() == {"a": 60.0}

    # while benched, a is skipped even though idle
    clock.now += 59
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    assert b.running == ["b-p2"] and a.running == []
    b.finish("b-p2")
    await task

    # after the bench time a is health-checked again and used (b holds the full model, this job wants the other)
    clock.now += 2
    checks = a.health_calls
    task = asyncio.create_task(pool.generate_t2v(request("distilled")))
    await settle()
    assert a.health_calls == checks + 1 and a.running == ["a-p1"]
    a.finish("a-p1")
    assert (await task).server == "a"
    assert pool.benched() == {}


async def test_transport_failure_after_submit_is_raised_and_benches() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    a.fail_after_submit.append(ComfyUIServerError("502", server="a"))
    submitted: list[tuple[str, str]] = []
    pool = make_pool(a, b)
    task = asyncio.create_task(
        pool.generate_t2v(request(), GenerationHooks(on_submitted=lambda s, p: submitted.append((s, p))))
    )
    await settle()
    a.finish("a-p1")
    with pytest.raises(ComfyUIServerError):
        await task
    assert submitted == [("a", "a-p1")]
    assert set(pool.benched()) == {"a"}
    assert b.running == []


async def test_job_errors_are_passed_on_without_benching() -> None:
    a = FakeGenerator("a")
    a.fail_after_submit.append(ComfyUIExecutionError("boom", server="a"))
    pool = make_pool(a)
    task = asyncio.create_task(pool.generate_i2v(request()))
    await settle()
    a.finish("a-p1")
    with pytest.raises(ComfyUIExecutionError):
        await task
    assert pool.benched() == {}
    # the slot was released: the next job runs
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    a.finish("a-p2")
    assert (await task).prompt_id == "a-p2"


async def test_unhealthy_member_is_benched_on_first_use() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    a.healthy = False
    pool = make_pool(a, b)
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    assert b.running == ["b-p1"] and a.health_calls == 1
    b.finish("b-p1")
    await task
    assert set(pool.benched()) == {"a"}


async def test_all_members_failing_is_unavailable() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    a.fail_before_submit.append(ComfyUIConnectionError("refused"))
    b.healthy = False
    pool = make_pool(a, b)
    with pytest.raises(GeneratorUnavailableError, match="a benched for 60 s more; b benched for 60 s more"):
        await pool.generate_t2v(request())
    with pytest.raises(GeneratorUnavailableError):
        await pool.generate_t2v(request())
    assert await pool.health_check() is False


async def test_health_check_checks_every_member() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    b.healthy = False
    pool = make_pool(a, b)
    assert await pool.health_check() is True
    assert (a.health_calls, b.health_calls) == (1, 1)
    assert set(pool.benched()) == {"b"}
    # a was checked: the next job does not check it again
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    a.finish("a-p1")
    await task
    assert a.health_calls == 1


async def test_cancel_goes_to_the_owner_or_to_everyone() -> None:
    a, b = FakeGenerator("a"), FakeGenerator("b")
    pool = make_pool(a, b)
    t1 = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    t2 = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    await pool.cancel("b-p1")
    assert b.cancelled == ["b-p1"] and a.cancelled == []
    await pool.cancel("from-an-earlier-run")
    assert a.cancelled == ["from-an-earlier-run"] and b.cancelled == ["b-p1", "from-an-earlier-run"]
    a.finish("a-p1")
    b.finish("b-p1")
    await asyncio.gather(t1, t2)
    # finished prompts are forgotten: a late cancel goes to everyone
    await pool.cancel("a-p1")
    assert a.cancelled[-1] == "a-p1" and b.cancelled[-1] == "a-p1"


async def test_hooks_are_forwarded() -> None:
    a = FakeGenerator("a")
    pool = make_pool(a)
    events: list[ProgressEvent] = []
    submitted: list[tuple[str, str]] = []
    hooks = GenerationHooks(on_progress=events.append, on_submitted=lambda s, p: submitted.append((s, p)))
    task = asyncio.create_task(pool.generate_t2v(request(), hooks))
    await settle()
    a.finish("a-p1")
    await task
    assert events == [ProgressEvent("a", "a-p1", 1, 2)]
    assert submitted == [("a", "a-p1")]


async def test_cancelled_caller_releases_the_slot() -> None:
    a = FakeGenerator("a")
    pool = ComfyUIPool([a], clock=FakeClock(), slots_per_member=1)
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    task = asyncio.create_task(pool.generate_t2v(request()))
    await settle()
    assert a.running == ["a-p2"]
    a.finish("a-p2")
    await task


async def test_upscale_needs_a_member_that_supports_it_and_close_closes_all() -> None:
    a = FakeGenerator("a")
    pool = make_pool(a)
    with pytest.raises(GeneratorError, match="cannot run the two-stage upscale"):
        await pool.generate_t2v_with_upscale(request("distilled"))
    await pool.aclose()
    assert a.closed


async def test_empty_pool_is_refused() -> None:
    with pytest.raises(GeneratorUnavailableError, match="at least one server"):
        ComfyUIPool([])


async def test_from_settings_builds_one_client_per_url(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, comfyui_url="http://127.0.0.1:1,http://127.0.0.1:2", comfyui_bench_seconds=5)
    pool = ComfyUIPool.from_settings(settings, tmp_path)
    try:
        assert pool.name == "pool(2)"
        assert [m.name for m in pool.members] == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        members: list[Any] = list(pool.members)
        assert all(type(m).__name__ == "ComfyUIClient" for m in members)
    finally:
        await pool.aclose()


# --- two real fake ComfyUI servers ------------------------------------------------------------------------------


async def test_pool_over_two_fake_comfyui_servers(tmp_path: Path) -> None:
    from tests.fakes.fake_comfyui import FakeComfyUI

    def clip(name: str, model: ModelVariant) -> ClipRequest:
        return ClipRequest(
            prompt="바닷가를 걷는 고양이", negative_prompt="blurry", width=64, height=64, num_frames=9, fps=24,
            steps=2, cfg=1.0, seed=7, output_path=tmp_path / "clips" / name, model=model,
        )  # fmt: skip

    async with FakeComfyUI(tmp_path / "a") as a, FakeComfyUI(tmp_path / "b") as b:
        settings = Settings(
            _env_file=None, comfyui_url=[a.url, b.url], comfyui_health_timeout=2, comfyui_http_timeout=5,
            comfyui_poll_interval=0.05, comfyui_bench_seconds=30,
        )  # fmt: skip
        pool = ComfyUIPool.from_settings(settings, tmp_path / "out")
        try:
            assert await pool.health_check() is True
            first, second = await asyncio.gather(
                pool.generate_t2v(clip("1.mp4", "full")), pool.generate_t2v(clip("2.mp4", "distilled"))
            )
            assert (first.server, second.server) == (a.url, b.url)
            assert first.path.stat().st_size > 0 and second.path.stat().st_size > 0
            assert [s["prompt"]["1"]["inputs"]["ckpt_name"] for s in b.submitted] == [settings.video_model_distilled]

            # b goes away: the next distilled job would prefer it, fails before submitting, and runs on a
            await b.stop()
            third = await pool.generate_t2v(clip("3.mp4", "distilled"))
            assert third.server == a.url and third.path.stat().st_size > 0
            assert set(pool.benched()) == {b.url}
        finally:
            await pool.aclose()
