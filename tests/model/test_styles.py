"""The mood styles file: the shipped one is complete and valid; a malformed one is a clear ConfigError."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from ai_worker.core.errors import ConfigError
from ai_worker.model.styles import DEFAULT_MOOD, MOODS, VideoStyles, load_video_styles
from config.settings import DEFAULT_STYLES_PATH


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_STYLES_PATH.read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "video_styles.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_shipped_file_has_the_nine_moods_with_every_field() -> None:
    styles = load_video_styles(DEFAULT_STYLES_PATH)
    assert styles.moods == ("humor", "touching", "anger", "sadness", "horror", "info", "controversy", "daily", "shock")
    for mood in MOODS:
        style = styles.get(mood)
        assert style.style_hint and style.atmosphere
        assert len(style.camera_hints) >= 2
        assert len(style.color_palette) == 4
        assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", c) for c in style.color_palette)
        # Camera hints complete "The camera ...": a verb phrase, not a sentence of its own.
        assert all(not hint[0].isupper() and not hint.endswith(".") for hint in style.camera_hints)


def test_palettes_are_the_four_colours_of_each_mood() -> None:
    styles = load_video_styles(DEFAULT_STYLES_PATH)
    palettes = styles.palettes()
    assert set(palettes) == set(MOODS)
    assert palettes["horror"] == shipped()["horror"]["color_palette"]


def test_unknown_mood_falls_back_to_daily_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    styles = load_video_styles(DEFAULT_STYLES_PATH)
    with caplog.at_level(logging.WARNING, logger="ai_worker.model.styles"):
        style = styles.get("romance")
    assert style == styles.get(DEFAULT_MOOD)
    assert styles.resolve("romance") == "daily"
    assert "unknown mood 'romance'" in caplog.text


def test_mood_lookup_ignores_case_and_spaces(caplog: pytest.LogCaptureFixture) -> None:
    styles = load_video_styles(DEFAULT_STYLES_PATH)
    with caplog.at_level(logging.WARNING):
        assert styles.resolve(" Horror ") == "horror"
    assert caplog.text == ""


def test_comment_keys_are_allowed(tmp_path: Path) -> None:
    data = shipped()
    data["_note"] = "anything"
    assert VideoStyles.load(write(tmp_path, data)).resolve("shock") == "shock"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("horror"), r"missing mood\(s\) horror"),
        (lambda d: d.__setitem__("romance", d["daily"]), r"unknown mood\(s\) romance"),
        (
            lambda d: d["anger"].__setitem__("color_palette", ["#FF0000", "#00FF00", "#0000FF"]),
            "'anger'.*color_palette",
        ),
        (lambda d: d["anger"]["color_palette"].__setitem__(2, "red"), r"'anger'.*color_palette\.2"),
        (lambda d: d["info"].pop("atmosphere"), "'info'.*atmosphere.*Field required"),
        (lambda d: d["info"].__setitem__("camera_hints", []), "'info'.*camera_hints"),
        (lambda d: d["info"].__setitem__("style_hint", "   "), "'info'.*style_hint"),
        (lambda d: d["info"].__setitem__("colour_palette", []), "'info'.*colour_palette.*Extra inputs"),
        (lambda d: d.__setitem__("sadness", "grey"), "'sadness'"),
    ],
)
def test_malformed_file_names_file_and_problem(tmp_path: Path, change: Any, message: str) -> None:
    data = shipped()
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as info:
        load_video_styles(path)
    assert str(path) in str(info.value)


def test_not_json_is_a_config_error_with_the_position(tmp_path: Path) -> None:
    path = tmp_path / "video_styles.json"
    path.write_text('{"humor": {', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"video_styles\.json: not valid JSON: .* line 1"):
        load_video_styles(path)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top level must be an object"):
        load_video_styles(write(tmp_path, ["humor"]))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_video_styles(tmp_path / "nope.json")
