"""What a post's clips are made from: a scene's identity is the content of its inputs (not their paths), and the
post folder keeps a copy of every image and narration file it uses, so it can be moved and previewed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ai_worker.media.probe import probe_clip
from tests.cli.test_run import EXAMPLES, _invoke, _manifest, small_env

__all__ = ["small_env"]  # the fixture, shared with test_run


def _write_post(folder: Path, scenes: list[dict[str, object]]) -> Path:
    path = folder / "post.json"
    data = {"post_id": "t_post", "title": "테스트", "body_summary": "요약", "mood": "daily", "scenes": scenes}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _clip_facts(folder: Path) -> list[tuple[str | None, int, int]]:
    return [(r.clip_path, Path(r.clip_path or "").stat().st_mtime_ns, len(r.attempts))
            for r in _manifest(folder).scenes]


def test_a_changed_image_remakes_its_scene_and_reuses_every_other(small_env: Path) -> None:
    posts = small_env / "posts"
    (posts / "img").mkdir(parents=True)
    shutil.copy(EXAMPLES / "images" / "rainy_street.jpg", posts / "img" / "a.jpg")
    shutil.copy(EXAMPLES / "images" / "night_alley.jpg", posts / "img" / "b.jpg")
    post = _write_post(posts, [
        {"type": "intro", "text_lines": ["시작"]},
        {"type": "img_text", "image_url": "img/a.jpg", "text_lines": ["비 오는 거리"]},
        {"type": "img_text", "image_url": "img/b.jpg", "text_lines": ["밤 골목"]},
        {"type": "outro", "text_lines": ["끝"]},
    ])
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 0, output
    assert [r.mode for r in _manifest(out / "t_post").scenes] == ["t2v", "i2v", "i2v", "t2v"]
    before = _clip_facts(out / "t_post")
    shutil.copy(EXAMPLES / "images" / "birthday_cake.jpg", posts / "img" / "b.jpg")  # same path, new picture
    # --out spelled another way: the identity does not follow paths.
    code, output = _invoke("run", str(post), "--out", str(small_env / "x" / ".." / "out"), "--backend", "local")
    assert code == 0, output
    after = _clip_facts(out / "t_post")
    assert [after[i] for i in (0, 1, 3)] == [before[i] for i in (0, 1, 3)]  # reused: same file, untouched
    assert after[2][0] != before[2][0] and after[2][2] == 1  # remade from the new picture


def _paths_named(manifest: dict[str, Any]) -> list[str]:
    named: list[str] = []
    for scene in [*manifest["scenes"], *manifest["final_scenes"]]:
        named += [scene[key] for key in ("clip_path", "image_path") if isinstance(scene.get(key), str)]
        named += [line["audio"] for line in scene["text_lines"] if isinstance(line, dict) and "audio" in line]
        for attempt in scene.get("attempts") or []:
            named += [v for k, v in attempt["params"].items() if k == "init_image" and isinstance(v, str)]
    return named


def test_a_moved_post_folder_names_nothing_outside_it_and_previews_with_narration(
    small_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREVIEW_SIZE", "270x480")
    posts = small_env / "posts"
    (posts / "img").mkdir(parents=True)
    (posts / "tts").mkdir()
    shutil.copy(EXAMPLES / "images" / "rainy_street.jpg", posts / "img" / "a.jpg")
    shutil.copy(EXAMPLES / "tts" / "scene2_line0.wav", posts / "tts" / "line.wav")
    post = _write_post(posts, [
        {"type": "img_text", "image_url": "img/a.jpg",
         "text_lines": [{"text": "비 오는 거리", "audio": "tts/line.wav"}]},
        {"type": "outro", "text_lines": ["끝"]},
    ])
    out = small_env / "out"
    code, output = _invoke("run", str(post), "--out", str(out), "--backend", "local")
    assert code == 0, output
    moved = small_env / "elsewhere" / "t_post"
    shutil.move(out / "t_post", moved)
    shutil.rmtree(posts)
    shutil.rmtree(out)
    raw = json.loads((moved / "manifest.json").read_text(encoding="utf-8"))
    named = _paths_named(raw)
    assert any(p.endswith(".wav") for p in named) and any(p.endswith(".jpg") for p in named)
    for path in named:
        assert not Path(path).is_absolute() and ".." not in Path(path).parts, path
        assert (moved / path).is_file(), path
    code, output = _invoke("preview", str(moved))
    assert code == 0, output
    assert probe_clip(moved / "preview.mp4").has_audio  # the narration came along
