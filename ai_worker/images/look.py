"""What an image-to-video scene's picture looks like, cheaply, for its size and its motion prompt.

No vision model: the upright size comes from the header (EXIF orientation applied), and the look from a
small draft decode (brightness, colourfulness after Hasler and Suesstrunk, warm or cool cast). Both are
cached per file version, so the ladder's rungs and the prompt engine read each image once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from ai_worker.core.errors import ImageError
from ai_worker.images.normalize import oriented_size, to_rgb

logger = logging.getLogger(__name__)

Orientation = Literal["landscape", "square", "portrait"]
SQUARE_TOLERANCE = 0.1
"""Aspect ratios within 10 % of 1:1 count as square."""
_LOOK_SIDE = 128
DARK_BELOW = 0.3
BRIGHT_ABOVE = 0.62
MUTED_BELOW = 15.0
VIVID_ABOVE = 45.0
"""Colourfulness thresholds from Hasler and Suesstrunk's scale (15 'slightly', 45 'moderately' colourful)."""
WARM_CAST = 12.0


def orientation_of(width: int, height: int) -> Orientation:
    ratio = width / height
    if abs(ratio - 1.0) <= SQUARE_TOLERANCE:
        return "square"
    return "landscape" if ratio > 1 else "portrait"


@dataclass(frozen=True)
class ImageLook:
    """An image's upright size and measured look."""

    width: int
    height: int
    brightness: float
    """Mean luma, 0..1."""
    colourfulness: float
    warmth: float
    """Mean red minus mean blue, 0..255 scale: positive is warm."""

    @property
    def orientation(self) -> Orientation:
        return orientation_of(self.width, self.height)

    @property
    def light(self) -> Literal["dark", "bright", "even"]:
        if self.brightness < DARK_BELOW:
            return "dark"
        return "bright" if self.brightness > BRIGHT_ABOVE else "even"

    @property
    def colour(self) -> Literal["muted", "vivid", "natural"]:
        if self.colourfulness < MUTED_BELOW:
            return "muted"
        return "vivid" if self.colourfulness > VIVID_ABOVE else "natural"

    def describe(self) -> str:
        """One English phrase, e.g. 'a dark portrait photo with muted, cool colours'."""
        cast = "warm" if self.warmth > WARM_CAST else "cool" if self.warmth < -WARM_CAST else "neutral"
        light = {"dark": "dark, low-light", "bright": "bright", "even": "evenly lit"}[self.light]
        article = "an" if light[0] in "aeiou" else "a"
        return f"{article} {light} {self.orientation} photo with {self.colour}, {cast} colours"


@lru_cache(maxsize=256)
def _cached_size(path: str, size: int, mtime_ns: int) -> tuple[int, int]:
    del size, mtime_ns
    try:
        with Image.open(path) as image:
            width, height, _ = oriented_size(image)
            return width, height
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read the image size ({exc})") from exc


@lru_cache(maxsize=256)
def _cached_look(path: str, size: int, mtime_ns: int) -> ImageLook:
    del size, mtime_ns
    try:
        with Image.open(path) as image:
            width, height, _ = oriented_size(image)
            image.draft("RGB", (_LOOK_SIDE, _LOOK_SIDE))
            small = to_rgb(image)
            small.thumbnail((_LOOK_SIDE, _LOOK_SIDE))
            pixels = np.asarray(small, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read the image ({exc})") from exc
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    luma = (0.299 * red + 0.587 * green + 0.114 * blue) / 255.0
    rg = red - green
    yb = 0.5 * (red + green) - blue
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    return ImageLook(width, height, float(luma.mean()), colourfulness, float(red.mean() - blue.mean()))


def _key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the image ({exc.strerror or exc})") from exc
    return str(path), stat.st_size, stat.st_mtime_ns


def image_size(path: Path) -> tuple[int, int]:
    """The upright (EXIF-rotated) width and height, from the header only. Raises `ImageError`."""
    return _cached_size(*_key(path))


def image_look(path: Path) -> ImageLook:
    """Size and look of the image at `path`. Raises `ImageError`."""
    return _cached_look(*_key(path))
