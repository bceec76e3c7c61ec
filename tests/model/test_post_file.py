from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_worker.core.errors import PostFileError
from ai_worker.model.post_file import load_post

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "posts"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "post.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _post(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "post_id": "p1",
        "title": "제목",
        "body_summary": "요약",
        "mood": "humor",
        "scenes": [{"type": "text_only", "text_lines": ["첫 줄", {"text": "둘째 줄", "audio": "a.wav"}]}],
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_bundled_examples_load_with_every_image_present(example: Path) -> None:
    post, errors = load_post(example)
    assert errors == []
    assert post.scenes
    for scene in post.scenes:
        if scene.image_url and not scene.image_url.startswith("http"):
            assert (post.base_dir / scene.image_url).is_file()


def test_examples_cover_every_scene_type() -> None:
    types = {scene.type for example in EXAMPLES.glob("*.json") for scene in load_post(example)[0].scenes}
    assert types == {"text_only", "img_text", "img_only", "intro", "outro"}


def test_audio_paths_are_absolute_even_from_a_relative_post_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line's audio is relative to the post file; resolved at load, it names the same file from any folder
    (a relative post path joined twice once gave posts/posts/a.wav)."""
    (tmp_path / "posts").mkdir()
    _write(tmp_path / "posts", _post())
    monkeypatch.chdir(tmp_path)
    post, _ = load_post(Path("posts") / "post.json")
    line = post.scenes[0].text_lines[1]
    assert isinstance(line, dict) and line["audio"] == str(tmp_path / "posts" / "a.wav")


def test_lines_keep_both_forms(tmp_path: Path) -> None:
    post, _ = load_post(_write(tmp_path, _post()))
    assert post.scenes[0].text_lines == ["첫 줄", {"text": "둘째 줄", "audio": str(tmp_path / "a.wav")}]
    assert post.scenes[0].text == "첫 줄\n둘째 줄"
    assert post.base_dir == tmp_path.resolve()


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PostFileError, match=r"nope\.json: file not found"):
        load_post(tmp_path / "nope.json")


def test_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"post_id": 1,,}', encoding="utf-8")
    with pytest.raises(PostFileError, match=r"bad\.json: not valid JSON: .* line 1, column"):
        load_post(path)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (_post(title=""), r"field 'title': must be a non-empty string"),
        ({k: v for k, v in _post().items() if k != "scenes"}, r"field 'scenes': missing required field"),
        (_post(scenes=[]), r"field 'scenes': must be a non-empty list"),
        (_post(mood=3), r"field 'mood'"),
        ([1, 2], r"top level must be an object"),
    ],
)
def test_file_level_errors_name_the_field(tmp_path: Path, data: object, pattern: str) -> None:
    with pytest.raises(PostFileError, match=pattern):
        load_post(_write(tmp_path, data))


def test_one_bad_scene_does_not_stop_the_others_and_loses_no_line(tmp_path: Path) -> None:
    scenes = [
        {"type": "intro", "text_lines": ["안녕"]},
        {"type": "slideshow", "text_lines": ["?", {"text": "슬라이드", "audio": "s.wav"}]},
        {"type": "img_text", "text_lines": ["이미지 없음"]},
        {"type": "text_only", "text_lines": [42, "다음 줄", None]},
        {"type": "bogus"},
        {"type": "text_only", "text_lines": "목록이 아닌 한 줄"},
        {"type": "outro", "text_lines": ["끝"]},
    ]
    post, errors = load_post(_write(tmp_path, _post(scenes=scenes)))
    assert [s.type for s in post.scenes] == ["intro", "text_only", "text_only", "text_only", "text_only", "outro"]
    assert [s.source_index for s in post.scenes] == [0, 1, 2, 3, 5, 6]
    assert [s.text_lines for s in post.scenes[1:5]] == [
        ["?", {"text": "슬라이드", "audio": str(tmp_path.resolve() / "s.wav")}], ["이미지 없음"], ["42", "다음 줄"],
        ["목록이 아닌 한 줄"],
    ]
    messages = [str(e) for e in errors]
    assert "scene 1, field 'type': unknown scene type 'slideshow'" in messages[0]
    assert messages[0].endswith("(its 2 line(s) kept in a text-only scene)")
    assert "scene 2, field 'image_url'" in messages[1]
    assert "scene 3, field 'text_lines[0]'" in messages[2]
    assert "scene 4, field 'type'" in messages[3] and messages[3].endswith("left out)")
    assert "scene 5, field 'text_lines': must be a list" in messages[4]
    assert [s.input_error for s in post.scenes] == [None, messages[0], messages[1], messages[2], messages[4], None]


@pytest.mark.parametrize(
    ("image_url", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("//host/share/a.jpg", "network"),
        ("~/photo.jpg", "home-folder"),
        ("../photo.jpg", "outside the post file's folder"),
        ("img/../../photo.jpg", "outside the post file's folder"),
        ("img/link.jpg", "outside the post file's folder"),
    ],
)
def test_image_paths_outside_the_post_folder_are_refused_by_name(tmp_path: Path, image_url: str, why: str) -> None:
    folder = tmp_path / "post"
    (folder / "img").mkdir(parents=True)
    (tmp_path / "photo.jpg").write_bytes(b"not read")
    (folder / "img" / "link.jpg").symlink_to(tmp_path / "photo.jpg")
    scenes = [{"type": "img_text", "text_lines": ["사진 설명"], "image_url": image_url}]
    path = folder / "post.json"
    path.write_text(json.dumps(_post(scenes=scenes), ensure_ascii=False), encoding="utf-8")
    post, errors = load_post(path)
    (error,) = errors
    message = str(error)
    assert "\n" not in message and f"scene 0, field 'image_url': image path {image_url!r} refused" in message
    assert why in message and "text-to-video" in message
    (scene,) = post.scenes
    assert scene.type == "img_text" and scene.text_lines == ["사진 설명"] and scene.input_error == message


def test_image_paths_inside_the_post_folder_are_accepted(tmp_path: Path) -> None:
    scenes = [{"type": "img_text", "text_lines": ["a"], "image_url": "img/./a.jpg"},
              {"type": "img_only", "text_lines": ["b"], "image_url": "img/sub/../b.jpg"},
              {"type": "img_only", "text_lines": ["c"], "image_url": "https://example.com/c.jpg"}]
    post, errors = load_post(_write(tmp_path, _post(scenes=scenes)))
    assert errors == [] and all(s.input_error is None for s in post.scenes)


def test_all_scenes_bad_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(PostFileError, match="no usable scene"):
        load_post(_write(tmp_path, _post(scenes=[{"type": "bogus"}])))


@pytest.mark.parametrize(
    ("audio", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("~/a.wav", "home-folder"),
        ("../a.wav", "outside the post file's folder"),
        ("tts/../../a.wav", "outside the post file's folder"),
        ("tts/link.wav", "outside the post file's folder"),
    ],
)
def test_audio_paths_outside_the_post_folder_are_refused_by_name(tmp_path: Path, audio: str, why: str) -> None:
    folder = tmp_path / "post"
    (folder / "tts").mkdir(parents=True)
    (tmp_path / "a.wav").write_bytes(b"not read")
    (folder / "tts" / "link.wav").symlink_to(tmp_path / "a.wav")
    scenes = [{"type": "text_only", "text_lines": ["첫 줄", {"text": "둘째 줄", "audio": audio}]},
              {"type": "carousel", "text_lines": [{"text": "거부된 장면", "audio": audio}]}]
    path = folder / "post.json"
    path.write_text(json.dumps(_post(scenes=scenes), ensure_ascii=False), encoding="utf-8")
    post, errors = load_post(path)
    refused = [str(e) for e in errors if "audio path" in str(e)]
    assert len(refused) == 1 and "\n" not in refused[0] and why in refused[0]
    assert f"scene 0, field 'text_lines[1]': audio path {audio!r} refused" in refused[0]
    first, rejected = post.scenes
    assert first.text_lines == ["첫 줄", {"text": "둘째 줄"}] and first.input_error == refused[0]
    assert rejected.text_lines == [{"text": "거부된 장면"}]  # a rejected scene keeps its words, not the audio


def test_audio_paths_inside_the_post_folder_are_kept_absolute(tmp_path: Path) -> None:
    scenes = [{"type": "text_only", "text_lines": [{"text": "a", "audio": "tts/./a.wav"}]},
              {"type": "carousel", "text_lines": [{"text": "b", "audio": "tts/b.wav"}]}]
    post, errors = load_post(_write(tmp_path, _post(scenes=scenes)))
    assert not [e for e in errors if "audio path" in str(e)]
    assert [line for s in post.scenes for line in s.text_lines] == [
        {"text": "a", "audio": str(tmp_path.resolve() / "tts/./a.wav")},
        {"text": "b", "audio": str(tmp_path.resolve() / "tts/b.wav")},
    ]
