"""Resume: a second run reuses clips that still validate, does not repeat finished scenes, and re-attaches to
prompts still running on the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.core.errors import ComfyUIExecutionError, FFmpegNotFoundError
from ai_worker.media.local_backend import LocalBackend
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks
from ai_worker.model.manifest import ManifestStore
from ai_worker.model.scene import SceneDecision, line_text
from ai_worker.orchestration.conductor import VideoManager
from ai_worker.orchestration.events import AttemptStarted, SceneDone, VideoGenerationResult
from config.settings import Settings
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.fakes.settings import tiny_clip_settings


def small_settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "video_steps": 4,
        "video_steps_fallback": 3,
        "video_gen_timeout": 10,
        "comfyui_poll_interval": 0.02,
    }
    return tiny_clip_settings(**{**defaults, **values})


def make_scenes(count: int) -> list[SceneDecision]:
    return [
        SceneDecision(
            type="text_only",
            text_lines=[f"line {i}"],
            video_mode="t2v",
            video_prompt=f"A cat sleeps on a warm floor, shot {i}. The camera holds steady.",
        )
        for i in range(count)
    ]


class Counting(LocalBackend):
    """The local backend, counting the clips it makes; fails the scenes in `failing`."""

    def __init__(self, failing: set[int] | None = None) -> None:
        super().__init__()
        self.made: list[int] = []
        self.failing = failing or set()

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        scene = int(request.output_path.name.split("_")[1])
        self.made.append(scene)
        if scene in self.failing:
            raise ComfyUIExecutionError("always fails")
        return await super().generate_t2v(request, hooks)


async def run(
    generator: Any, scenes: list[SceneDecision], folder: Path, settings: Settings | None = None
) -> list[VideoGenerationResult]:
    manager = VideoManager(comfy_client=generator, prompt_engine=None, config=settings or small_settings())
    return await manager.generate_all_clips(
        scenes, "daily", "p", "t", "b", output_dir=folder, store=ManifestStore(folder / "manifest.json")
    )


async def test_second_run_reuses_clips_that_validate(tmp_path: Path) -> None:
    first = Counting()
    results1 = await run(first, make_scenes(3), tmp_path)
    assert first.made == [0, 1, 2]
    second = Counting()
    events: list[object] = []
    manager = VideoManager(comfy_client=second, prompt_engine=None, config=small_settings())
    results2 = await manager.generate_all_clips(
        make_scenes(3),
        "daily",
        "p",
        output_dir=tmp_path,
        store=ManifestStore(tmp_path / "manifest.json"),
        on_event=events.append,
    )
    assert second.made == []
    assert [r.clip_path for r in results2] == [r.clip_path for r in results1]
    assert all(isinstance(e, SceneDone) and e.reused for e in events)


async def test_a_broken_clip_is_made_again_and_only_that_one(tmp_path: Path) -> None:
    results1 = await run(Counting(), make_scenes(3), tmp_path)
    assert results1[1].clip_path is not None
    results1[1].clip_path.write_bytes(results1[1].clip_path.read_bytes()[:500])  # truncated
    again = Counting()
    results2 = await run(again, make_scenes(3), tmp_path)
    assert again.made == [1]
    assert all(r.success for r in results2)


async def test_a_changed_scene_is_a_new_scene(tmp_path: Path) -> None:
    await run(Counting(), make_scenes(2), tmp_path)
    scenes = make_scenes(2)
    scenes[1].video_prompt = "A different prompt. The camera pans right."
    again = Counting()
    await run(again, scenes, tmp_path)
    assert again.made == [1]
    # Index moves do not matter: the fingerprint is content, not position.
    again2 = Counting()
    await run(again2, [scenes[1], scenes[0]], tmp_path)
    assert again2.made == []


async def test_exhausted_scenes_are_not_repeated_and_still_merged(tmp_path: Path) -> None:
    first = Counting(failing={1})
    await run(first, make_scenes(3), tmp_path)
    assert first.made.count(1) == 4
    second = Counting(failing={1})
    scenes = make_scenes(3)
    results = await run(second, scenes, tmp_path)
    assert second.made == []
    assert results[1].merged_into == 0 and results[1].attempts == 4
    assert [line_text(line) for s in scenes for line in s.text_lines] == ["line 0", "line 1", "line 2"]


class Crashed(ComfyUIClient):
    """A client in a process that dies: it cannot cancel anything on the server."""

    async def cancel(self, prompt_id: str) -> None:
        return None


async def test_reattaches_to_a_prompt_still_running_after_a_crash(tmp_path: Path) -> None:
    settings = small_settings()
    folder = tmp_path / "post"
    async with FakeComfyUI(tmp_path / "comfy") as server:
        release = asyncio.Event()
        server.faults.push("hold", until=release)
        crashed = Crashed(server.url, folder / "tmp", settings=settings)
        manager = VideoManager(comfy_client=crashed, prompt_engine=None, config=settings)
        task = asyncio.create_task(
            manager.generate_all_clips(
                make_scenes(2), "daily", "p", output_dir=folder, store=ManifestStore(folder / "manifest.json")
            )
        )
        while server.running is None:  # noqa: ASYNC110 - the fake has no 'job started' event
            await asyncio.sleep(0.01)
        held = server.running.prompt_id
        task.cancel()  # the process "dies"; its job keeps the server busy
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await crashed.aclose()
        assert server.interrupts == [] and server.deletes == []
        manifest = ManifestStore(folder / "manifest.json").load()
        assert manifest is not None and manifest.scenes[0].pending is not None
        assert manifest.scenes[0].pending.prompt_id == held

        client = ComfyUIClient(server.url, folder / "tmp", settings=settings)
        manager2 = VideoManager(comfy_client=client, prompt_engine=None, config=settings)

        def on_event(event: object) -> None:
            if isinstance(event, AttemptStarted) and event.reattach:
                release.set()  # the held prompt finishes only once the new run is re-attached to it

        task2 = asyncio.create_task(
            manager2.generate_all_clips(
                make_scenes(2), "daily", "p", output_dir=folder, store=ManifestStore(folder / "manifest.json"),
                on_event=on_event,
            )
        )
        results = await task2
        await client.aclose()
        assert [r.success for r in results] == [True, True]
        assert results[0].attempt_log[-1].reattached and results[0].attempt_log[-1].prompt_id == held
        scene0 = [b for b in server.submitted if "shot 0." in json.dumps(b)]
    assert len(scene0) == 1  # scene 0 was never submitted again


class NoFFmpeg(LocalBackend):
    """Healthy at first, then FFmpeg is gone (uninstalled mid-run, a broken FFMPEG_BINARY)."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        self.tries += 1
        raise FFmpegNotFoundError("could not start FFmpeg at /usr/bin/ffmpeg: No such file or directory")


async def test_a_scene_failed_for_an_outside_reason_is_retried_by_the_next_run(tmp_path: Path) -> None:
    broken = NoFFmpeg()
    results = await run(broken, make_scenes(3), tmp_path)
    assert not any(r.success for r in results)
    assert broken.tries == 3  # one try per scene, not four rungs of a missing FFmpeg
    manifest = ManifestStore(tmp_path / "manifest.json").load()
    assert manifest is not None and {s.failure_kind for s in manifest.scenes} == {"external"}
    fixed = Counting()
    results = await run(fixed, make_scenes(3), tmp_path)
    assert all(r.success for r in results) and fixed.made == [0, 1, 2]
    manifest = ManifestStore(tmp_path / "manifest.json").load()
    assert manifest is not None and all(s.retried and "external" in s.retried for s in manifest.scenes)
    assert [a.rung for a in manifest.scenes[0].attempts] == [1, 1]  # the rung that failed for FFmpeg, again
