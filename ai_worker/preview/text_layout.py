"""Setting a line of text in the preview's fonts: the Korean font, and an emoji font for what it lacks.

Pillow draws one font at a time and draws a missing glyph as a box ("tofu"), so text is split into runs,
each set in the first font that has all its characters: the Korean font, else the emoji font (Noto Emoji
from the pip package `manimgx-fonts`, SIL Open Font License 1.1, a dependency). A character neither has is
replaced visibly (by `REPLACEMENT`), never drawn as a box; invisible joiners and variation selectors are
dropped. Lines are wrapped by measured width, kept to a number of lines at a readable size, and cut with an
ellipsis when they still do not fit.
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageDraw, ImageFont

FontType = ImageFont.FreeTypeFont

EMOJI_FONT: tuple[str, str] = ("manimgx_fonts", "NotoEmoji[wght].ttf")
"""(package, file inside it): the monochrome Noto Emoji, found without importing the package."""
ELLIPSIS = "…"
REPLACEMENT = "?"
"""Shown for a character no font has (visible, unlike a box that looks like a rendering fault)."""
MIN_SIZE_RATIO = 0.75
"""Text shrinks to fit, but never below this share of its size: smaller is no longer readable on a phone."""
_DROPPED = {0x200D, 0xFE0E, 0xFE0F, 0x20E3}
"""Zero-width joiner and variation selectors: no glyph of their own, and a box when drawn alone."""


def package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def find_emoji_font() -> Path | None:
    """The emoji font of the pip package, or None when it is not installed."""
    return package_file(*EMOJI_FONT)


@functools.cache
def covered(path: Path) -> frozenset[int]:
    """The code points the font at `path` has glyphs for (empty when it cannot be read)."""
    try:
        with TTFont(str(path), lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except (OSError, TTLibError):
        return frozenset()
    return frozenset(cmap)


@functools.cache
def _font(path: Path, size: int) -> FontType:
    return ImageFont.truetype(str(path), size)


@dataclass(frozen=True)
class FontSet:
    """The Korean font and, when installed, the emoji font, at one size."""

    main: Path
    emoji: Path | None
    size: int

    def resized(self, size: int) -> FontSet:
        return FontSet(self.main, self.emoji, size)

    def clean(self, text: str) -> str:
        """`text` with what cannot be drawn dropped (joiners, selectors) or replaced (no font has it)."""
        main, emoji = covered(self.main), covered(self.emoji) if self.emoji else frozenset()
        out: list[str] = []
        for ch in unicodedata.normalize("NFC", text):
            code = ord(ch)
            if code in _DROPPED or unicodedata.category(ch) == "Cc":
                continue
            if ch.isspace() or code in main or code in emoji:
                out.append(" " if ch.isspace() else ch)
            else:
                out.append(REPLACEMENT)
        return "".join(out)

    def runs(self, text: str) -> list[tuple[str, FontType]]:
        """`text` (cleaned) as runs, each with the font that draws it."""
        main = covered(self.main)
        runs: list[tuple[str, Path]] = []
        for ch in text:
            path = self.main if (ord(ch) in main or ch == " " or self.emoji is None) else self.emoji
            if runs and runs[-1][1] == path:
                runs[-1] = (runs[-1][0] + ch, path)
            else:
                runs.append((ch, path))
        return [(run, _font(path, self.size)) for run, path in runs]

    def width(self, text: str) -> float:
        return sum(font.getlength(run) for run, font in self.runs(text))

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, **style: object) -> None:
        """Draw `text` with its top at `xy` (runs share the Korean font's baseline)."""
        x, top = xy
        baseline = top + _font(self.main, self.size).getmetrics()[0]
        for run, font in self.runs(text):
            draw.text((x, baseline), run, font=font, anchor="ls", **style)  # type: ignore[arg-type]
            x += font.getlength(run)


def wrap_text(text: str, fonts: FontSet, max_width: float) -> list[str]:
    """Break `text` into lines no wider than `max_width`: at spaces, and inside a word only when the word
    alone is too wide (Korean lines often are one long phrase)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if fonts.width(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        for ch in word:
            if fonts.width(current + ch) > max_width and current:
                lines.append(current)
                current = ""
            current += ch
    if current:
        lines.append(current)
    return lines


def cut_with_ellipsis(line: str, fonts: FontSet, max_width: float) -> str:
    """`line` shortened from its end until it and an ellipsis fit `max_width`."""
    while line and fonts.width(line.rstrip() + ELLIPSIS) > max_width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def fit_lines(
    text: str,
    fonts: FontSet,
    max_width: float,
    max_lines: int,
    fits: Callable[[int, int], bool] = lambda lines, size: True,
) -> tuple[list[str], FontSet]:
    """The lines of `text` and the font size they are set at: the largest size from `fonts.size` down to
    `MIN_SIZE_RATIO` of it at which the text takes at most `max_lines` lines (and `fits(lines, size)`, the
    caller's check of the height); when it still takes more at the smallest, its first `max_lines` lines
    with the last one cut with an ellipsis."""
    text = fonts.clean(text)
    smallest = max(8, round(fonts.size * MIN_SIZE_RATIO))
    size = fonts.size
    while True:
        at = fonts.resized(size)
        lines = wrap_text(text, at, max_width)
        if len(lines) <= max_lines and (fits(len(lines), size) or size <= smallest):
            return lines, at
        if size <= smallest:
            break
        size = max(smallest, int(size * 0.92))
    kept = lines[:max_lines]
    kept[-1] = cut_with_ellipsis(f"{kept[-1]} {lines[max_lines]}", at, max_width)
    return kept, at
