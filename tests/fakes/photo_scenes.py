"""Synthetic photographs with a camera's statistics, for the image filter's labelled set.

A scene is rendered in linear-ish float RGB from procedural parts (sky with clouds, ridges, ground, trees,
buildings, people, lights), then goes through what a phone does to it: lens blur, vignetting, exposure with
highlight clipping, shot and read noise, a tone curve, and JPEG. Nothing here knows about the classifier; the
parameters come from what photos look like (a sky is a smooth gradient with soft clouds, snow clips to white,
night scenes are noisy and crushed to black), not from what the filter measures.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter

Array = NDArray[np.float32]


def fractal(rng: np.random.Generator, width: int, height: int, *, octaves: int = 5, base: int = 4) -> Array:
    """Smooth random field in about -1..1: octaves of upsampled noise, each half the amplitude of the last."""
    total = np.zeros((height, width), np.float32)
    amplitude, weight = 1.0, 0.0
    cells = base
    for _ in range(octaves):
        cw = max(2, cells)
        ch = max(2, round(cells * height / max(width, 1)))
        small = rng.normal(0, 1, (ch, cw)).astype(np.float32)
        layer = Image.fromarray(small, "F").resize((width, height), Image.Resampling.BICUBIC)
        total += amplitude * np.asarray(layer, np.float32)
        weight += amplitude
        amplitude *= 0.5
        cells *= 2
    return total / weight


def gaussian(arr: Array, sigma: float) -> Array:
    """Separable Gaussian blur over the first two axes (edges repeated), in float."""
    radius = max(1, int(3 * sigma + 0.5))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    taps /= taps.sum()
    out = arr
    for axis in (0, 1):
        pad = [(0, 0)] * arr.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, tap in enumerate(taps):
            acc += tap * np.take(padded, np.arange(i, i + n), axis=axis)
        out = acc
    return out


def _ridge(rng: np.random.Generator, width: int, level: float, roughness: float, height: int) -> NDArray[np.float64]:
    """A skyline profile (row index per column) from 1-D fractal noise."""
    line = np.zeros(width)
    amp, cells = roughness * height, 3
    for _ in range(6):
        pts = rng.normal(0, 1, cells + 1)
        line += amp * np.interp(np.linspace(0, cells, width), np.arange(cells + 1), pts)
        amp *= 0.5
        cells *= 2
    return level * height + line


def _sky(
    rng: np.random.Generator, w: int, h: int, top: tuple[float, ...], horizon: tuple[float, ...], clouds: float
) -> Array:
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    sky = np.asarray(top, np.float32) * (1 - y) + np.asarray(horizon, np.float32) * y
    sky = np.broadcast_to(sky, (h, w, 3)).copy()
    if clouds > 0:
        field = fractal(rng, w, h, octaves=6, base=3)
        cover = np.clip((field + 0.15) * 2.2, 0, 1)[..., None] * clouds
        shade = 0.82 + 0.18 * fractal(rng, w, h, octaves=4, base=6)[..., None]
        sky = sky * (1 - cover) + np.asarray([0.93, 0.93, 0.95], np.float32) * shade * cover
    return sky


def _fill_below(img: Array, profile: NDArray[np.float64], colour: Array) -> None:
    h = img.shape[0]
    rows = np.arange(h)[:, None]
    mask = rows >= profile[None, :]
    img[mask] = colour[mask]


def _texture(
    rng: np.random.Generator, w: int, h: int, base: tuple[float, ...], spread: float, fine: float = 0.5
) -> Array:
    """A natural surface: base colour modulated by coarse and fine noise, with a little hue wander."""
    coarse = fractal(rng, w, h, octaves=4, base=5)[..., None]
    detail = fractal(rng, w, h, octaves=3, base=max(8, w // 12))[..., None]
    hue = fractal(rng, w, h, octaves=2, base=3)
    tint = np.stack([hue, -hue * 0.5, -hue * 0.5], -1) * 0.04
    out = np.asarray(base, np.float32) * (1 + spread * coarse + fine * spread * detail) + tint
    return out.astype(np.float32)


def _draw_overlay(img: Array, draw_fn: Callable[[ImageDraw.ImageDraw, int, int], None]) -> None:
    """Draw with Pillow on an RGBA layer and composite it over the float image (shapes keep soft edges)."""
    h, w = img.shape[:2]
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw_fn(ImageDraw.Draw(layer), w, h)
    arr = np.asarray(layer, np.float32) / 255.0
    alpha = arr[..., 3:4]
    img[:] = img * (1 - alpha) + arr[..., :3] * alpha


def _trees(
    rng: np.random.Generator,
    img: Array,
    ground: NDArray[np.float64],
    count: int,
    colour: tuple[float, ...],
    snow: bool = False,
) -> None:
    h, w = img.shape[:2]

    def paint(draw: ImageDraw.ImageDraw, _w: int, _h: int) -> None:
        for _ in range(count):
            x = int(rng.integers(0, w))
            base = int(min(h - 1, ground[min(x, w - 1)] + rng.integers(0, max(2, h // 20))))
            size = int(rng.integers(h // 14, h // 5))
            for _ in range(18):
                dx, dy = rng.normal(0, size * 0.25), -abs(rng.normal(size * 0.6, size * 0.3))
                r = int(rng.integers(max(2, size // 8), max(3, size // 3)))
                shade = rng.uniform(0.6, 1.2)
                c = tuple(int(np.clip(v * shade * 255, 0, 255)) for v in colour)
                if snow and rng.random() < 0.35:
                    c = (int(rng.integers(215, 250)),) * 2 + (int(rng.integers(225, 255)),)
                draw.ellipse([x + dx - r, base + dy - r, x + dx + r, base + dy + r], fill=(*c, 255))
            trunk = max(2, size // 12)
            draw.rectangle([x - trunk, base - size // 3, x + trunk, base], fill=(60, 45, 35, 255))

    _draw_overlay(img, paint)


def _people(rng: np.random.Generator, img: Array, count: int, floor: float, scale: float) -> None:
    h, w = img.shape[:2]

    def paint(draw: ImageDraw.ImageDraw, _w: int, _h: int) -> None:
        for _ in range(count):
            x = int(rng.integers(w // 10, 9 * w // 10))
            base = int(h * (floor + rng.uniform(0, 1 - floor) * 0.8))
            tall = int(h * scale * rng.uniform(0.6, 1.2) * (base / h))
            body = tuple(int(v) for v in rng.integers(20, 200, 3))
            draw.rounded_rectangle(
                [x - tall // 7, base - tall * 0.8, x + tall // 7, base], radius=tall // 10, fill=(*body, 255)
            )
            skin = (int(rng.integers(170, 230)), int(rng.integers(130, 180)), int(rng.integers(100, 150)), 255)
            draw.ellipse([x - tall // 11, base - tall, x + tall // 11, base - tall * 0.8], fill=skin)

    _draw_overlay(img, paint)


def _buildings(rng: np.random.Generator, img: Array, horizon: float, lit: float, night: bool) -> None:
    h, w = img.shape[:2]

    def paint(draw: ImageDraw.ImageDraw, _w: int, _h: int) -> None:
        x = int(rng.integers(-40, 0))
        while x < w:
            bw = int(rng.integers(w // 12, w // 4))
            top = int(h * rng.uniform(0.08, horizon - 0.05))
            grey = int(rng.integers(25, 70)) if night else int(rng.integers(90, 200))
            tint = (grey + int(rng.integers(-10, 10)), grey, grey + int(rng.integers(0, 20)))
            draw.rectangle([x, top, x + bw, int(h * horizon) + 2], fill=(*tint, 255))
            step = max(6, bw // 7)
            for wy in range(top + step, int(h * horizon) - step, step + step // 2):
                for wx in range(x + step // 2, x + bw - step, step):
                    if rng.random() < lit:
                        warm = int(rng.integers(200, 255))
                        colour = (warm, int(warm * rng.uniform(0.75, 0.9)), int(warm * rng.uniform(0.4, 0.6)))
                    else:
                        dark = int(grey * rng.uniform(0.4, 0.8))
                        colour = (dark, dark, dark + 8)
                    draw.rectangle([wx, wy, wx + step // 2, wy + step // 2 + 2], fill=(*colour, 255))
            x += bw + int(rng.integers(0, max(2, w // 60)))

    _draw_overlay(img, paint)


def _lights(rng: np.random.Generator, img: Array, count: int, radius: float) -> None:
    """Point lights with bloom (added in linear light, so they clip to white in the middle)."""
    h, w = img.shape[:2]
    glow = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(count):
        cx, cy = rng.uniform(0, w), rng.uniform(0.15 * h, 0.75 * h)
        r = radius * min(w, h) * rng.uniform(0.5, 1.5)
        glow += 2.5 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    img += glow[..., None] * np.asarray([1.0, 0.8, 0.5], np.float32)


def _person(rng: np.random.Generator) -> Callable[[ImageDraw.ImageDraw, int, int], None]:
    """A head-and-shoulders subject, drawn into an overlay."""

    def person(draw: ImageDraw.ImageDraw, ww: int, hh: int) -> None:
        cx = int(ww * rng.uniform(0.35, 0.65))
        coat = tuple(int(v) for v in rng.integers(20, 180, 3))
        draw.ellipse([cx - ww * 0.35, hh * 0.55, cx + ww * 0.35, hh * 1.3], fill=(*coat, 255))
        skin = (int(rng.integers(190, 235)), int(rng.integers(150, 190)), int(rng.integers(120, 160)), 255)
        draw.ellipse([cx - ww * 0.16, hh * 0.2, cx + ww * 0.16, hh * 0.62], fill=skin)
        hair = tuple(int(v) for v in rng.integers(10, 60, 3))
        draw.chord([cx - ww * 0.18, hh * 0.16, cx + ww * 0.18, hh * 0.5], 180, 360, fill=(*hair, 255))

    return person


def _bokeh(rng: np.random.Generator, w: int, h: int, seed: int) -> Array:
    """A phone's portrait mode: a scene blurred to smooth colour fields behind a sharp, textured subject."""
    behind = ("street", "landscape", "indoor", "night")[int(rng.integers(0, 4))]
    img = gaussian(scene(behind, w, h, seed + 1), max(w, h) / 30)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    _person(rng)(ImageDraw.Draw(layer), w, h)
    drawn = np.asarray(layer, np.float32) / 255.0
    alpha = drawn[..., 3:4]
    texture = 1 + 0.08 * fractal(rng, w, h, octaves=4, base=max(16, w // 10))[..., None]
    out: Array = (img * (1 - alpha) + drawn[..., :3] * texture * alpha).astype(np.float32)
    return out


def scene(kind: str, width: int, height: int, seed: int) -> Array:
    """The scene in linear light (roughly 0..1, highlights may exceed 1)."""
    rng = np.random.default_rng(seed)
    w, h = width, height
    if kind == "landscape":
        img = _sky(rng, w, h, (0.18, 0.35, 0.75), (0.65, 0.75, 0.9), rng.uniform(0.2, 0.8))
        for level, tone in ((0.42, (0.45, 0.52, 0.65)), (0.5, (0.25, 0.33, 0.3)), (0.62, (0.18, 0.3, 0.12))):
            profile = _ridge(rng, w, level + rng.uniform(-0.05, 0.05), 0.06, h)
            _fill_below(img, profile, _texture(rng, w, h, tone, 0.25, 1.2))
        _trees(rng, img, _ridge(rng, w, 0.64, 0.02, h), int(rng.integers(3, 12)), (0.12, 0.25, 0.08))
    elif kind == "sky":
        # Mostly sky: a smooth gradient, soft clouds, a thin strip of land or roofs at the bottom.
        top, hor = (
            ((0.1, 0.28, 0.7), (0.55, 0.7, 0.92)) if rng.random() < 0.6 else ((0.35, 0.3, 0.55), (1.0, 0.6, 0.35))
        )
        img = _sky(rng, w, h, top, hor, rng.uniform(0.0, 0.6))
        profile = _ridge(rng, w, rng.uniform(0.8, 0.92), 0.02, h)
        _fill_below(img, profile, _texture(rng, w, h, (0.08, 0.1, 0.08), 0.3, 1.0))
    elif kind == "snow":
        img = _sky(rng, w, h, (0.6, 0.7, 0.85), (0.92, 0.93, 0.96), rng.uniform(0.3, 0.9))
        profile = _ridge(rng, w, rng.uniform(0.35, 0.55), 0.05, h)
        snow = _texture(rng, w, h, (0.8, 0.82, 0.88), 0.06, 0.6)
        shade = fractal(rng, w, h, octaves=3, base=3)[..., None]
        snow = snow * (1.05 + 0.12 * shade) * np.asarray([0.97, 0.99, 1.04], np.float32)
        _fill_below(img, profile, snow)
        _trees(rng, img, profile + h * 0.05, int(rng.integers(2, 9)), (0.1, 0.16, 0.1), snow=True)
        if rng.random() < 0.5:
            _people(rng, img, int(rng.integers(1, 4)), 0.6, 0.25)
    elif kind == "night":
        img = _sky(rng, w, h, (0.005, 0.007, 0.02), (0.04, 0.035, 0.05), 0.0)
        _buildings(rng, img, rng.uniform(0.7, 0.85), rng.uniform(0.2, 0.5), night=True)
        img *= 0.25
        road = _texture(rng, w, h, (0.03, 0.03, 0.035), 0.3, 1.0)
        _fill_below(img, np.full(w, 0.8 * h), road)
        _lights(rng, img, int(rng.integers(3, 9)), 0.02)
        _people(rng, img, int(rng.integers(0, 3)), 0.75, 0.3)
        img *= rng.uniform(0.5, 1.0)
    elif kind == "street":
        img = _sky(rng, w, h, (0.4, 0.5, 0.7), (0.75, 0.78, 0.82), rng.uniform(0.3, 1.0))
        _buildings(rng, img, rng.uniform(0.6, 0.72), rng.uniform(0.0, 0.2), night=False)
        road = _texture(rng, w, h, (0.3, 0.3, 0.32), 0.15, 1.0)
        _fill_below(img, np.full(w, 0.7 * h), road)
        _people(rng, img, int(rng.integers(2, 8)), 0.7, 0.35)
    elif kind == "indoor":
        wall = _texture(rng, w, h, tuple(rng.uniform(0.45, 0.8, 3)), 0.05, 0.3)
        x = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
        light = 1.0 - 0.35 * (x - rng.uniform(-0.5, 0.5)) ** 2
        img = wall * light
        floor = _texture(rng, w, h, tuple(rng.uniform(0.25, 0.5, 3) * np.asarray([1.0, 0.8, 0.6])), 0.2, 1.0)
        _fill_below(img, np.full(w, rng.uniform(0.6, 0.8) * h), floor)

        def furniture(draw: ImageDraw.ImageDraw, ww: int, hh: int) -> None:
            for _ in range(int(rng.integers(3, 7))):
                x0, y0 = int(rng.integers(0, ww)), int(rng.integers(hh // 4, hh))
                colour = tuple(int(v) for v in rng.integers(30, 220, 3))
                draw.rounded_rectangle(
                    [x0, y0, x0 + int(rng.integers(ww // 10, ww // 3)), y0 + int(rng.integers(hh // 10, hh // 3))],
                    radius=8,
                    fill=(*colour, 255),
                )
            wx = int(rng.integers(0, ww * 2 // 3))
            draw.rectangle([wx, hh // 8, wx + ww // 4, hh // 2], fill=(250, 250, 245, 255))

        _draw_overlay(img, furniture)
        img = img * (1 + 0.08 * fractal(rng, w, h, octaves=5, base=6)[..., None])
        _people(rng, img, int(rng.integers(0, 3)), 0.55, 0.5)
    elif kind == "portrait":
        # Shallow depth of field: a blurred background, a sharp subject in front.
        bg = _texture(rng, w, h, tuple(rng.uniform(0.2, 0.7, 3)), 0.5, 0.2)
        img = (
            np.asarray(
                Image.fromarray(np.clip(bg * 255, 0, 255).astype(np.uint8)).filter(
                    ImageFilter.GaussianBlur(max(w, h) / 60)
                ),
                np.float32,
            )
            / 255.0
        )

        _draw_overlay(img, _person(rng))
        img = img * (1 + 0.06 * fractal(rng, w, h, octaves=5, base=10)[..., None])
        x = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
        img = img * (1.1 - 0.25 * (x + 0.6) ** 2 / 2.6)
    elif kind == "food":
        table = _texture(rng, w, h, (0.45, 0.3, 0.18), 0.2, 1.5)
        img = table

        def dish(draw: ImageDraw.ImageDraw, ww: int, hh: int) -> None:
            s = min(ww, hh)
            cx, cy = ww // 2 + int(rng.integers(-s // 10, s // 10)), hh // 2
            draw.ellipse([cx - s * 0.42, cy - s * 0.42, cx + s * 0.42, cy + s * 0.42], fill=(240, 238, 232, 255))
            for _ in range(int(rng.integers(25, 60))):
                r = s * rng.uniform(0.02, 0.08)
                a, d = rng.uniform(0, 2 * np.pi), s * 0.3 * np.sqrt(rng.uniform())
                x0, y0 = cx + d * np.cos(a), cy + d * np.sin(a)
                colour = tuple(
                    int(v)
                    for v in rng.choice([[200, 60, 30], [240, 200, 80], [90, 150, 60], [120, 70, 40], [250, 240, 220]])
                )
                draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=(*colour, 255))

        _draw_overlay(img, dish)
        img = img * (1 + 0.1 * fractal(rng, w, h, octaves=4, base=max(12, w // 20))[..., None])
    elif kind == "product":
        # A studio or e-commerce shot: the object on a white sweep bright enough to clip, a soft shadow under it.
        img = np.full((h, w, 3), rng.uniform(1.05, 1.3), np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.5, 0.62)
        shadow = np.exp(-(((xx - cx) / (w * 0.3)) ** 2 + ((yy - cy - h * 0.18) / (h * 0.06)) ** 2))
        img *= (1 - 0.45 * shadow)[..., None]
        item = _texture(rng, w, h, tuple(rng.uniform(0.1, 0.7, 3)), 0.2, 1.0)
        shade = np.clip(1.2 - 0.7 * ((xx - cx + w * 0.1) ** 2 + (yy - cy + h * 0.1) ** 2) / (w * h * 0.12), 0.3, 1.2)
        mask = Image.new("L", (w, h), 0)
        md = ImageDraw.Draw(mask)
        md.rounded_rectangle(
            [cx - w * 0.22, cy - h * 0.25, cx + w * 0.22, cy + h * 0.15], radius=int(w * 0.06), fill=255
        )
        md.ellipse([cx - w * 0.12, cy - h * 0.38, cx + w * 0.12, cy - h * 0.15], fill=255)
        alpha = np.asarray(mask.filter(ImageFilter.GaussianBlur(1.5)), np.float32)[..., None] / 255.0
        img = img * (1 - alpha) + item * shade[..., None] * alpha
    elif kind == "bokeh":
        return _bokeh(rng, w, h, seed)  # no surface texture: the blurred background has none left
    else:
        raise ValueError(kind)
    # Every real surface has fine structure (grain, leaves, fabric): a light multiplicative texture at two scales.
    surface = fractal(rng, w, h, octaves=3, base=max(16, w // 10)) + 0.5 * fractal(rng, w, h, octaves=2, base=6)
    textured: Array = (img * (1 + 0.07 * surface[..., None])).astype(np.float32)
    return textured


def camera(
    linear: Array,
    seed: int,
    *,
    exposure: float = 1.0,
    iso_noise: float = 0.01,
    blur: float = 0.8,
    vignette: float = 0.2,
    denoise: float = 0.0,
    black_point: float = 0.0,
) -> Image.Image:
    """Lens blur, vignetting, exposure with clipping, shot and read noise, a phone's noise reduction (which
    leaves skies and night skies smooth), sRGB-like tone curve, 8 bits."""
    rng = np.random.default_rng(seed + 10_000)
    h, w = linear.shape[:2]
    y, x = np.ogrid[-1 : 1 : complex(0, h), -1 : 1 : complex(0, w)]
    falloff = 1 - vignette * (x * x + y * y) / 2
    signal = np.clip(linear * exposure * falloff[..., None].astype(np.float32), 0, None)
    if blur > 0:
        signal = gaussian(signal, blur)
    shot = rng.normal(0, 1, signal.shape).astype(np.float32) * np.sqrt(signal * iso_noise * 0.05 + 1e-8)
    read = rng.normal(0, iso_noise * 0.15, signal.shape).astype(np.float32)
    luma_noise = rng.normal(0, iso_noise * 0.3, signal.shape[:2]).astype(np.float32)[..., None] * 0.3
    noise = shot + read + luma_noise
    if denoise > 0:
        noise = gaussian(noise, denoise) * 0.5
    # A contrasty tone curve crushes the deepest shadows to exact black, as many phones do at night.
    raw = np.clip((signal + noise - black_point) / (1 - black_point), 0, 1)
    encoded = np.where(raw <= 0.0031308, raw * 12.92, 1.055 * np.power(raw, 1 / 2.4) - 0.055)
    return Image.fromarray(np.clip(encoded * 255 + 0.5, 0, 255).astype(np.uint8))


def jpeg(img: Image.Image, quality: int, *, subsampling: int = 2) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()


def photo(kind: str, width: int, height: int, seed: int) -> Image.Image:
    """One photograph of the given kind, through the camera model, as 8-bit RGB (not yet compressed)."""
    rng = np.random.default_rng(seed + 20_000)
    settings: dict[str, dict[str, float]] = {
        "night": {
            "exposure": rng.uniform(1.5, 3.0),
            "iso_noise": rng.uniform(0.03, 0.08),
            "blur": 0.9,
            "black_point": rng.choice([0.0, 0.01, 0.03]),
        },
        "snow": {"exposure": rng.uniform(1.0, 1.25), "iso_noise": 0.005, "blur": 0.7},
        "sky": {"exposure": rng.uniform(0.85, 1.1), "iso_noise": 0.004, "blur": 0.6},
        "product": {"exposure": 1.0, "iso_noise": 0.004, "blur": 0.6},
        "bokeh": {"exposure": rng.uniform(0.9, 1.2), "iso_noise": 0.004, "blur": 0.6, "denoise": 3.0},
    }
    params = settings.get(
        kind, {"exposure": rng.uniform(0.8, 1.2), "iso_noise": rng.uniform(0.005, 0.02), "blur": rng.uniform(0.5, 1.2)}
    )
    params["vignette"] = rng.uniform(0.05, 0.35)
    if rng.random() < 0.5:  # half the phones smooth noise away
        params.setdefault("denoise", rng.uniform(1.0, 3.0))
    return camera(scene(kind, width, height, seed), seed, **params)


PHOTO_KINDS = ("landscape", "sky", "snow", "night", "street", "indoor", "portrait", "food", "product", "bokeh")
