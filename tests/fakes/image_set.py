"""The image filter's labelled set: generated photos and non-photos in several sizes, themes and encodings.

Generated deterministically and cached on disk under the system temp folder, keyed by a hash of the generator
sources (so a change to a generator regenerates the set and nothing stale is ever scored). The label is what
the stage should do with the image: ``photo`` images go to image-to-video, everything else to text-to-video.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image

from tests.fakes import captures, glyphs, photo_scenes
from tests.fakes.captures import CHAT_THEMES

Maker = Callable[[], bytes]


@dataclass(frozen=True)
class Labelled:
    name: str
    family: str
    is_photo: bool
    make: Maker


def _encode(img: Image.Image | list[Image.Image], fmt: str, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    if isinstance(img, list):
        img[0].save(buffer, "GIF", save_all=True, append_images=img[1:], duration=120, loop=0)
    elif fmt == "JPEG":
        img.convert("RGB").save(buffer, "JPEG", quality=quality)
    else:
        img.save(buffer, fmt)
    return buffer.getvalue()


def _photo(kind: str, size: tuple[int, int], seed: int, quality: int, shrink: float = 1.0) -> Maker:
    def make() -> bytes:
        img = photo_scenes.photo(kind, size[0], size[1], seed)
        if shrink != 1.0:  # a site that re-encodes uploads at a smaller size
            first = Image.open(io.BytesIO(_encode(img, "JPEG", 92)))
            img = first.resize((round(size[0] * shrink), round(size[1] * shrink)), Image.Resampling.LANCZOS)
        return _encode(img, "JPEG", quality)

    return make


def _made(
    draw: Callable[[], Image.Image | list[Image.Image]],
    fmt: str,
    quality: int = 90,
    resize: tuple[int, int] | None = None,
) -> Maker:
    def make() -> bytes:
        img = draw()
        if resize is not None and not isinstance(img, list):
            img = img.resize(resize, Image.Resampling.LANCZOS)
        return _encode(img, fmt, quality)

    return make


def _framed(canvas: tuple[int, int], inner: tuple[int, int], fill: tuple[int, int, int], seed: int) -> Image.Image:
    out = Image.new("RGB", canvas, fill)
    kind = photo_scenes.PHOTO_KINDS[seed % len(photo_scenes.PHOTO_KINDS)]
    out.paste(photo_scenes.photo(kind, *inner, seed), ((canvas[0] - inner[0]) // 2, (canvas[1] - inner[1]) // 2))
    return out


def labelled_set(base: int = 0) -> list[Labelled]:
    """Every image of the set, photos first. Sizes, orientations and JPEG qualities vary within each family.
    `base` shifts every seed: the same families and encodings with other content (a held-out set)."""
    items: list[Labelled] = []

    def add(name: str, family: str, make: Maker) -> None:
        items.append(Labelled(name, family, family.startswith("photo"), make))

    sizes = [(1200, 900), (900, 1200), (1080, 1080), (1280, 720), (1000, 750)]
    qualities = [92, 80, 68, 85, 75]
    for k, kind in enumerate(photo_scenes.PHOTO_KINDS):
        for v in range(4):
            size = sizes[(k + v) % len(sizes)]
            quality = qualities[(k * 2 + v) % len(qualities)]
            shrink = 0.6 if v == 3 else 1.0
            add(f"photo_{kind}_{v}.jpg", f"photo:{kind}", _photo(kind, size, base + 100 * k + v, quality, shrink))
    # Video stills with black bars and photos padded to a square canvas: still photographs.
    framings = [
        ((1280, 720), (960, 720), (0, 0, 0)),
        ((1080, 1080), (1080, 720), (255, 255, 255)),
        ((1080, 1080), (720, 1080), (0, 0, 0)),
    ]
    for v, (canvas, inner, fill) in enumerate(framings):
        add(
            f"photo_framed_{v}.jpg",
            "photo:framed",
            _made(partial(_framed, canvas, inner, fill, base + 300 + v), "JPEG", 85),
        )
    # Phones capture at 1080 wide; posts carry them as PNG, as site-recompressed JPEG, or shrunk and cropped.
    encodings = [("PNG", (1080, 2220), 0), ("JPEG", (720, 1480), 85), ("JPEG", (1080, 1400), 70)]
    for t, theme in enumerate(CHAT_THEMES):
        for v, (fmt, (w, h), quality) in enumerate(encodings):
            ext = "png" if fmt == "PNG" else "jpg"
            make = partial(captures.chat_capture, w, h, theme, base + 500 + 10 * t + v)
            add(f"chat_{theme}_{v}.{ext}", f"chat:{theme}", _made(make, fmt, quality))
    for v, theme in enumerate(("kakao_light", "line")):
        make = partial(captures.chat_capture, 1080, 2220, theme, base + 560 + v, wallpaper=True)
        add(f"chat_wallpaper_{v}.jpg", f"chat:{theme}_wallpaper", _made(make, "JPEG", 85))
    for v, theme in enumerate(("kakao_light", "sms_dark")):  # shrunk by the poster, then recompressed
        make = partial(captures.chat_capture, 1080, 2220, theme, base + 570 + v)
        add(f"chat_small_{v}.jpg", f"chat:{theme}", _made(make, "JPEG", 75, resize=(432, 888)))
    for v in range(4):
        make = partial(
            captures.board_capture, 860, 1500 + 200 * v, base + 600 + v, with_photo=v % 2 == 0, comments=v != 1
        )
        add(f"board_{v}.{'png' if v % 2 else 'jpg'}", "board", _made(make, "PNG" if v % 2 else "JPEG", 82))
    for v in range(4):
        make = partial(captures.tweet_capture, 1080, 1300 + 300 * v, base + 700 + v, dim=v == 2)
        add(f"tweet_{v}.{'jpg' if v % 2 else 'png'}", "tweet_dark", _made(make, "JPEG" if v % 2 else "PNG", 80))
    for v in range(3):  # one post opened full screen: mostly its photo, the app's chrome and text around it
        make = partial(captures.tweet_photo_capture, 1080 if v != 1 else 720, base + 720 + v, dim=v == 2)
        add(f"tweet_photo_{v}.{'png' if v == 0 else 'jpg'}", "tweet_dark", _made(make, "PNG" if v == 0 else "JPEG", 82))
    for v, (tilt, shadow) in enumerate([(0.0, False), (0.8, False), (-1.5, True), (0.0, True)]):
        make = partial(captures.text_scan, 1240, 1754, base + 800 + v, tilt=tilt, shadow=shadow)
        add(f"scan_{v}.jpg", "scan", _made(make, "JPEG", 75 + 5 * v))
    for v, colour in enumerate([(0, 0, 0), (20, 60, 30), (90, 40, 20)]):
        make = partial(captures.silhouette, 1000, 800, base + 900 + v, colour=colour)
        add(f"silhouette_{v}.{'jpg' if v == 1 else 'png'}", "silhouette", _made(make, "JPEG" if v == 1 else "PNG", 85))
    for v in range(3):
        add(f"clipart_{v}.png", "clipart", _made(partial(captures.clipart, 900, 900, base + 950 + v), "PNG"))
    for v in range(3):
        make = partial(captures.cartoon_meme, 800, 700 + 100 * v, base + 980 + v)
        add(f"meme_{v}.{'jpg' if v else 'png'}", "meme", _made(make, "JPEG" if v else "PNG", 80))
    for v, size in enumerate([(160, 120), (200, 200), (240, 135)]):
        add(f"thumb_{v}.jpg", "tiny", _photo(photo_scenes.PHOTO_KINDS[v], size, base + 990 + v, 80))
    for v, (w, h) in enumerate([(240, 240), (480, 360)]):
        add(f"gif_{v}.gif", "gif", _made(partial(captures.palette_gif_frames, w, h, base + 995 + v), "GIF"))
    return items


def _version() -> str:
    digest = hashlib.sha256()
    for module in (photo_scenes, captures, glyphs):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:12]


def cache_dir(base: int = 0) -> Path:
    return Path(tempfile.gettempdir()) / f"wagglebot-image-set-{_version()}-{base}"


def materialise(folder: Path | None = None, base: int = 0) -> list[tuple[Path, Labelled]]:
    """Write every image of the set (once; later calls reuse the files) and return where each one is."""
    target = folder or cache_dir(base)
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for item in labelled_set(base):
        path = target / item.name
        if not path.exists():
            # Written under a temporary name and renamed, so a concurrent reader never sees half a file.
            pending = target / f".{item.name}.{os.getpid()}.part"
            pending.write_bytes(item.make())
            pending.replace(path)
        out.append((path, item))
    return out
