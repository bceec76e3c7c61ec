"""Phase 4.5, 6 and 7 together, in process, as the rest of the pipeline calls them."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

from ai_worker.pipeline.content_processor import process_post
from ai_worker.pipeline.post_file import Post
from ai_worker.pipeline.scene_director import SceneDecision, line_text
from ai_worker.video.manifest import ManifestStore
from ai_worker.video.probe import probe_clip
from ai_worker.video.visual_anchor import mentions_subject
from config.settings import Settings, load_settings
from tests.fakes.fake_comfyui import FakeComfyUI

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
    for scene in post.scenes:
        assert scene.video_clip_path is not None
        info = probe_clip(Path(scene.video_clip_path))
        assert (info.width, info.height, info.frames) == (128, 96, 9)
    manifest = ManifestStore(result.manifest_path).load()
    assert manifest is not None and manifest.backend == "comfyui"
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
    for scene in post.scenes:
        assert scene.video_clip_path is not None
        info = probe_clip(Path(scene.video_clip_path))
        assert (info.width, info.height, info.frames) == (128, 96, 9)
