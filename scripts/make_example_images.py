"""Regenerate the small images and narration stand-ins bundled with the example posts (deterministic).

Run from the repo root (as a module, so the test generators in tests/fakes are importable):

    .venv/bin/python -m scripts.make_example_images

The square photo and the dark KakaoTalk capture come from the same generators as the image filter's labelled
set (tests/fakes), so the examples show the cases the filter is tested on.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.fakes.captures import chat_capture
from tests.fakes.photo_scenes import photo

OUT = Path("examples/posts/images")


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A rainy street-at-dusk look: sky gradient, buildings with lit windows, wet road, grain."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None]
    sky = np.stack([70 + 90 * y, 80 + 70 * y, 120 + 40 * y], axis=-1) * np.ones((1, width, 1))
    img = Image.fromarray(sky.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    x = 0
    while x < width:
        w = int(rng.integers(60, 140))
        top = int(rng.integers(height // 6, height // 2))
        shade = int(rng.integers(35, 80))
        draw.rectangle([x, top, x + w, int(height * 0.72)], fill=(shade, shade + 5, shade + 15))
        for wy in range(top + 12, int(height * 0.7) - 10, 22):
            for wx in range(x + 8, x + w - 12, 20):
                if rng.random() < 0.55:
                    warm = int(rng.integers(170, 250))
                    draw.rectangle([wx, wy, wx + 9, wy + 12], fill=(warm, int(warm * 0.8), 90))
        x += w + int(rng.integers(0, 12))
    draw.rectangle([0, int(height * 0.72), width, height], fill=(45, 48, 58))
    for _ in range(40):
        rx = int(rng.integers(0, width))
        ry = int(rng.integers(int(height * 0.74), height))
        col = (int(rng.integers(150, 255)), int(rng.integers(110, 200)), 80)
        draw.ellipse([rx - 18, ry - 3, rx + 18, ry + 3], fill=col)
    # A person with an umbrella, mid-ground.
    cx, base = int(width * 0.42), int(height * 0.86)
    draw.rectangle([cx - 14, base - 120, cx + 14, base], fill=(30, 30, 36))
    draw.ellipse([cx - 14, base - 150, cx + 14, base - 118], fill=(205, 170, 140))
    draw.pieslice([cx - 70, base - 215, cx + 70, base - 95], 180, 360, fill=(180, 40, 50))
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    arr = np.asarray(img).astype(np.float32)
    arr += rng.normal(0, 9, arr.shape)
    for _ in range(900):  # rain streaks
        rx, ry = int(rng.integers(0, width)), int(rng.integers(0, height))
        arr[ry : ry + 14, rx : rx + 1] += 40
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def text_screenshot(width: int, height: int) -> Image.Image:
    """A messenger-style capture: many lines of dark text on white."""
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=22)
    lines = [
        "Team lead: who ordered 40 boxes of printer paper??",
        "Me: it said 4 in the cart, I swear",
        "Team lead: the hallway is now a paper fort",
        "Intern: I already moved in, rent is cheap",
        "Me: can we return them",
        "Finance: no.",
        "Team lead: then we print EVERYTHING this year",
        "Intern: emails too?",
        "Team lead: especially emails",
    ]
    y = 30
    for i in range(3):
        for line in lines:
            draw.text((28, y), line, fill=(20, 20, 20), font=font)
            y += 42
            if y > height - 40:
                return img
        y += 20 + i
    return img


def flat_meme(size: int) -> Image.Image:
    """A flat two-colour reaction image: big shapes, no texture."""
    img = Image.new("RGB", (size, size), (255, 221, 87))
    draw = ImageDraw.Draw(img)
    draw.ellipse([size * 0.2, size * 0.18, size * 0.8, size * 0.78], fill=(255, 255, 255), outline=(0, 0, 0), width=6)
    draw.ellipse([size * 0.36, size * 0.36, size * 0.44, size * 0.46], fill=(0, 0, 0))
    draw.ellipse([size * 0.56, size * 0.36, size * 0.64, size * 0.46], fill=(0, 0, 0))
    draw.arc([size * 0.36, size * 0.48, size * 0.64, size * 0.66], 200, 340, fill=(0, 0, 0), width=8)
    return img


def wide_banner(width: int, height: int) -> Image.Image:
    """A 5:1 event banner: gradient with a few shapes."""
    x = np.linspace(0.0, 1.0, width)[None, :]
    arr = np.stack([40 + 200 * x, 90 + 60 * x, 200 - 120 * x], axis=-1) * np.ones((height, 1, 1))
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for i in range(8):
        cx = 90 + i * 190
        draw.ellipse([cx - 40, height // 2 - 40, cx + 40, height // 2 + 40], fill=(255, 255, 255))
    return img


def narration_stand_in(path: Path, seconds: float, rate: int = 16000) -> None:
    """A quiet tone standing in for a TTS line (Phase 5 writes real ones), so line audio has a duration."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.1 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    photo_like(960, 640, seed=7).save(OUT / "rainy_street.jpg", quality=82)
    photo_like(720, 960, seed=11).save(OUT / "night_alley.jpg", quality=82)
    text_screenshot(720, 1000).save(OUT / "chat_capture.png")
    flat_meme(480).save(OUT / "flat_meme.png")
    wide_banner(1500, 300).save(OUT / "event_banner.jpg", quality=85)
    narration_stand_in(OUT.parent / "tts" / "scene2_line0.wav", 2.6)
    # birthday_cake.json: a square photo, a dark-theme chat capture, and a scene of three narrated lines
    # (7.2 s of audio in all, at 8 kHz to keep the files small).
    photo("food", 800, 800, 21).save(OUT / "birthday_cake.jpg", quality=85)
    chat_capture(720, 1480, "kakao_dark", 41).save(OUT / "kakao_dark_chat.png")
    for line, seconds in enumerate((2.5, 2.3, 2.4)):
        narration_stand_in(OUT.parent / "tts" / f"cake_scene3_line{line}.wav", seconds, rate=8000)


if __name__ == "__main__":
    main()
