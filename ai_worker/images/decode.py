"""Reading an uploaded image for scoring: refuse what is not an image, decode only what the measures need.

Everything is refused before decoding when it can be (an HTML error page saved as .jpg, a header that declares
a decompression bomb), JPEG is decoded with DCT scaling (1/2, 1/4 or 1/8 size, the smallest that still gives
the working size), and the picture is turned upright and made 8-bit RGB as everywhere else (`normalize`).
A bad file raises `BadImage` with the reason token the user sees; nothing else escapes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from ai_worker.images.normalize import oriented_size, upright_rgb

WORKING_SIZE = 512
"""Longer side of the image the measures run on; their thresholds are set at this size."""

DRAFT_MIN_SIDE = 384
"""JPEG draft decoding may stop at a longer side this small; the result is then resized to WORKING_SIZE."""

MAX_NEAREST_STRETCH = 1.05
"""Up to this enlargement the working image is made by repeating pixels rather than interpolating them."""

MIN_IMAGE_BYTES = 1


@dataclass(frozen=True)
class Decoded:
    """The image at the working size, its original (displayed) size, its format and frame count."""

    pixels: NDArray[np.uint8]
    width: int
    height: int
    format: str | None
    frames: int


class BadImage(Exception):
    """The file cannot be scored; `reason` is the reason token shown to the user."""

    def __init__(self, reason: str, width: int = 0, height: int = 0):
        self.reason = reason
        self.width = width
        self.height = height
        super().__init__(reason)


# --- reading -------------------------------------------------------------------------------------------------


def _sniff_non_image(head: bytes) -> str | None:
    """Name a common non-image that arrives under an image name (an error page saved as .jpg)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<?php")):
        return "html"
    if text.startswith((b"<?xml", b"<svg")):
        return "svg" if b"<svg" in text else "xml"
    if text.startswith(b"%pdf"):
        return "pdf"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text"
    return None


def _size_from_header(path: Path) -> tuple[int, int] | None:
    """The declared size, read with Pillow's format plugins directly (only used for a message).

    `Image.open` refuses an image over twice `Image.MAX_IMAGE_PIXELS` without telling its size; the plugins
    themselves read only the header.
    """
    Image.init()
    try:
        with path.open("rb") as fp:
            prefix = fp.read(16)
            for fmt in Image.ID:
                factory, accept = Image.OPEN[fmt]
                if accept is not None and not accept(prefix):
                    continue
                fp.seek(0)
                try:
                    im = factory(fp, str(path))
                except Exception:  # any plugin may fail on a prefix it half-accepts; try the next
                    continue
                return im.size
    except OSError:
        return None
    return None


_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"))


def _format_from_magic(head: bytes) -> str | None:
    """The format a file claims by its first bytes (for naming a file Pillow could not even open)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), None)


def _is_truncated(path: Path, fmt: str | None) -> bool:
    """True when the file lacks its format's end marker or is shorter than its header declares (checked on
    bytes, not on error messages). A TIFF declares neither: a damaged one is called corrupt, not truncated."""
    try:
        with path.open("rb") as fp:
            head = fp.read(12)
            size = path.stat().st_size
            fp.seek(max(0, size - 64))
            tail = fp.read()
    except OSError:
        return False
    if fmt in ("JPEG", "MPO"):
        return b"\xff\xd9" not in tail
    if fmt == "PNG":
        return b"IEND" not in tail
    if fmt == "GIF":
        return not tail.rstrip(b"\x00").endswith(b";")
    if fmt == "WEBP" and len(head) >= 8:
        return size < int.from_bytes(head[4:8], "little") + 8  # RIFF size counts from byte 8
    if fmt == "BMP" and len(head) >= 6:
        return size < int.from_bytes(head[2:6], "little")
    return False


def _draft_request(width: int, height: int) -> tuple[int, int]:
    """The size to ask `Image.draft` for: Pillow picks the largest reduction that keeps both sides >= it."""
    long_side = max(width, height)
    if long_side <= WORKING_SIZE:
        return width, height
    factor = DRAFT_MIN_SIDE / long_side
    return max(1, int(width * factor)), max(1, int(height * factor))


def _to_working_size(frame: Image.Image, original_long_side: int) -> Image.Image:
    """Longer side exactly WORKING_SIZE for any image larger than that; smaller images are left alone."""
    if original_long_side <= WORKING_SIZE and max(frame.size) <= WORKING_SIZE:
        return frame
    w, h = frame.size
    scale = WORKING_SIZE / max(w, h)
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    if target == frame.size:
        return frame
    if scale < 0.5:
        # Integer box reduction first (fast, and it averages like a real downscale), then the exact size.
        factor = int(1 / scale)
        frame = frame.reduce(factor)
    if 1.0 < scale <= MAX_NEAREST_STRETCH:
        # A 12 MP photo's 1/8 decode is 500 or 504 px long: stretching it a few percent repeats one row or
        # column in forty, which no measure notices, where interpolating every pixel costs as much as them all.
        return frame.resize(target, Image.Resampling.NEAREST)
    return frame.resize(target, Image.Resampling.BILINEAR)


def load_working(path: Path, max_pixels: int) -> Decoded:
    """The image at the working size as an RGB array, with its original (oriented) size."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise BadImage("unreadable_image: file not found") from exc
    except OSError as exc:
        raise BadImage(f"unreadable_image: {type(exc).__name__}") from exc
    if not path.is_file():
        raise BadImage("unreadable_image: not a regular file")
    if size < MIN_IMAGE_BYTES:
        raise BadImage("empty_file")
    try:
        with path.open("rb") as fp:
            head = fp.read(512)
    except OSError as exc:  # no permission, a file that vanished between the checks
        raise BadImage(f"unreadable_image: {type(exc).__name__}") from exc
    kind = _sniff_non_image(head)
    if kind is not None:
        raise BadImage(f"not_an_image: {kind}")

    try:
        with warnings.catch_warnings():
            # Between MAX_IMAGE_PIXELS and twice it Pillow only warns; our own limit below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        declared = _size_from_header(path)
        shown = f"{declared[0]}x{declared[1]}" if declared else "too many pixels"
        raise BadImage(f"decompression_bomb: {shown}", *(declared or (0, 0))) from exc
    except UnidentifiedImageError as exc:
        raise BadImage("not_an_image: unknown format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if _is_truncated(path, _format_from_magic(head)):
            raise BadImage("truncated_image") from exc
        raise BadImage(f"unreadable_image: {type(exc).__name__}") from exc

    with im:
        fmt = im.format
        raw_w, raw_h = im.size
        if raw_w <= 0 or raw_h <= 0:
            raise BadImage(f"unreadable_image: size {raw_w}x{raw_h}")
        # Refused from the header, before a single pixel is decoded.
        if raw_w * raw_h > max_pixels:
            raise BadImage(f"decompression_bomb: {raw_w}x{raw_h}", raw_w, raw_h)
        width, height, _ = oriented_size(im)
        frames = 1
        try:
            frames = int(getattr(im, "n_frames", 1))  # only the animated formats' plugins define it
            if frames > 1:
                im.seek(0)  # animated GIF/WebP/APNG: the first frame stands for the clip
            if fmt in ("JPEG", "MPO"):
                # DCT scaling: decode at 1/2, 1/4 or 1/8 size, the smallest whose longer side is still at
                # least DRAFT_MIN_SIDE (the resize below brings it to exactly WORKING_SIZE).
                im.draft("RGB", _draft_request(raw_w, raw_h))
            im.load()
            frame = _to_working_size(upright_rgb(im), max(width, height))
            arr = np.asarray(frame, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as exc:
            if _is_truncated(path, fmt):
                raise BadImage("truncated_image", width, height) from exc
            raise BadImage(
                f"unreadable_image: corrupt {fmt or 'image'} data ({type(exc).__name__})", width, height
            ) from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise BadImage("unreadable_image: no pixels", width, height)
    return Decoded(pixels=arr, width=width, height=height, format=fmt, frames=frames)
