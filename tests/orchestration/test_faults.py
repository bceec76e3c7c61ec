"""The fault suite: the manager with the real ComfyUI client against the fake ComfyUI (real sockets, real
mp4s). After every fault no line of the script is lost, the story order holds and the manifest reads back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.media.probe import validate_clip
from ai_worker.model.manifest import Manifest, ManifestStore
from ai_worker.model.scene import SceneDecision, line_text
from ai_worker.orchestration.conductor import VideoManager
from ai_worker.orchestration.events import AttemptStarted, ManagerEvent, SceneDone, VideoGenerationResult
from config.settings import Settings
from tests.fakes.fake_comfyui import SAMPLER_CLASSES, FakeComfyUI, _Vanished
from tests.fakes.settings import tiny_clip_settings


def fault_settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "video_steps": 4,
        "video_steps_fallback": 3,
        # No real-time budget decides an outcome here: a fake job takes milliseconds, so only a hung prompt
        # (which outlasts any budget) reaches this, even on a loaded machine. See `TimesOutOnce`.
        "video_gen_timeout": 120,
        "comfyui_poll_interval": 0.02,
        "comfyui_max_poll_errors": 3,
        "comfyui_health_timeout": 2.0,
        "comfyui_http_timeout": 5.0,
    }
    return tiny_clip_settings(**{**defaults, **values})


def make_scenes(count: int) -> list[SceneDecision]:
    return [
        SceneDecision(
            type="text_only",
            text_lines=[f"{i}번 장면 첫 줄", {"text": f"{i}번 장면 둘째 줄", "audio": f"a{i}.wav"}],
            video_mode="t2v",
            video_prompt=f"A woman waits at a bus stop in Seoul, take {i}. The camera pushes in slowly.",
        )
        for i in range(count)
    ]


def words(scenes: list[SceneDecision]) -> list[str]:
    return [line_text(line) for scene in scenes for line in scene.text_lines]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FakeComfyUI]:
    async with FakeComfyUI(tmp_path / "comfy") as fake:
        yield fake


class Run:
    """One post through the manager with a fresh client; checks the invariants afterwards."""

    def __init__(self, server: FakeComfyUI, tmp_path: Path, settings: Settings | None = None) -> None:
        self.server = server
        self.folder = tmp_path / "post"
        self.settings = settings or fault_settings()
        self.store = ManifestStore(self.folder / "manifest.json")
        self.events: list[ManagerEvent] = []

    def client(self, cls: type[ComfyUIClient] = ComfyUIClient) -> ComfyUIClient:
        return cls(self.server.url, self.folder / "tmp", settings=self.settings)

    async def go(
        self, scenes: list[SceneDecision], *, client: ComfyUIClient | None = None, on_event: Any = None
    ) -> list[VideoGenerationResult]:
        client = client or self.client()
        manager = VideoManager(comfy_client=client, prompt_engine=None, config=self.settings)

        def record(event: ManagerEvent) -> None:
            self.events.append(event)
            if on_event is not None:
                on_event(event)

        try:
            return await manager.generate_all_clips(
                scenes, "daily", "post-1", "제목", "요약", output_dir=self.folder, store=self.store, on_event=record
            )
        finally:
            await client.aclose()

    def manifest(self) -> Manifest:
        manifest = self.store.load()
        assert manifest is not None
        return manifest

    def check(self, before: list[str], scenes: list[SceneDecision]) -> Manifest:
        assert words(scenes) == before  # no line lost, order kept
        manifest = self.manifest()  # reads back
        final = [line_text(line) for scene in manifest.final_scenes for line in scene.text_lines]
        assert final == before
        indices = [i for scene in manifest.final_scenes for i in scene.source_indices]
        assert indices == sorted(indices) == list(range(len(manifest.scenes)))
        for scene in scenes:
            if scene.video_clip_path:
                validate_clip(Path(scene.video_clip_path))
                assert Path(scene.video_clip_path).is_relative_to(self.folder)
        return manifest


async def test_websocket_drop_still_completes(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(2)
    before = words(scenes)
    server.faults.push("ws_drop")
    results = await run.go(scenes)
    assert [r.success for r in results] == [True, True]
    assert [r.attempts for r in results] == [1, 1]
    run.check(before, scenes)


async def test_restart_mid_job_goes_to_the_next_rung(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(2)
    before = words(scenes)
    server.faults.push("restart")
    results = await run.go(scenes)
    assert all(r.success for r in results)
    assert results[0].attempt_log[0].error_type == "PromptLostError"
    assert results[0].attempts == 2
    run.check(before, scenes)


class TimesOutOnce(ComfyUIClient):
    """Its first prompt gets a short VIDEO_GEN_TIMEOUT, every later one the run's generous one: the hung first
    prompt times out whatever the machine's load (it never finishes), and the next rung is not raced."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generous = self.settings
        self.settings = self.settings.model_copy(update={"video_gen_timeout": 0.3})

    async def _bounded(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._bounded(*args, **kwargs)
        finally:
            self.settings = self.generous


async def test_hang_is_cancelled_on_the_server_and_the_next_rung_runs(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(1)
    before = words(scenes)
    server.faults.push("hang")
    results = await run.go(scenes, client=run.client(TimesOutOnce))
    assert results[0].success and results[0].attempts == 2
    hung = results[0].attempt_log[0]
    assert hung.error_type == "ComfyUITimeoutError"
    assert {"prompt_id": hung.prompt_id} in server.interrupts or hung.prompt_id in server.deletes
    run.check(before, scenes)


async def test_oom_frees_the_server_and_goes_down_a_rung(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(2)
    before = words(scenes)
    server.faults.push("oom")
    results = await run.go(scenes)
    assert all(r.success for r in results)
    assert results[0].attempt_log[0].error_type == "ComfyUIOutOfMemoryError"
    assert len(server.frees) == 1
    assert [a.rung for a in results[0].attempt_log] == [1, 2]
    run.check(before, scenes)


async def test_zero_byte_clip_does_not_count(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(1)
    before = words(scenes)
    server.faults.push("zero_byte")
    results = await run.go(scenes)
    assert results[0].success and results[0].attempts == 2
    assert results[0].attempt_log[0].error_type in ("InvalidOutputError", "InvalidClipError")
    run.check(before, scenes)


async def test_every_scene_failing_keeps_all_lines_in_one_text_scene(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(3)
    before = words(scenes)
    for _ in range(12):
        server.faults.push("error", exception_type="RuntimeError", message="sampler exploded")
    results = await run.go(scenes)
    assert [r.success for r in results] == [False, False, False]
    assert [r.attempts for r in results] == [4, 4, 4]
    assert len(scenes) == 1 and scenes[0].type == "text_only"
    manifest = run.check(before, scenes)
    assert len(manifest.final_scenes) == 1 and manifest.final_scenes[0].clip_path is None
    assert server.checkpoint_switches <= 1


async def test_server_dying_mid_post(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path, fault_settings(comfyui_bench_seconds=0))  # its re-checks fail at once
    scenes = make_scenes(4)
    before = words(scenes)
    stopper: list[asyncio.Task[None]] = []

    def on_event(event: ManagerEvent) -> None:
        if isinstance(event, SceneDone) and event.scene_index == 0 and not stopper:
            stopper.append(asyncio.create_task(server.stop()))

    client = run.client()
    client.slots = 1  # the death lands between two jobs; with two slots the next one may already be done
    results = await run.go(scenes, client=client, on_event=on_event)
    await stopper[0]
    assert results[0].success
    assert not any(r.success for r in results[1:])
    assert sum(len(r.attempt_log) for r in results[1:]) <= 3 + 1  # given up, not 4 attempts per scene
    assert all(r.merged_into == 0 for r in results[1:])
    manifest = run.check(before, scenes)
    assert manifest.scenes[3].failure_kind == "unavailable"


async def test_ctrl_c_cancels_on_the_server_and_the_next_run_resumes(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path)
    scenes = make_scenes(2)
    before = words(scenes)
    server.faults.push("hang")
    running = asyncio.Event()

    def on_event(event: ManagerEvent) -> None:
        if isinstance(event, AttemptStarted):
            running.set()

    task = asyncio.create_task(run.go(scenes, on_event=on_event))
    await running.wait()
    while server.running is None:  # noqa: ASYNC110 - the fake has no 'job started' event
        await asyncio.sleep(0.01)
    prompt_id = server.running.prompt_id
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert {"prompt_id": prompt_id} in server.interrupts or prompt_id in server.deletes
    manifest = run.manifest()
    assert manifest.scenes[0].status == "pending"
    assert manifest.scenes[0].pending is not None and manifest.scenes[0].pending.prompt_id == prompt_id
    assert words(scenes) == before

    # The next run re-attaches, finds the prompt interrupted, makes the rung again, and finishes the post.
    scenes2 = make_scenes(2)
    results = await run.go(scenes2)
    assert [r.success for r in results] == [True, True]
    log = results[0].attempt_log
    assert log[-2].reattached and log[-2].prompt_id == prompt_id and log[-2].action == "retry"
    assert log[-1].rung == 1 and log[-1].error is None
    run.check(before, scenes2)


class QueueWatchingFake(FakeComfyUI):
    """Records how many prompts wait in the server's queue each time one finishes executing (a waiting one
    starts at once: the GPU does not wait for the client's download and next submit).

    Its sampler starts only once the client has queued the next prompt (or all `total` are in): the test is
    about what the client does while a job runs, so it waits for that event instead of for wall time."""

    def __init__(self, root: Path, total: int, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.total = total
        self.waiting_at_end: list[int] = []
        self.submitted_event = asyncio.Event()

    async def _post_prompt(self, request: Any) -> Any:
        response = await super()._post_prompt(request)
        self.submitted_event.set()
        return response

    async def _run_node(self, job: Any, node_id: str, cls: str, states: dict[str, Any]) -> int:
        if cls in SAMPLER_CLASSES:
            while not self.pending and len(self.submitted) < self.total:
                self.submitted_event.clear()
                await self.submitted_event.wait()
        return await super()._run_node(job, node_id, cls, states)

    async def _execute(self, job: Any) -> None:
        await super()._execute(job)
        self.waiting_at_end.append(len(self.pending))


async def test_two_slots_keep_the_next_job_queued_on_the_server(tmp_path: Path) -> None:
    settings = fault_settings(video_gen_timeout=60)
    fake = QueueWatchingFake(tmp_path / "comfy", total=4)
    async with fake:
        run = Run(fake, tmp_path, settings)
        member = run.client()
        assert member.slots == 2
        manager = VideoManager(comfy_client=member, prompt_engine=None, config=settings)
        scenes = make_scenes(4)
        before = words(scenes)
        try:
            results = await manager.generate_all_clips(scenes, "daily", "post-1", output_dir=run.folder,
                                                       store=run.store, on_event=run.events.append)
        finally:
            await member.aclose()
        assert all(r.success for r in results)
        run.check(before, scenes)
        assert len(fake.jobs_run) == 4
        assert max(fake.waiting_at_end) == 1  # one running plus one queued behind it, never more
        assert fake.waiting_at_end[:3] == [1, 1, 1]  # the next job was already queued when each one ended
        started = [e.scene_index for e in run.events if isinstance(e, AttemptStarted)]
        assert started == [0, 1, 2, 3]  # breadth-first, story order


async def test_server_down_from_the_start_makes_no_attempt(tmp_path: Path) -> None:
    fake = FakeComfyUI(tmp_path / "comfy")
    await fake.start()
    await fake.stop()  # its port is closed: connection refused
    run = Run(fake, tmp_path)
    scenes = make_scenes(3)
    before = words(scenes)
    results = await run.go(scenes)
    assert all(r.skipped and r.attempts == 0 for r in results)
    assert not any(isinstance(e, AttemptStarted) for e in run.events)
    assert words(scenes) == before and [s.status for s in run.manifest().scenes] == ["skipped"] * 3


async def test_server_killed_and_left_down_mid_post(server: FakeComfyUI, tmp_path: Path) -> None:
    run = Run(server, tmp_path, fault_settings(comfyui_bench_seconds=0))  # the re-checks fail at once
    scenes = make_scenes(5)
    before = words(scenes)
    killed: list[asyncio.Task[None]] = []
    release = asyncio.Event()
    server.faults.push("hold", until=release)  # scene 0 runs until the kill; scene 1 waits queued behind it

    def on_event(event: ManagerEvent) -> None:
        if isinstance(event, AttemptStarted) and event.scene_index == 1 and not killed:
            killed.append(asyncio.create_task(server.stop()))

    results = await run.go(scenes, on_event=on_event)
    await killed[0]
    received = {body["prompt_id"] for body in server.submitted}
    attempts = [a for r in results for a in r.attempt_log]
    # Nothing waited on a prompt the server never received: such an attempt was moved (never connected) or
    # ended at once (the connection broke mid-request and the health check said the server is gone).
    assert any(a.error_type == "ComfyUINotSubmittedError" and a.action == "moved" for a in attempts)
    for attempt in attempts:
        assert not attempt.reattached
        if attempt.prompt_id not in received:
            assert attempt.error_type in ("ComfyUINotSubmittedError", "ComfyUIConnectionError")
    # The run ended at once: no scene used up a rung on a server that was gone.
    assert not any(r.success for r in results)
    assert len(attempts) <= 5 + 2
    manifest = run.check(before, scenes)
    assert {s.failure_kind for s in manifest.scenes} == {"unavailable"}
    assert all(s.next_rung == 0 for s in manifest.scenes)

    # Back up: the next run starts every scene at the rung that never ran (rung 1), and finishes the post.
    async with FakeComfyUI(tmp_path / "comfy2") as again:
        run2 = Run(again, tmp_path)
        scenes2 = make_scenes(5)
        results2 = await run2.go(scenes2)
        assert all(r.success for r in results2)
        assert [r.attempt_log[-1].rung for r in results2] == [1] * 5
        manifest2 = run2.check(before, scenes2)
        assert all(s.retried and "unavailable" in s.retried for s in manifest2.scenes)


class DropsTheFirstPrompt(FakeComfyUI):
    """The first POST /prompt's connection is cut and the server refuses connections until `up` is set."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.up = asyncio.Event()
        self.blip: asyncio.Task[None] | None = None

    async def _post_prompt(self, request: Any) -> Any:
        if self.blip is None:
            self.blip = asyncio.create_task(self.restart(up=self.up))
            await self.up.wait()  # its connection was cut by the restart: this answer reaches nobody
        return await super()._post_prompt(request)


class ChecksUntilBack(ComfyUIClient):
    """Sets the server's `up` after the first re-check during the blip has failed: the blip outlasts one
    re-check, and no timing decides it."""

    server: ClassVar[DropsTheFirstPrompt]
    checks: ClassVar[list[bool]] = []

    async def health_check(self) -> bool:
        healthy = await super().health_check()
        type(self).checks.append(healthy)
        if not healthy:
            self.server.up.set()
        return healthy


async def test_a_blip_on_the_only_server_costs_no_scene(tmp_path: Path) -> None:
    fake = DropsTheFirstPrompt(tmp_path / "comfy")
    async with fake:
        run = Run(fake, tmp_path, fault_settings(comfyui_bench_seconds=0.05))  # a short wait, decides nothing
        ChecksUntilBack.server, ChecksUntilBack.checks = fake, []
        scenes = make_scenes(4)
        before = words(scenes)
        results = await run.go(scenes, client=run.client(ChecksUntilBack))
        assert fake.blip is not None and fake.blip.done()
        assert False in ChecksUntilBack.checks  # every server was benched and a re-check failed: the jobs waited
        assert all(r.success for r in results)
        manifest = run.check(before, scenes)
        assert [s.status for s in manifest.scenes] == ["done"] * 4


class RestartsAfterWriting(FakeComfyUI):
    """Restarts (sockets cut, queue and history lost; the output folder kept) right after the first job has
    written its clip, before it could report success."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.restarted_on: str | None = None

    async def _to_client(self, job: Any, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "execution_success" and self.restarted_on is None:
            self.restarted_on = job.prompt_id
            self.jobs_run.append(job.prompt_id)
            await self._restart()
            raise _Vanished
        await super()._to_client(job, message)


async def test_server_restarted_mid_post_a_finished_clip_is_downloaded_not_made_again(tmp_path: Path) -> None:
    fake = RestartsAfterWriting(tmp_path / "comfy")
    async with fake:
        run = Run(fake, tmp_path)
        scenes = make_scenes(3)
        before = words(scenes)
        client = run.client()
        client.slots = 1  # nothing queued behind the job the restart hits
        results = await run.go(scenes, client=client)
    assert all(r.success for r in results)
    first = results[0].attempt_log
    assert len(first) == 1 and first[0].recovered and first[0].error is None
    assert first[0].prompt_id == fake.restarted_on
    assert len(fake.submitted) == 3  # scene 0 was not submitted again
    run.check(before, scenes)
