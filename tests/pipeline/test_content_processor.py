"""Phase 4.5, 6 and 7 together, in process, as the rest of the pipeline calls them."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from ai_worker.core.errors import OutputError, RunLockedError
from ai_worker.core.run_lock import post_lock
from ai_worker.media.local_backend import LocalBackend
from ai_worker.media.probe import probe_clip
from ai_worker.model.manifest import Manifest, ManifestStore
from ai_worker.model.post_file import Post
from ai_worker.model.scene import SceneDecision, line_text
from ai_worker.orchestration.conductor import VideoManager
from ai_worker.orchestration.events import SceneDone
from ai_worker.pipeline.content_processor import process_post
from ai_worker.prompts.anchor import mentions_subject
from config.settings import Settings, load_settings
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.sampling_ollama import SamplingOllama

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "posts"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "video_gen_enabled": True,
        "video_resolution": (128, 96),
        "video_resolution_fallback": (96, 64),
        "video_num_frames": 9,
        "video_num_frames_fallback": 9,
        "ollama_host": f"http://127.0.0.1:{_closed_port()}",
        "comfyui_url": [f"http://127.0.0.1:{_closed_port()}"],
        "comfyui_poll_interval": 0.05,
    }
    values.update(overrides)
    return load_settings(**values)


def _post(tmp_path: Path) -> Post:
    shutil.copy(EXAMPLES / "images" / "rainy_street.jpg", tmp_path / "photo.jpg")
    scenes = [
        SceneDecision(type="intro", text_lines=["첫 줄"]),
        SceneDecision(type="img_text", text_lines=["사진 줄", {"text": "음성 줄", "audio": "a.wav"}],
                      image_url="photo.jpg"),
        SceneDecision(type="outro", text_lines=["끝 줄"]),
    ]
    return Post(post_id="cp_1", title="제목", body_summary="요약", mood="horror", scenes=scenes,
                source_path=tmp_path / "post.json")


async def test_disabled_stage_does_nothing(tmp_path: Path) -> None:
    post = _post(tmp_path)
    result = await process_post(post, settings=_settings(video_gen_enabled=False), out_dir=tmp_path / "out")
    assert result.enabled is False
    assert all(scene.video_mode is None and scene.video_clip_path is None for scene in post.scenes)
    assert not (tmp_path / "out").exists()


async def test_auto_picks_a_healthy_comfyui_and_makes_every_clip_there(tmp_path: Path) -> None:
    post = _post(tmp_path)
    async with FakeComfyUI(tmp_path / "server") as server:
        settings = _settings(comfyui_url=[server.url])
        result = await process_post(post, settings=settings, out_dir=tmp_path / "out")
        submitted = list(server.submitted)
    assert result.backend == "comfyui"
    assert "answered its health check" in (result.backend_reason or "")
    assert len(submitted) == 3
    assert [scene.video_mode for scene in post.scenes] == ["t2v", "i2v", "t2v"]
    manifest = ManifestStore(result.manifest_path).load()
    assert manifest is not None and manifest.backend == "comfyui"
    _assert_clips_are_as_asked(post, manifest)
    assert {attempt.server for record in manifest.scenes for attempt in record.attempts} == {server.url}
    # Phase 6's visual anchor is in the manifest, and every text-to-video prompt names its main character.
    anchor = manifest.visual_anchor
    assert anchor is not None and anchor.source == "fallback: ollama unreachable"
    t2v = [record.prompt or "" for record in manifest.scenes if record.mode == "t2v"]
    assert len(t2v) == 2 and all(mentions_subject(prompt, anchor.subject) for prompt in t2v)
    # Narration audio paths are relative to the post file: made absolute for the clip planner.
    assert post.scenes[1].text_lines[1] == {"text": "음성 줄", "audio": str(tmp_path / "a.wav")}


async def test_every_scene_failing_keeps_every_line_in_order(tmp_path: Path) -> None:
    post = _post(tmp_path)
    lines_before = [line_text(line) for scene in post.scenes for line in scene.text_lines]
    async with FakeComfyUI(tmp_path / "server") as server:
        for _ in range(12):
            server.faults.push("oom")
        result = await process_post(
            post, settings=_settings(comfyui_url=[server.url], video_backend="comfyui"), out_dir=tmp_path / "out"
        )
    assert all(not r.success for r in result.results)
    assert [line_text(line) for scene in post.scenes for line in scene.text_lines] == lines_before
    manifest = ManifestStore(result.manifest_path).load()
    assert manifest is not None
    assert [line_text(line) for scene in manifest.final_scenes for line in scene.text_lines] == lines_before


async def test_a_user_workflow_folder_runs_end_to_end(tmp_path: Path) -> None:
    """The bundled model-free smoke workflows, as a user folder, through the real client and fake server."""
    post = _post(tmp_path)
    smoke = EXAMPLES.parent / "workflows" / "smoke"
    async with FakeComfyUI(tmp_path / "server") as server:
        settings = _settings(comfyui_url=[server.url], comfyui_workflow_dir=smoke, video_backend="comfyui")
        result = await process_post(post, settings=settings, out_dir=tmp_path / "out")
        classes = [{node["class_type"] for node in body["prompt"].values()} for body in server.submitted]
    assert all(r.success for r in result.results)
    assert {"EmptyImage", "VHS_VideoCombine"} in classes
    assert {"LoadImage", "ImageScale", "RepeatImageBatch", "VHS_VideoCombine"} in classes
    manifest = ManifestStore(result.manifest_path).load()
    assert manifest is not None
    _assert_clips_are_as_asked(post, manifest)


def _assert_clips_are_as_asked(post: Post, manifest: Manifest) -> None:
    """Every clip is what its attempt asked for (clip_plan: frames from the narration, the image-to-video size
    from the image's aspect), and t2v keeps VIDEO_RESOLUTION."""
    for scene, record in zip(post.scenes, manifest.scenes, strict=True):
        assert scene.video_clip_path is not None
        info = probe_clip(Path(scene.video_clip_path))
        asked = next(attempt for attempt in record.attempts if attempt.ok).shape
        assert asked is not None
        assert (info.width, info.height, info.frames) == (asked["width"], asked["height"], asked["num_frames"])
        assert info.frames > 9, "short lines still get the two-second minimum, not VIDEO_NUM_FRAMES"
        if record.mode == "t2v":  # VIDEO_RESOLUTION 128x96, snapped to the default two-stage recipe's 64
            assert (info.width, info.height) == (128, 64)


# --- resume with a real (sampling) LLM, retries, superseded clips, the lock -------------------------------------


def _text_post(tmp_path: Path, count: int = 4, post_id: str = "cp_resume") -> Post:
    scenes = [SceneDecision(type="text_only", text_lines=[f"{i}번째 줄", f"{i}번째 둘째 줄"]) for i in range(count)]
    return Post(post_id=post_id, title="비 오는 날", body_summary="버스 정류장 이야기", mood="daily", scenes=scenes,
                source_path=tmp_path / f"{post_id}.json")


def _local(ollama: FakeOllama, **overrides: Any) -> Settings:
    return _settings(ollama_host=ollama.url, video_backend="local", **overrides)


async def test_a_rerun_with_a_sampling_llm_makes_no_new_clip(tmp_path: Path) -> None:
    async with SamplingOllama() as ollama:
        settings = _local(ollama)
        first = await process_post(_text_post(tmp_path), settings=settings, out_dir=tmp_path / "out")
        assert all(s.prompt_source == "llm" for s in first.scenes)
        asked = ollama.answered
        second = await process_post(_text_post(tmp_path), settings=settings, out_dir=tmp_path / "out")
        assert ollama.answered == asked  # the saved prompts were used: the LLM was not asked again
    assert second.prompts_reused == 4
    assert all(r.success and r.reused for r in second.results)
    assert [s.video_clip_path for s in second.scenes] == [s.video_clip_path for s in first.scenes]
    manifest = ManifestStore(second.manifest_path).load()
    assert manifest is not None and all(r.reused and len(r.attempts) == 1 for r in manifest.scenes)


async def test_ctrl_c_then_rerun_never_remakes_a_finished_clip(tmp_path: Path) -> None:
    async with SamplingOllama() as ollama:
        settings = _local(ollama)
        done: list[SceneDone] = []
        task: asyncio.Task[object] | None = None

        def on_event(event: object) -> None:
            if isinstance(event, SceneDone):
                done.append(event)
                if len(done) == 2 and task is not None:
                    task.cancel()  # Ctrl-C after two clips

        task = asyncio.create_task(process_post(_text_post(tmp_path), settings=settings, out_dir=tmp_path / "out",
                                                on_event=on_event))
        with pytest.raises(asyncio.CancelledError):
            await task
        finished = {e.scene_index: e.clip_path for e in done}
        again: list[SceneDone] = []
        result = await process_post(_text_post(tmp_path), settings=settings, out_dir=tmp_path / "out",
                                    on_event=lambda e: again.append(e) if isinstance(e, SceneDone) else None)
    assert all(r.success for r in result.results)
    for event in again:
        if event.scene_index in finished:
            assert event.reused and event.clip_path == finished[event.scene_index]
    assert sum(not e.reused for e in again) == 4 - len(finished)


async def test_refreshed_prompts_make_new_clips_and_the_old_ones_go(tmp_path: Path) -> None:
    async with SamplingOllama() as ollama:
        settings = _local(ollama)
        first = await process_post(_text_post(tmp_path), settings=settings, out_dir=tmp_path / "out")
        old = {Path(s.video_clip_path or "") for s in first.scenes}
        second = await process_post(_text_post(tmp_path), settings=settings, out_dir=tmp_path / "out",
                                    refresh_prompts=True)
    assert [s.video_prompt for s in second.scenes] != [s.video_prompt for s in first.scenes]
    assert all(r.success and not r.reused for r in second.results)
    assert not any(path.exists() for path in old)  # superseded clips are removed by the run that replaced them
    clips = sorted(p.name for p in (second.output_dir / "clips").iterdir())
    assert clips == sorted(Path(s.video_clip_path or "").name for s in second.scenes)


async def test_a_post_whose_backend_was_down_is_made_on_the_next_run(tmp_path: Path) -> None:
    async with SamplingOllama() as ollama:
        broken = _local(ollama, ffmpeg_binary=tmp_path / "no-ffmpeg")
        first = await process_post(_text_post(tmp_path), settings=broken, out_dir=tmp_path / "out")
        assert all(r.skipped and not r.success for r in first.results)
        fixed = await process_post(_text_post(tmp_path), settings=_local(ollama), out_dir=tmp_path / "out")
    assert all(r.success for r in fixed.results)


async def test_retry_failed_retries_scenes_that_failed_for_their_own_reasons(tmp_path: Path) -> None:
    post = _text_post(tmp_path, count=2)
    store = ManifestStore(tmp_path / "out" / "cp_resume" / "manifest.json")
    async with SamplingOllama() as ollama:
        settings = _local(ollama)
        await process_post(post, settings=settings, out_dir=tmp_path / "out")
        manifest = store.load()
        assert manifest is not None
        for record in manifest.scenes:  # as if every rung had failed in that run
            record.status, record.failure_kind, record.failure_reason = "failed", "exhausted", "all 4 failed"
            record.clip_path, record.next_rung = None, 4
        store.save(manifest)
        kept = await process_post(_text_post(tmp_path, count=2), settings=settings, out_dir=tmp_path / "out")
        assert not any(r.success for r in kept.results)  # exhausted scenes are not repeated by themselves
        again = await process_post(_text_post(tmp_path, count=2), settings=settings, out_dir=tmp_path / "out",
                                   retry_failed=True)
    assert all(r.success and not r.reused for r in again.results)
    manifest = store.load()
    assert manifest is not None and all(s.retried and "--retry-failed" in s.retried for s in manifest.scenes)


async def test_a_second_run_of_the_same_post_says_another_run_holds_it(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "cp_resume"
    with post_lock(folder), pytest.raises(RunLockedError, match=rf"another run \(PID {os.getpid()}\)"):
        await process_post(_text_post(tmp_path), settings=_settings(video_backend="local"),
                           out_dir=tmp_path / "out")
    result = await process_post(_text_post(tmp_path), settings=_settings(video_backend="local"),
                                out_dir=tmp_path / "out")
    assert all(r.success for r in result.results)


async def test_a_manifest_that_cannot_be_saved_is_one_clear_error(tmp_path: Path) -> None:
    class Full(ManifestStore):
        saves = 0

        def save(self, manifest: Manifest) -> None:
            Full.saves += 1
            if Full.saves > 2:
                raise_full(self.path)
            super().save(manifest)

    def raise_full(path: Path) -> None:
        try:
            raise OSError(28, "No space left on device")
        except OSError as exc:
            raise OutputError(f"{path}: could not save the manifest ({exc.strerror})") from exc

    manager = VideoManager(LocalBackend(), None, _settings(video_backend="local"))
    scenes = [SceneDecision(type="text_only", text_lines=["하나"], video_mode="t2v",
                            video_prompt="A bus stop in the rain at night. The camera holds steady.")]
    with pytest.raises(OutputError, match="No space left"):
        await manager.generate_all_clips(scenes, "daily", "p", output_dir=tmp_path / "p",
                                         store=Full(tmp_path / "p" / "manifest.json"))


async def test_saving_into_a_folder_that_is_a_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("not a folder", encoding="utf-8")
    with pytest.raises(OutputError, match="could not save the manifest"):
        ManifestStore(tmp_path / "p" / "manifest.json").save(Manifest(post_id="p"))
