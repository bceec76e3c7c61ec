"""Korean-looking text for generated captures, without a Korean font.

No CJK font ships with Pillow or this machine, so Hangul syllables are drawn stroke by stroke (initial
consonant, vowel, optional final consonant in a square cell, the way Hangul blocks are built) at three times
the size and reduced, which gives the anti-aliased edges of real rendered text. Digits and Latin come from
Pillow's bundled FreeType font, as in real captures where timestamps and numbers are Latin.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SUPER = 3
Box = tuple[float, float, float, float]


def _consonant(draw: ImageDraw.ImageDraw, box: Box, kind: int, width: int) -> None:
    x0, y0, x1, y1 = box
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    lines: list[list[tuple[float, float]]]
    if kind == 0:  # ㄱ
        lines = [[(x0, y0), (x1, y0), (x1, y1)]]
    elif kind == 1:  # ㄴ
        lines = [[(x0, y0), (x0, y1), (x1, y1)]]
    elif kind == 2:  # ㄷ
        lines = [[(x1, y0), (x0, y0), (x0, y1), (x1, y1)]]
    elif kind == 3:  # ㅁ
        lines = [[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]
    elif kind == 4:  # ㅇ
        draw.ellipse([x0, y0, x1, y1], outline=255, width=width)
        return
    elif kind == 5:  # ㅅ
        lines = [[(xm, y0), (x0, y1)], [(xm, ym - (y1 - y0) * 0.1), (x1, y1)]]
    elif kind == 6:  # ㅂ
        lines = [[(x0, y0), (x0, y1), (x1, y1), (x1, y0)], [(x0, ym), (x1, ym)]]
    elif kind == 7:  # ㅈ
        lines = [[(x0, y0), (x1, y0)], [(xm, y0), (x0, y1)], [(xm, ym), (x1, y1)]]
    else:  # ㄹ
        third = (y1 - y0) / 2
        lines = [[(x0, y0), (x1, y0), (x1, y0 + third), (x0, y0 + third), (x0, y1), (x1, y1)]]
    for points in lines:
        draw.line(points, fill=255, width=width, joint="curve")


def _syllable(draw: ImageDraw.ImageDraw, x: float, y: float, s: float, rng: np.random.Generator) -> None:
    width = max(SUPER, round(s * 0.085))
    pad = s * 0.1
    layout = int(rng.integers(0, 3))
    final = rng.random() < 0.45
    bottom = y + s - pad
    body_bottom = y + s * (0.55 if final else 1.0) - pad
    initial = int(rng.integers(0, 9))
    if layout == 0:  # initial on the left, vertical vowel on the right
        _consonant(draw, (x + pad, y + pad, x + s * 0.55, body_bottom - s * 0.05), initial, width)
        vx = x + s * 0.72
        draw.line([(vx, y + pad * 0.6), (vx, body_bottom)], fill=255, width=width)
        for k in range(int(rng.integers(1, 3))):
            ty = y + pad + (body_bottom - y - pad) * (0.35 + 0.3 * k)
            draw.line([(vx, ty), (x + s * 0.88, ty)], fill=255, width=width)
    else:  # initial on top, horizontal vowel under it
        _consonant(draw, (x + s * 0.25, y + pad, x + s * 0.75, y + (body_bottom - y) * 0.55), initial, width)
        hy = y + (body_bottom - y) * 0.78
        draw.line([(x + pad, hy), (x + s - pad, hy)], fill=255, width=width)
        for k in range(int(rng.integers(1, 3))):
            tx = x + s * (0.5 if k == 0 else 0.35)
            draw.line([(tx, hy), (tx, hy - s * 0.12)], fill=255, width=width)
    if final:
        _consonant(draw, (x + s * 0.22, y + s * 0.62, x + s * 0.78, bottom), int(rng.integers(0, 9)), width)


@lru_cache(maxsize=16)
def latin_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def text_mask(size: int, rng: np.random.Generator, *, chars: int, latin: str = "", bold: bool = False) -> Image.Image:
    """One line of text as an anti-aliased "L" mask (255 = ink): Hangul-like words, spaces, then `latin`."""
    big = size * SUPER
    advance = big * 1.02
    space = big * 0.35
    words: list[int] = []
    left = chars
    while left > 0:
        n = min(left, int(rng.integers(1, 5)))
        words.append(n)
        left -= n
    width_px = sum(words) * advance + len(words) * space + 4 * SUPER
    font = latin_font(big)
    if latin:
        width_px += font.getlength(latin) + space
    canvas = Image.new("L", (max(1, int(width_px)), int(big * 1.35)), 0)
    draw = ImageDraw.Draw(canvas)
    x = 2.0 * SUPER
    for n in words:
        for _ in range(n):
            _syllable(draw, x, big * 0.15, big * 0.95, rng)
            x += advance
        x += space
    if latin:
        draw.text((x, big * 0.2), latin, fill=255, font=font)
    if bold:
        canvas = canvas.filter(ImageFilter.MaxFilter(3))
    return canvas.reduce(SUPER)


def latin_mask(text: str, size: int) -> Image.Image:
    """Latin text (digits, times, handles) as an anti-aliased "L" mask."""
    font = latin_font(size)
    width = max(1, int(font.getlength(text)) + 2)
    canvas = Image.new("L", (width, int(size * 1.35)), 0)
    ImageDraw.Draw(canvas).text((1, size * 0.1), text, fill=255, font=font)
    return canvas


def put(img: Image.Image, mask: Image.Image, xy: tuple[int, int], colour: tuple[int, int, int]) -> tuple[int, int]:
    """Ink `mask` onto `img` at `xy` in `colour`; returns the mask's size (clipped at the right edge)."""
    x, y = xy
    room = img.width - x
    if room <= 0:
        return 0, mask.height
    if mask.width > room:
        mask = mask.crop((0, 0, room, mask.height))
    img.paste(colour, (x, y, x + mask.width, y + mask.height), mask)
    return mask.width, mask.height


def wrap_lines(size: int, rng: np.random.Generator, max_width: int, chars: int) -> list[Image.Image]:
    """A message of `chars` syllables wrapped into lines no wider than `max_width` pixels."""
    per_line = max(1, int(max_width / (size * 1.15)))
    masks: list[Image.Image] = []
    left = chars
    while left > 0:
        n = min(left, per_line)
        latin = ""
        if rng.random() < 0.2:
            latin = str(rng.choice(["ㅋㅋ", "ok", "?", "!!", "10", "2026", "lol", "...", "^^"]))
        masks.append(text_mask(size, rng, chars=n, latin=latin if latin.isascii() else ""))
        left -= n
    return masks
