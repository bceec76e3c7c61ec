"""Titles and subtitles: at most two lines at a readable size, cut with an ellipsis; emoji drawn in the
emoji font (never a box); a character no font has replaced visibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ai_worker.preview.plan import make_layout
from ai_worker.preview.text import find_korean_font, render_text_block
from ai_worker.preview.text_layout import (
    ELLIPSIS,
    MIN_SIZE_RATIO,
    REPLACEMENT,
    FontSet,
    find_emoji_font,
    fit_lines,
)

KOREAN = find_korean_font(None)
pytestmark = pytest.mark.skipif(KOREAN is None, reason="no font with Hangul installed")
TITLE_SIZE = 69
"""The box layout's title size at 1920 px (render.py: 3.6% of the height)."""


def _fonts(size: int = TITLE_SIZE) -> FontSet:
    assert KOREAN is not None
    return FontSet(KOREAN[0], find_emoji_font(), size)


def test_the_emoji_font_comes_with_the_install() -> None:
    path = find_emoji_font()
    assert path is not None and path.is_file()


@pytest.mark.parametrize("length", [200, 4000])
def test_a_long_title_takes_two_lines_at_a_readable_size_and_ends_with_an_ellipsis(length: int) -> None:
    title = ("오늘 퇴근길에 진짜 어이없는 일이 있었음 " * 400)[:length]
    band = make_layout((1080, 1920), 24).title
    assert band is not None
    lines, fonts = fit_lines(title, _fonts(), band.width * 0.92, 2)
    assert len(lines) == 2
    assert fonts.size >= TITLE_SIZE * MIN_SIZE_RATIO - 1
    assert lines[-1].endswith(ELLIPSIS)
    assert all(fonts.width(line) <= band.width * 0.92 for line in lines)
    assert KOREAN is not None
    block = render_text_block(title, KOREAN[0], band, size=TITLE_SIZE, panel=False)
    assert block.height <= band.height + 2 and block.width <= band.width


def test_a_short_line_keeps_its_size_and_has_no_ellipsis() -> None:
    lines, fonts = fit_lines("짧은 제목", _fonts(), 900, 2)
    assert lines == ["짧은 제목"] and fonts.size == TITLE_SIZE


def _ink(fonts: FontSet, text: str) -> np.ndarray:
    image = Image.new("L", (400, 160))
    fonts.draw(ImageDraw.Draw(image), (10, 10), text, fill=255)
    return np.asarray(image)


def test_emoji_are_drawn_in_the_emoji_font_not_as_boxes() -> None:
    fonts = _fonts(80)
    runs = fonts.runs(fonts.clean("웃겨 😂"))
    assert [run for run, _ in runs] == ["웃겨 ", "😂"]
    emoji = _ink(fonts, "😂")
    # The Korean font's own missing-glyph box, for comparison.
    korean_only = FontSet(fonts.main, None, 80)
    tofu = _ink(korean_only, "😂")
    assert emoji.any(), "the emoji drew nothing"
    assert not np.array_equal(emoji, tofu), "the emoji was drawn as the missing-glyph box"
    # A face is not a hollow rectangle: its ink is not only on its bounding box's border.
    ys, xs = np.nonzero(emoji)
    inner = emoji[ys.min() + 8 : ys.max() - 8, xs.min() + 8 : xs.max() - 8]
    assert inner.any()


def test_joiners_and_selectors_are_dropped_and_unknown_characters_replaced_visibly() -> None:
    fonts = _fonts()
    assert fonts.clean("❤\ufe0f") == "❤"
    assert fonts.clean("👨\u200d👩") == "👨👩"
    assert fonts.clean("끝\U000f0000") == f"끝{REPLACEMENT}"


def test_a_subtitle_with_emoji_renders(tmp_path: Path) -> None:
    assert KOREAN is not None
    band = make_layout((1080, 1920), 24).subtitle
    block = render_text_block("고양이 찾았어요 🐱🎉", KOREAN[0], band, size=61)
    assert block.height < band.height and block.width > 200
