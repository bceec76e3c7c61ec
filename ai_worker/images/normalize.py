"""One picture, seen one way everywhere: upright as displayed, 8-bit RGB, transparency flattened on white.

Scoring, the init image sent to ComfyUI, the local backend's zoom and the preview's cards all read a scene's
picture through here, so a picture never looks one way when it is chosen and another when it is used. The
rules, each for a picture the stage meets in practice:

* EXIF orientation is applied (a phone photo stored sideways is shown upright);
* transparent parts become white, as a browser shows a transparent PNG on a white page (Pillow's plain
  ``convert("RGB")`` keeps the colour under the transparency, mostly black); that covers alpha channels,
  palette and greyscale PNGs with a transparent entry, and RGB PNGs with a transparent colour;
* 16-bit and float pictures are scaled into 8 bits (a plain conversion clips them, mostly to white);
* CMYK, palette, greyscale and bilevel pictures become RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ai_worker.core.errors import ImageError

_WHITE = (255, 255, 255)
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_KEYED_MODES = ("P", "L", "RGB")
"""Modes whose transparency is one palette entry or colour, named in ``info["transparency"]``."""


def to_rgb(im: Image.Image) -> Image.Image:
    """Any mode into 8-bit RGB: alpha composited on white, 16-bit and float scaled, CMYK and palette converted.
    An image already in plain RGB is returned as it is."""
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255) else 255.0
        if mode == "F" and arr.max(initial=0) <= 1.0:
            top = 1.0
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in _ALPHA_MODES or (mode in _KEYED_MODES and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    if mode != "RGB":
        return im.convert("RGB")
    return im


def oriented_size(im: Image.Image) -> tuple[int, int, int]:
    """The size as displayed (EXIF orientations 5..8 swap width and height), and the orientation."""
    width, height = im.size
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a good picture unusable
        orientation = 1
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    if orientation in (5, 6, 7, 8):
        return height, width, orientation
    return width, height, orientation


def upright_rgb(im: Image.Image) -> Image.Image:
    """`im` as displayed, in 8-bit RGB (the module's rules). Always a new image, never `im` itself, so it
    stays usable after the file `im` was read from is closed."""
    _, _, orientation = oriented_size(im)
    # exif_transpose copies the image even when there is nothing to turn; skip it then.
    turned = (ImageOps.exif_transpose(im) or im) if orientation != 1 else im
    rgb = to_rgb(turned)
    return rgb.copy() if rgb is im else rgb


def open_upright_rgb(path: Path, what: str = "image") -> Image.Image:
    """The picture at `path` (the first frame of an animation) as displayed, in 8-bit RGB.

    A file that is missing, does not decode or declares a decompression bomb is an `ImageError` naming it as
    `what` (e.g. "init image").
    """
    try:
        with Image.open(path) as opened:
            opened.seek(0)
            return upright_rgb(opened)
    except FileNotFoundError as exc:
        raise ImageError(f"{path}: {what} not found") from exc
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode {what} ({exc})") from exc
