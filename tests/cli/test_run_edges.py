"""`run` at its edges: user text printed as is, exit codes and one-line errors before any work is done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ai_worker.core.run_lock import post_lock
from ai_worker.model.scene import line_text
from tests.cli.test_run import _closed_port, _invoke, _manifest, _post_file, small_env

__all__ = ["small_env"]  # the fixture, shared with test_run


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_square_brackets_in_user_text_are_printed_as_they_are(small_env: Path) -> None:
    code, output = _invoke("run", str(small_env / "[brackets3].json"), "--out", str(small_env / "out"))
    assert code == 2
    (line,) = _lines(output)
    assert "[brackets3].json: file not found" in line


def test_bracketed_image_and_scene_text_survive_in_warnings(small_env: Path) -> None:
    post = _post_file(small_env, [{"type": "[gif]", "text_lines": ["[속보] 한 줄"]}])
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"), "--backend", "local")
    assert code == 0, output
    assert "unknown scene type '[gif]'" in output


def test_run_help_shows_the_defaults_in_brackets() -> None:
    code, output = _invoke("run", "--help")
    assert code == 0
    flat = " ".join(output.replace("│", " ").split())
    assert "[default: OUTPUT_DIR]" in flat and "[default: VIDEO_BACKEND, else auto]" in flat


def test_unwritable_out_is_refused_before_any_work(small_env: Path) -> None:
    blocker = small_env / "a_file"
    blocker.write_text("user data", encoding="utf-8")
    post = _post_file(small_env, [{"type": "img_text", "image_url": "img/photo.jpg", "text_lines": ["사진"]}])
    code, output = _invoke("run", str(post), "--out", str(blocker / "out"), "--backend", "local")
    assert code == 2
    (line,) = _lines(output)
    assert f"--out {blocker / 'out'}: cannot write there" in line
    assert blocker.read_text(encoding="utf-8") == "user data"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_read_only_out_is_refused_before_any_work(small_env: Path) -> None:
    locked = small_env / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
        code, output = _invoke("run", str(post), "--out", str(locked), "--backend", "local")
    finally:
        locked.chmod(0o700)
    assert code == 2 and len(_lines(output)) == 1 and "cannot write there" in output
    assert list(locked.iterdir()) == []


def test_comfyui_backend_without_a_healthy_server_exits_3_at_once(
    small_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = f"http://127.0.0.1:{_closed_port()}", f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("COMFYUI_URL", f"{first},{second}")
    post = _post_file(small_env, [{"type": "img_text", "image_url": "img/photo.jpg", "text_lines": ["사진"]}])
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "comfyui")
    assert code == 3, output
    (line,) = _lines(output)
    assert "--backend comfyui but no ComfyUI server is healthy" in line and "VIDEO_BACKEND" not in line
    assert f"{first} (ConnectError" in line and f"{second} (ConnectError" in line
    assert "backend:" not in output  # the header never claims ComfyUI was chosen
    assert not out.exists()  # nothing was made: no empty --out folder is left behind


def test_video_backend_setting_is_used_when_no_option_is_given(
    small_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
    monkeypatch.setenv("VIDEO_BACKEND", "comfyui")
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"))
    assert code == 3 and "VIDEO_BACKEND=comfyui but no ComfyUI server is healthy" in output
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"), "--backend", "local")
    assert code == 0, output  # the option wins over the setting
    monkeypatch.setenv("VIDEO_BACKEND", "local")
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"))
    assert code == 0 and "local backend chosen" in output


def test_invalid_video_backend_is_a_settings_error_naming_it(
    small_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEO_BACKEND", "gpu")
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"))
    assert code == 2
    (line,) = _lines(output)
    assert "settings: VIDEO_BACKEND:" in line and "'gpu'" in line


def test_a_run_that_made_no_clip_exits_3(small_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", str(small_env / "no-ffmpeg"))
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}, {"type": "outro", "text_lines": ["둘"]}])
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"), "--backend", "local")
    assert code == 3, output
    assert "no clip was made: 2 scene(s) asked for one and none got it" in _lines(output)[-1]


def test_no_clip_asked_is_not_a_failure(small_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEO_MAX_CLIPS_PER_POST", "0")
    monkeypatch.setenv("FFMPEG_BINARY", str(small_env / "no-ffmpeg"))
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
    code, output = _invoke("run", str(post), "--out", str(small_env / "out"), "--backend", "local")
    assert code == 0, output


def test_rejected_scenes_keep_their_lines_in_the_manifest(small_env: Path) -> None:
    post = _post_file(
        small_env,
        [
            {"type": "intro", "text_lines": ["시작"]},
            {"type": "carousel", "text_lines": ["알 수 없는 타입", {"text": "둘째 줄"}]},
            {"type": "img_text", "text_lines": ["이미지 없는 장면"]},
            {"type": "img_text", "image_url": "/etc/passwd", "text_lines": ["남의 파일"]},
            {"type": "outro", "text_lines": ["끝"]},
        ],
    )
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 0, output
    assert "image path '/etc/passwd' refused" in output
    manifest = _manifest(out / "t_post")
    every_line = ["시작", "알 수 없는 타입", "둘째 줄", "이미지 없는 장면", "남의 파일", "끝"]
    assert [line_text(line) for s in manifest.final_scenes for line in s.text_lines] == every_line
    records = {line_text(r.text_lines[0]): r for r in manifest.scenes}
    carousel, no_image, passwd = records["알 수 없는 타입"], records["이미지 없는 장면"], records["남의 파일"]
    assert carousel.type == "text_only" and carousel.input_error and "carousel" in carousel.input_error
    assert no_image.type == "text_only" and no_image.input_error and "needs an image" in no_image.input_error
    assert passwd.mode == "t2v" and passwd.image_path is None
    assert passwd.input_error and "absolute" in passwd.input_error
    assert len(manifest.input_errors) == 3


def test_a_failing_ffmpeg_exits_3_and_keeps_every_line(small_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # FFmpeg runs and fails: every scene fails and is merged away, and the run still says no clip was made.
    monkeypatch.setenv("FFMPEG_BINARY", "/bin/false")
    scenes: list[dict[str, object]] = [{"type": "intro", "text_lines": ["하나"]},
                                       {"type": "text_only", "text_lines": ["둘"]},
                                       {"type": "outro", "text_lines": ["셋", "넷"]}]
    post = _post_file(small_env, scenes)
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 3, output
    assert "no clip was made: 3 scene(s) asked for one and none got it" in _lines(output)[-1]
    manifest = _manifest(out / "t_post")
    assert [line_text(line) for s in manifest.final_scenes for line in s.text_lines] == ["하나", "둘", "셋", "넷"]


def test_a_second_run_of_a_busy_post_is_refused_with_exit_2(small_env: Path) -> None:
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
    out = small_env / "out"
    with post_lock(out / "t_post"):  # another run is writing this post
        code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 2, output
    assert "another run" in _lines(output)[-1] and "is writing this post" in _lines(output)[-1]
    assert not (out / "t_post" / "manifest.json").exists()


def test_a_killed_runs_half_written_files_are_removed_by_the_next_run(small_env: Path) -> None:
    post = _post_file(small_env, [{"type": "intro", "text_lines": ["하나"]}])
    out = small_env / "out"
    left = [out / "t_post" / "clips" / ".scene_00_ab.1a2b3c4d.part.mp4",
            out / "t_post" / ".manifest.9f8e7d6c.part.json",
            out / "t_post" / "clips" / ".scene_01_cd_r1.5e6f7a8b.init.png",
            out / "tmp" / "vid_img_cache_t_post" / ".a1b2.0f0f0f0f.part.jpg"]
    kept = [out / "t_post" / "notes.part.txt", out / "t_post" / "mine.init.png"]  # not ours: not hidden
    for path in [*left, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 0, output
    assert [p for p in left if p.exists()] == []
    assert all(p.read_bytes() == b"half" for p in kept)
