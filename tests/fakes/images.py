"""Generated sample images for tests and benchmarks: photo-like, text captures, flat memes."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def photo_like(width: int, height: int, seed: int = 1, *, dark: bool = False) -> Image.Image:
    """Smooth colour gradients, shapes, texture at several scales and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(x / width * 3.1 + 0.5),
            100 + 70 * np.cos(y / height * 2.3),
            140 + 60 * np.sin((x + y) / (width + height) * 4),
        ],
        -1,
    )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    short = min(width, height)
    for _ in range(40):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(short // 30 + 2, short // 6 + 3))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.rectangle([cx - r, cy - r // 2, cx + r, cy + r // 2], fill=colour)
    arr: np.typing.NDArray[np.float64] = np.asarray(img).astype(np.float64)
    coarse = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    texture_img = Image.fromarray(np.clip(coarse * 40 + 128, 0, 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    texture = np.asarray(texture_img).astype(np.float32) - 128
    arr = arr + texture * 0.8 + rng.normal(0, 12, arr.shape)
    if dark:
        arr = arr * 0.3 + rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def text_capture(width: int, height: int, *, dark_mode: bool = False, font_size: int | None = None) -> Image.Image:
    """Lines of text on a plain background, like a captured chat or article."""
    bg, fg = ((255, 255, 255), (20, 20, 20)) if not dark_mode else ((18, 18, 18), (235, 235, 235))
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    size = font_size or max(10, width // 36)
    font = ImageFont.load_default(size=size)
    words = "the quick brown fox jumps over the lazy dog hello world lorem ipsum dolor sit amet".split()  # noqa: SIM905
    rng = np.random.default_rng(3)
    line_height = int(size * 1.6)
    y = line_height
    while y < height - line_height:
        draw.text((width // 20, y), " ".join(rng.choice(words, 12)), fill=fg, font=font)
        y += line_height
    return img


def flat_meme(width: int, height: int) -> Image.Image:
    """A cartoon: a flat background, a big outlined face, nothing else."""
    img = Image.new("RGB", (width, height), (255, 220, 90))
    draw = ImageDraw.Draw(img)
    draw.ellipse(
        [width // 5, height // 5, 4 * width // 5, 4 * height // 5], fill=(255, 255, 255), outline=(0, 0, 0), width=4
    )
    draw.ellipse([width // 3, height // 3, width // 3 + 30, height // 3 + 40], fill=(0, 0, 0))
    draw.ellipse([width // 2 + 20, height // 3, width // 2 + 50, height // 3 + 40], fill=(0, 0, 0))
    return img
