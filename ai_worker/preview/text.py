"""Pictures the preview draws itself with Pillow: subtitles, the title band and scene cards, in a Korean font.

Drawing text here (not with FFmpeg's drawtext or libass) keeps the preview independent of how the FFmpeg
binary was built, wraps Korean lines by their measured width, and needs no filter-graph escaping of
strangers' text. The pictures are PNGs the composition pass overlays.

The font: `PREVIEW_FONT` when set, else Noto Sans KR from the `pylopdf-fonts-ko` package (a dependency,
SIL Open Font License), else a system CJK font (Noto CJK, Nanum, Apple SD Gothic Neo, Malgun Gothic). With
none of them, subtitles and titles are left out (a box for every syllable would be worse) and the preview
says so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, UnidentifiedImageError

from ai_worker.images.normalize import upright_rgb
from ai_worker.preview.plan import Box
from ai_worker.preview.text_layout import FontSet, find_emoji_font, fit_lines, package_file

logger = logging.getLogger(__name__)

FontType = ImageFont.FreeTypeFont

SYSTEM_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/AppleSDGothicNeo.ttc",
    "C:/Windows/Fonts/malgunbd.ttf",
    "C:/Windows/Fonts/malgun.ttf",
)
PACKAGED_FONTS: tuple[tuple[str, str], ...] = (
    ("pylopdf_fonts_ko", "NotoSansKR-Regular.otf"),
    ("koreanize_matplotlib", "fonts/NanumGothicBold.ttf"),
)
"""(package, file inside it): found without importing the package."""
MAX_IMAGE_PIXELS = 64_000_000
MAX_LINES = 2
"""Subtitles and titles take at most two lines (a third covers the picture on a phone)."""
TEXT = (255, 255, 255, 255)
OUTLINE = (0, 0, 0, 255)
PANEL = (0, 0, 0, 150)


def _glyph(font: FontType, char: str) -> bytes:
    image = Image.new("L", (64, 64))
    ImageDraw.Draw(image).text((4, 4), char, font=font, fill=255)
    return image.tobytes()


def has_hangul(path: Path) -> bool:
    """Whether the font at `path` opens and draws Hangul (a real glyph, not its missing-glyph box)."""
    try:
        font = ImageFont.truetype(str(path), 40)
        hangul = _glyph(font, "한")
        return any(hangul) and hangul != _glyph(font, "\U000f0000")
    except OSError:
        return False


def font_candidates(configured: Path | None) -> Iterable[tuple[Path, str]]:
    """Where a Korean font is looked for, in order, with how each got there."""
    if configured is not None:
        yield configured, "PREVIEW_FONT"
    for package, relative in PACKAGED_FONTS:
        found = package_file(package, relative)
        if found is not None:
            yield found, f"pip package {package.replace('_', '-')}"
    for name in SYSTEM_FONTS:
        yield Path(name), "system font"


@functools.cache
def find_korean_font(configured: Path | None = None) -> tuple[Path, str] | None:
    """The first font with Hangul, and where it came from; None when there is none."""
    for path, origin in font_candidates(configured):
        if path.is_file() and has_hangul(path):
            return path, origin
        if origin == "PREVIEW_FONT":
            logger.warning("PREVIEW_FONT %s is not a readable font with Hangul; looking for another", path)
    return None


def _block_metrics(size: int) -> tuple[int, int, int]:
    """Outline width, line spacing and panel padding for text of `size` px."""
    return max(2, size // 14), int(size * 0.3), int(size * 0.45)


def _block_height(lines: int, size: int) -> int:
    stroke, spacing, pad = _block_metrics(size)
    return (size + spacing) * max(1, lines) - spacing + 2 * (pad + stroke)


def render_text_block(
    text: str, font_path: Path, box: Box, *, size: int, max_lines: int = MAX_LINES, panel: bool = True
) -> Image.Image:
    """Centred, wrapped, outlined white text on a translucent panel, at most `box` wide: at most
    `max_lines` lines at a readable size, cut with an ellipsis when longer (`text_layout.fit_lines`);
    emoji in the emoji font."""
    fonts = FontSet(font_path, find_emoji_font(), size)
    lines, fonts = fit_lines(
        text, fonts, box.width * 0.92, max_lines, lambda count, at: _block_height(count, at) <= box.height
    )
    size = fonts.size
    stroke, spacing, pad = _block_metrics(size)
    line_height = size + spacing
    width = int(max((fonts.width(line) for line in lines), default=0)) + 2 * (pad + stroke)
    height = _block_height(len(lines), size)
    image = Image.new("RGBA", (max(2, width), max(2, height)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if panel:
        draw.rounded_rectangle((0, 0, image.width - 1, image.height - 1), radius=pad, fill=PANEL)
    for number, line in enumerate(lines):
        y = pad + stroke + number * line_height
        x = (image.width - fonts.width(line)) / 2
        fonts.draw(draw, (x, y), line, fill=TEXT, stroke_width=stroke, stroke_fill=OUTLINE)
    return image


def write_text_png(
    text: str, font_path: Path, box: Box, target: Path, *, size: int, max_lines: int = MAX_LINES, panel: bool = True
) -> tuple[int, int]:
    """Write the text block as a PNG; return where its top-left corner goes so it is centred in `box`."""
    image = render_text_block(text, font_path, box, size=size, max_lines=max_lines, panel=panel)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, format="PNG")
    x = box.x + max(0, (box.width - image.width) // 2)
    y = box.y + max(0, (box.height - image.height) // 2)
    return x, y


def _hex(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _gradient(size: tuple[int, int], top: str, bottom: str) -> Image.Image:
    start, end = _hex(top), _hex(bottom)
    column = Image.new("RGB", (1, size[1]))
    for y in range(size[1]):
        t = y / max(1, size[1] - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(start, end, strict=True)))
    return column.resize(size)


def load_image(path: Path | None) -> Image.Image | None:
    """The scene's picture, or None when there is none or it cannot be read (the card then has no picture)."""
    if path is None or not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                return None
            return upright_rgb(image)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        logger.info("card image %s unreadable: %s", path, exc)
        return None


def write_card_png(
    target: Path,
    size: tuple[int, int],
    *,
    palette: list[str],
    image: Path | None,
    title: str,
    font_path: Path | None,
) -> None:
    """A still for a scene without a clip: its image fitted over a blurred copy of itself, or the mood's
    colours with the post's title."""
    picture = load_image(image)
    if picture is not None:
        back = ImageOps.fit(picture, size).filter(ImageFilter.GaussianBlur(max(4, size[0] // 40)))
        back = Image.blend(back, Image.new("RGB", size, (0, 0, 0)), 0.45)
        front = ImageOps.contain(picture, size)
        back.paste(front, ((size[0] - front.width) // 2, (size[1] - front.height) // 2))
        card = back
    else:
        card = _gradient(size, palette[0], palette[1 % len(palette)])
        if font_path is not None and title.strip():
            box = Box(0, 0, size[0], size[1])
            block = render_text_block(title, font_path, box, size=max(16, size[1] // 9), panel=False)
            card.paste(block, ((size[0] - block.width) // 2, (size[1] - block.height) // 2), block)
    target.parent.mkdir(parents=True, exist_ok=True)
    card.save(target, format="PNG")
