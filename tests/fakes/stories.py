"""Story-style captures: large Korean text over a smooth gradient, as Instagram and KakaoTalk stories are.

Deterministic per seed. Two sets that never share a seed: `tuning_set` (what the filter's thresholds may be
fitted to) and `held_out_set` (measured once, after tuning, never looked at while tuning). Both draw every
parameter (size, colours, gradient shape, text size, line count, colour, shadow, story chrome, noise,
encoding) from the seed, so the held-out images are new content of the same kind, not copies.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tests.fakes import glyphs

TUNING_SEEDS = range(0, 40)
HELD_OUT_SEEDS = range(10_000, 10_060)
SIZES = [(1080, 1920), (720, 1280), (1170, 2080), (828, 1472), (1080, 1350), (640, 1138)]


@dataclass(frozen=True)
class Story:
    name: str
    seed: int
    data: bytes


def _hsv(rng: np.random.Generator) -> tuple[int, int, int]:
    hue, sat, val = rng.random(), rng.uniform(0.35, 0.95), rng.uniform(0.35, 1.0)
    i = int(hue * 6) % 6
    f = hue * 6 - int(hue * 6)
    p, q, t = val * (1 - sat), val * (1 - f * sat), val * (1 - (1 - f) * sat)
    r, g, b = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val), (val, p, q)][i]
    return round(r * 255), round(g * 255), round(b * 255)


def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth two- or three-colour gradient: linear (any angle) or radial, with optional faint noise. Drawn
    at a quarter of the size and scaled up (bilinear): as smooth, and sixteen times less work."""
    sw, sh = max(2, width // 4), max(2, height // 4)
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    kind = rng.integers(0, 3)
    if kind == 2:
        cx, cy = rng.uniform(0.2, 0.8) * sw, rng.uniform(0.2, 0.8) * sh
        t = np.hypot(xs - cx, ys - cy)
        t = t / max(float(t.max()), 1e-6)
    else:
        angle = rng.uniform(0, np.pi) if kind == 1 else np.pi / 2 + rng.uniform(-0.2, 0.2)
        t = xs * np.cos(angle) + ys * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    stops = np.array([_hsv(rng) for _ in range(int(rng.integers(2, 4)))], np.float32)
    position = np.linspace(0.0, 1.0, len(stops))
    small = np.stack([np.interp(t, position, stops[:, c]) for c in range(3)], axis=-1)
    image = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), "RGB").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    out = np.asarray(image)
    noise = rng.uniform(0.0, 2.5)
    if noise > 0.3:
        grain = rng.standard_normal((height, width, 1), dtype=np.float32) * noise
        out = np.clip(out + grain, 0, 255).astype(np.uint8)
    return out


def _text_colour(rng: np.random.Generator, background: tuple[float, ...]) -> tuple[int, int, int]:
    luma = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    if rng.random() < 0.2:
        return _hsv(rng)
    return (255, 255, 255) if luma < 150 or rng.random() < 0.5 else (20, 20, 20)


def story_capture(width: int, height: int, seed: int) -> Image.Image:
    """One story frame: gradient, 1-5 lines of large text (centred), optional shadow, optional story chrome."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(_gradient(rng, width, height), "RGB")
    size = int(width * rng.uniform(0.05, 0.10))
    count = int(rng.integers(1, 6))
    masks = [glyphs.text_mask(size, rng, chars=int(rng.integers(3, 11)), bold=rng.random() < 0.5) for _ in range(count)]
    masks = [m if m.width <= width * 0.9 else m.crop((0, 0, int(width * 0.9), m.height)) for m in masks]
    gap = int(size * rng.uniform(0.2, 0.6))
    block = sum(m.height for m in masks) + gap * (count - 1)
    top = int((height - block) * rng.uniform(0.3, 0.7))
    centre = np.asarray(img)[min(height - 1, top + block // 2), width // 2].astype(float)
    colour = _text_colour(rng, tuple(centre))
    shadow = rng.random() < 0.4
    y = top
    for mask in masks:
        x = (width - mask.width) // 2
        if shadow:
            soft = mask.filter(ImageFilter.GaussianBlur(max(1, size // 12)))
            glyphs.put(img, soft, (x + size // 20, y + size // 20), (0, 0, 0))
        glyphs.put(img, mask, (x, y), colour)
        y += mask.height + gap
    if rng.random() < 0.6:  # the story viewer's chrome: progress bars, an avatar, a name, a time
        draw = ImageDraw.Draw(img)
        bars = int(rng.integers(1, 5))
        bar_w = (width - 40 - 8 * (bars - 1)) / bars
        for k in range(bars):
            x0 = 20 + k * (bar_w + 8)
            draw.rounded_rectangle((x0, 24, x0 + bar_w, 30), radius=3, fill=(235, 235, 235))
        radius = width // 30
        draw.ellipse((20, 50, 20 + 2 * radius, 50 + 2 * radius), fill=_hsv(rng), outline=(255, 255, 255), width=3)
        name = glyphs.text_mask(width // 36, rng, chars=int(rng.integers(2, 6)), latin="3h")
        glyphs.put(img, name, (30 + 2 * radius, 50 + radius - name.height // 2), (250, 250, 250))
    return img


def encode(img: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    if rng.random() < 0.25:
        img.save(buffer, "PNG", compress_level=1)  # lossless either way; level 1 is fast
    else:
        if rng.random() < 0.3:  # re-posted smaller by a site
            scale = rng.uniform(0.45, 0.8)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        img.save(buffer, "JPEG", quality=int(rng.integers(68, 95)))
    return buffer.getvalue()


def story(seed: int) -> Story:
    rng = np.random.default_rng(seed + 7_919)
    width, height = SIZES[int(rng.integers(0, len(SIZES)))]
    return Story(f"story_{seed}", seed, encode(story_capture(width, height, seed), rng))


def tuning_set() -> list[Story]:
    return [story(seed) for seed in TUNING_SEEDS]


def held_out_set() -> list[Story]:
    return [story(seed) for seed in HELD_OUT_SEEDS]
