"""`wagglebot-video run` end to end: real post files, real FFmpeg, real clips probed, real manifest."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_worker.cli.app import build_app
from ai_worker.media.probe import probe_clip
from ai_worker.model.manifest import Manifest, ManifestStore
from ai_worker.model.scene import line_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "posts"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def small_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Small clips, and ComfyUI and Ollama on closed local ports, so nothing waits on the network."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDEO_RESOLUTION", "256x160")
    monkeypatch.setenv("VIDEO_NUM_FRAMES", "17")
    monkeypatch.setenv("VIDEO_FPS", "12")
    monkeypatch.setenv("COMFYUI_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("VIDEO_BACKEND", raising=False)
    return tmp_path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def _post_file(tmp_path: Path, scenes: list[dict[str, object]], post_id: str = "t_post") -> Path:
    images = tmp_path / "posts" / "img"
    images.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "images" / "rainy_street.jpg", images / "photo.jpg")
    path = tmp_path / "posts" / "post.json"
    data = {"post_id": post_id, "title": "테스트", "body_summary": "요약", "mood": "shock", "scenes": scenes}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _manifest(folder: Path) -> Manifest:
    manifest = ManifestStore(folder / "manifest.json").load()
    assert manifest is not None
    return manifest


def _all_lines(manifest: Manifest) -> list[str]:
    return [line_text(line) for scene in manifest.final_scenes for line in scene.text_lines]


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_run_makes_probed_clips_for_every_example(small_env: Path, example: Path) -> None:
    out = small_env / "out"
    code, output = _invoke("run", str(example), "--out", str(out))
    assert code == 0, output
    assert "backend: local" in output
    assert "did not answer its health check" in output
    post = json.loads(example.read_text(encoding="utf-8"))
    manifest = _manifest(out / post["post_id"])
    assert manifest.backend == "local"
    assert len(manifest.scenes) == len(post["scenes"])
    for record in manifest.scenes:
        assert record.status == "done", record
        assert record.prompt, "every scene gets a prompt (fallback here: no Ollama)"
        assert record.prompt_source is not None and record.prompt_source.startswith("fallback")
        assert record.clip_path is not None
        info = probe_clip(Path(record.clip_path))
        # The clip is what its attempt asked for: the size follows the image for image-to-video, the frames
        # follow the narration (clip_plan); text-to-video keeps VIDEO_RESOLUTION.
        done = next(attempt for attempt in reversed(record.attempts) if attempt.ok)
        asked = done.shape
        assert asked is not None
        assert done.probed_seconds == pytest.approx(info.duration)  # the clip's real length is recorded
        assert (info.width, info.height, info.frames, info.fps) == (
            asked["width"], asked["height"], asked["num_frames"], 12.0
        )
        if record.mode == "t2v":  # VIDEO_RESOLUTION 256x160 snapped to the two-stage recipe's 64
            assert (info.width, info.height) == (256, 128)
        assert done.params["recipe"] == "distilled-two-stage" and len(done.params["stages"]) == 2  # type: ignore[arg-type]
        assert info.codec == "h264" and not info.has_audio
        assert Path(record.clip_path).resolve().is_relative_to(out.resolve())
    original = [line_text(line) for scene in post["scenes"] for line in scene["text_lines"]]
    assert _all_lines(manifest) == original


def test_backend_choice_is_said(small_env: Path) -> None:
    post = _post_file(small_env, [{"type": "text_only", "text_lines": ["하나"]}])
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"), "--backend", "local")
    assert code == 0, output
    assert "local backend chosen (--backend local or VIDEO_BACKEND=local)" in output


def test_bad_scenes_are_reported_and_the_rest_is_processed(small_env: Path) -> None:
    broken = small_env / "posts" / "img" / "broken.jpg"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"<html>this is not a jpeg</html>")
    post = _post_file(
        small_env,
        [
            {"type": "intro", "text_lines": ["시작"]},
            {"type": "carousel", "text_lines": ["알 수 없는 타입"]},
            {"type": "img_text", "image_url": "img/broken.jpg", "text_lines": ["깨진 이미지"]},
            {"type": "img_only", "image_url": "img/photo.jpg", "text_lines": ["사진"]},
            {"type": "img_text", "image_url": "img/missing.png", "text_lines": ["없는 이미지"]},
            {"type": "outro", "text_lines": ["끝"]},
        ],
    )
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out))
    assert code == 0, output
    assert "scene 1, field 'type': unknown scene type 'carousel'" in output
    manifest = _manifest(out / "t_post")
    assert manifest.input_errors and "carousel" in manifest.input_errors[0]
    by_line = {line_text(r.text_lines[0]): r for r in manifest.scenes}
    assert by_line["깨진 이미지"].mode == "t2v"
    assert any("html" in reason or "not_an_image" in reason or "download_failed" in reason
               for reason in by_line["깨진 이미지"].image_reasons)
    assert by_line["없는 이미지"].mode == "t2v"
    assert any("download_failed" in reason for reason in by_line["없는 이미지"].image_reasons)
    assert by_line["사진"].mode == "i2v"
    assert all(record.status == "done" for record in manifest.scenes)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "file not found"), ("{not json", "not valid JSON"), ('{"post_id": "x"}', "field 'title'")],
)
def test_bad_post_file_exits_2_with_one_line(small_env: Path, content: str | None, message: str) -> None:
    path = small_env / "post.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, output = _invoke("run", str(path), "--out", str(small_env / "out"))
    assert code == 2
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "post.json" in lines[0]
    assert not (small_env / "out").exists()


def test_out_that_is_a_file_is_refused(small_env: Path) -> None:
    target = small_env / "taken"
    target.write_text("user data", encoding="utf-8")
    code, output = _invoke("run", str(EXAMPLES / "lost_cat_found.json"), "--out", str(target))
    assert code == 2 and "exists and is not a folder" in output
    assert target.read_text(encoding="utf-8") == "user data"


def test_existing_output_is_kept_and_a_rerun_resumes(small_env: Path) -> None:
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}, {"type": "outro", "text_lines": ["둘"]}])
    out = small_env / "out"
    (out / "t_post").mkdir(parents=True)
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    (out / "t_post" / "notes.txt").write_text("also mine", encoding="utf-8")
    assert _invoke("run", str(post), "--out", str(out))[0] == 0
    first = _manifest(out / "t_post")
    clips = {r.fingerprint: (r.clip_path, Path(r.clip_path or "").stat().st_mtime_ns) for r in first.scenes}
    code, output = _invoke("run", str(post), "--out", str(out))
    assert code == 0, output
    second = _manifest(out / "t_post")
    assert {r.fingerprint: (r.clip_path, Path(r.clip_path or "").stat().st_mtime_ns) for r in second.scenes} == clips
    assert [len(r.attempts) for r in second.scenes] == [len(r.attempts) for r in first.scenes]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "t_post" / "notes.txt").read_text(encoding="utf-8") == "also mine"


def test_hostile_post_id_stays_inside_the_output_folder(small_env: Path) -> None:
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}], post_id="../../escape")
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out))
    assert code == 0, output
    written = [p for p in small_env.rglob("*") if p.is_file() and not p.is_relative_to(small_env / "posts")]
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert not (small_env.parent / "escape").exists()


def test_prompts_command_prints_each_scene_and_its_source(small_env: Path) -> None:
    code, output = _invoke("prompts", str(EXAMPLES / "office_paper_fort.json"), "--out", str(small_env / "out"))
    assert code == 0, output
    assert "fallback" in output and "t2v" in output


def test_score_command_prints_a_row_per_image(small_env: Path) -> None:
    broken = small_env / "broken.jpg"
    broken.write_bytes(b"")
    code, output = _invoke("score", str(EXAMPLES / "images" / "rainy_street.jpg"), str(broken))
    assert code == 2, output  # an unreadable image is an error (tests/cli/test_score.py has the details)
    assert "photo" in output and "empty" in output


def test_output_dir_setting_is_the_default_out(small_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTPUT_DIR", str(small_env / "from_env"))
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
    code, output = _invoke("run", str(post), "--backend", "local")
    assert code == 0, output
    assert (small_env / "from_env" / "t_post" / "manifest.json").is_file()


def _named_post(folder: Path, post_id: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{post_id}.json"
    scenes = [{"type": "text_only", "text_lines": [line]} for line in lines]
    data = {"post_id": post_id, "title": "제목", "body_summary": "요약", "mood": "daily", "scenes": scenes}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_many_posts_and_a_folder_in_one_run(small_env: Path) -> None:
    a = _named_post(small_env / "one", "post_a", ["가", "나"])
    folder = small_env / "many"
    _named_post(folder, "post_b", ["다"])
    _named_post(folder, "post_c", ["라", "마", "바"])
    out = small_env / "out"
    code, output = _invoke("run", str(a), str(folder), "--out", str(out), "--backend", "local")
    assert code == 0, output
    for post_id, lines in (("post_a", ["가", "나"]), ("post_b", ["다"]), ("post_c", ["라", "마", "바"])):
        manifest = _manifest(out / post_id)
        assert manifest.post_id == post_id and _all_lines(manifest) == lines
        for record in manifest.scenes:
            assert record.status == "done" and Path(record.clip_path or "").is_relative_to(out / post_id)
        assert f"post {post_id}" in output  # its progress line
    assert output.count("summary") == 1


def test_a_bad_post_among_many_is_one_line_and_the_others_run(small_env: Path) -> None:
    good = _named_post(small_env / "p", "post_ok", ["하나"])
    bad = small_env / "p" / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    code, output = _invoke("run", str(good), str(bad), "--out", str(small_env / "out"), "--backend", "local")
    assert code == 2
    assert "broken.json" in output and "not valid JSON" in output
    assert _manifest(small_env / "out" / "post_ok").scenes[0].status == "done"


def test_rerun_keeps_files_the_stage_did_not_write_and_removes_superseded_clips(small_env: Path) -> None:
    out = small_env / "out"
    post = _named_post(small_env / "p", "post_s", ["첫 줄", "둘째 줄"])
    assert _invoke("run", str(post), "--out", str(out), "--backend", "local")[0] == 0
    first = _manifest(out / "post_s")
    mine = out / "post_s" / "clips" / "my_edit.mp4"
    mine.write_bytes(b"user data")
    _named_post(small_env / "p", "post_s", ["첫 줄", "바뀐 둘째 줄"])  # scene 1 changed
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 0, output
    second = _manifest(out / "post_s")
    assert second.scenes[0].reused and second.scenes[0].clip_path == first.scenes[0].clip_path
    assert not Path(first.scenes[1].clip_path or "").exists()  # the changed scene's old clip is gone
    assert Path(second.scenes[1].clip_path or "").is_file()
    assert mine.read_bytes() == b"user data"


def test_prompts_refresh_flag_is_offered(small_env: Path) -> None:
    code, output = _invoke("prompts", "--help")
    assert code == 0 and "--refresh" in output
    code, output = _invoke("run", "--help")
    assert code == 0 and "--retry-failed" in output and "--refresh-prompts" in output
