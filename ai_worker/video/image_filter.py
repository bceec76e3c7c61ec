"""How well a crawled image would work as the first frame of an image-to-video clip (the seed's section 7).

Five criteria, weights summing to 1.0 (the seed's table)::

    resolution     0.20   min(w, h) >= 512 full, 256..511 -> 0.10, < 256 -> 0.00
    aspect ratio   0.20   max/min <= 2.0 full, 2.0..3.0 -> 0.10, > 3.0 -> 0.00
    text density   0.30   not a text capture full, bimodal grey histogram (> 70 %) -> 0.00
    colour         0.15   RGB std > 30 full, 15..30 -> 0.07, < 15 -> 0.00
    edge density   0.15   edge pixels > 5 % full, 2..5 % -> 0.07, < 2 % -> 0.00

Resolution and aspect ratio use the original size (after EXIF rotation). Text, colour and edges are measured
at one fixed working size (longer side 512, reached with JPEG draft decoding and then a shrink), so a score does
not depend on how large the upload was, and the thresholds below are set at that size. Scoring a 12 MP JPEG
this way takes tens of milliseconds instead of the third of a second a full decode costs.

A bad file (empty, HTML, truncated, a decompression bomb, ...) never raises: it scores 0.0, category
``unknown``, and the reason names the problem.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

WORKING_SIZE = 512
"""Longer side of the image the text, colour and edge measures run on; their thresholds are set at this size."""

DRAFT_MIN_SIDE = 384
"""JPEG draft decoding may stop at a longer side this small; the result is then resized to WORKING_SIZE."""

DEFAULT_MAX_PIXELS = 64_000_000

# Weights and partial scores, from the seed's table.
W_RESOLUTION, W_ASPECT, W_TEXT, W_COLOR, W_EDGE = 0.20, 0.20, 0.30, 0.15, 0.15
PARTIAL_RESOLUTION, PARTIAL_ASPECT, PARTIAL_COLOR, PARTIAL_EDGE = 0.10, 0.10, 0.07, 0.07

# Text density: grey levels below DARK_BAND or above BRIGHT_BAND count as the two modes of a capture.
DARK_BAND = 64
BRIGHT_BAND = 192
BIMODAL_RATIO = 0.70
# The seed's bimodal test alone calls every dark or snowy photo a text capture. A capture also has (a) few
# colours: 90 % of its pixels fall in at most TEXT_MAX_PALETTE colours of 4 bits per channel, (b) one flat
# background tone: this share of pixels within +-FLAT_TOLERANCE grey levels of the histogram's peak, and
# (c) strokes on it: at least TEXT_MIN_EDGES of pixels are edges. A dark photo has texture and colour in its
# dominant band, so it fails (a) or (b); a blank or flat image fails (c).
TEXT_MAX_PALETTE = 12
FLAT_BACKGROUND_RATIO = 0.40
FLAT_TOLERANCE = 4
TEXT_MIN_EDGES = 0.04

# Edge density: a pixel is an edge when |dx| + |dy| of its grey level (0..255) is at least this (at 512 px).
EDGE_THRESHOLD = 24
EDGE_FULL, EDGE_PARTIAL = 0.05, 0.02
# Colour diversity: the seed's RGB std (mean of the three channels' std) ...
COLOR_FULL, COLOR_PARTIAL = 30.0, 15.0
# ... and, because a few flat colours far apart (a cartoon, black on white) have a large std, the palette:
# when 90 % of the pixels fall in at most this many 4-bit colours the image has very low colour diversity.
FLAT_PALETTE_MAX = 8
RES_FULL, RES_PARTIAL = 512, 256
ASPECT_FULL, ASPECT_PARTIAL = 2.0, 3.0
DIAGRAM_MAX_SIDE = 200
DIAGRAM_MAX_ASPECT = 1.2

MIN_IMAGE_BYTES = 1

_WHITE = (255, 255, 255)


@dataclass
class ImageSuitability:
    """The seed's result: a score in 0..1, why, what kind of image it is, and its original size."""

    score: float
    reason: str
    category: str
    width: int
    height: int
    metrics: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def reasons(self) -> list[str]:
        """`reason` as a list (empty when the image is suitable)."""
        if self.reason == "suitable":
            return []
        return [part.strip() for part in self.reason.split(",") if part.strip()]

    @property
    def aspect_ratio(self) -> float:
        """Longer side over shorter side (0.0 when the size is unknown)."""
        short = min(self.width, self.height)
        return max(self.width, self.height) / short if short > 0 else 0.0


class _BadImage(Exception):
    """Internal: the file cannot be scored; `reason` is the reason token shown to the user."""

    def __init__(self, reason: str, width: int = 0, height: int = 0):
        self.reason = reason
        self.width = width
        self.height = height
        super().__init__(reason)


def _bad(reason: str, width: int = 0, height: int = 0) -> ImageSuitability:
    return ImageSuitability(score=0.0, reason=reason, category="unknown", width=width, height=height)


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


def _is_truncated(path: Path, fmt: str | None) -> bool:
    """True when the file lacks its format's end marker (checked on bytes, not on error messages)."""
    try:
        with path.open("rb") as fp:
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
    return fmt in ("WEBP", "BMP", "TIFF")


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any mode into 8-bit RGB: alpha composited on white, 16-bit and float scaled, CMYK and palette converted."""
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255) else 255.0
        if mode == "F" and arr.max(initial=0) <= 1.0:
            top = 1.0
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if mode == "L" and "transparency" in im.info:
        has_alpha = True
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    if mode != "RGB":
        return im.convert("RGB")
    return im


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    """The size as displayed: EXIF orientations 5..8 swap width and height."""
    width, height = im.size
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a good picture unusable
        orientation = 1
    if orientation in (5, 6, 7, 8):
        return height, width
    return width, height


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
    return frame.resize(target, Image.Resampling.BILINEAR)


def _load_working(path: Path, max_pixels: int) -> tuple[NDArray[np.uint8], int, int]:
    """The image at the working size as an RGB array, and its original (oriented) width and height."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise _BadImage("unreadable_image: file not found") from exc
    except OSError as exc:
        raise _BadImage(f"unreadable_image: {type(exc).__name__}") from exc
    if not path.is_file():
        raise _BadImage("unreadable_image: not a regular file")
    if size < MIN_IMAGE_BYTES:
        raise _BadImage("empty_file")
    with path.open("rb") as fp:
        head = fp.read(512)
    kind = _sniff_non_image(head)
    if kind is not None:
        raise _BadImage(f"not_an_image: {kind}")

    try:
        with warnings.catch_warnings():
            # Between MAX_IMAGE_PIXELS and twice it Pillow only warns; our own limit below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        declared = _size_from_header(path)
        shown = f"{declared[0]}x{declared[1]}" if declared else "too many pixels"
        raise _BadImage(f"decompression_bomb: {shown}", *(declared or (0, 0))) from exc
    except UnidentifiedImageError as exc:
        raise _BadImage("not_an_image: unknown format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _BadImage(f"unreadable_image: {type(exc).__name__}") from exc

    with im:
        fmt = im.format
        raw_w, raw_h = im.size
        if raw_w <= 0 or raw_h <= 0:
            raise _BadImage(f"unreadable_image: size {raw_w}x{raw_h}")
        # Refused from the header, before a single pixel is decoded.
        if raw_w * raw_h > max_pixels:
            raise _BadImage(f"decompression_bomb: {raw_w}x{raw_h}", raw_w, raw_h)
        width, height = _oriented_size(im)
        try:
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated GIF/WebP/APNG: the first frame stands for the clip
            if fmt in ("JPEG", "MPO"):
                # DCT scaling: decode at 1/2, 1/4 or 1/8 size, the smallest whose longer side is still at
                # least DRAFT_MIN_SIDE (the resize below brings it to exactly WORKING_SIZE).
                im.draft("RGB", _draft_request(raw_w, raw_h))
            im.load()
            frame = ImageOps.exif_transpose(im) or im
            frame = _to_rgb(frame)
            frame = _to_working_size(frame, max(width, height))
            arr = np.asarray(frame, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, MemoryError) as exc:
            if _is_truncated(path, fmt):
                raise _BadImage("truncated_image", width, height) from exc
            raise _BadImage(
                f"unreadable_image: corrupt {fmt or 'image'} data ({type(exc).__name__})", width, height
            ) from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise _BadImage("unreadable_image: no pixels", width, height)
    return arr, width, height


# --- measures (all at the working size) ----------------------------------------------------------------------


def _grey(arr: NDArray[np.uint8]) -> NDArray[np.int16]:
    """BT.601 luma in integer arithmetic (0..255), as int16 so differences do not wrap."""
    luma = (
        arr[..., 0].astype(np.uint32) * 299
        + arr[..., 1].astype(np.uint32) * 587
        + arr[..., 2].astype(np.uint32) * 114
        + 500
    ) // 1000
    return luma.astype(np.int16)


def _edge_map(grey: NDArray[np.int16]) -> NDArray[np.bool_]:
    """|dx| + |dy| >= EDGE_THRESHOLD, on forward differences (edges of 1-pixel images are none)."""
    mag = np.zeros(grey.shape, dtype=np.int16)
    if grey.shape[1] > 1:
        mag[:, :-1] += np.abs(np.diff(grey, axis=1))
    if grey.shape[0] > 1:
        mag[:-1, :] += np.abs(np.diff(grey, axis=0))
    edges: NDArray[np.bool_] = mag >= EDGE_THRESHOLD
    return edges


def measure(arr: NDArray[np.uint8]) -> dict[str, float]:
    """The raw measures at the working size (exposed for tuning: `wagglebot-video score`)."""
    grey = _grey(arr)
    total = float(grey.size)
    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    dark = hist[:DARK_BAND].sum() / total
    bright = hist[BRIGHT_BAND:].sum() / total
    peak = int(hist.argmax())
    flat = hist[max(0, peak - FLAT_TOLERANCE) : peak + FLAT_TOLERANCE + 1].sum() / total
    edges = float(_edge_map(grey).mean())
    # Per-channel std from per-channel histograms: exact, and cheaper than float copies of the image.
    levels = np.arange(256, dtype=np.float64)
    stds = []
    for channel in range(3):
        counts = np.bincount(arr[..., channel].ravel(), minlength=256).astype(np.float64)
        mean = float(counts @ levels) / total
        stds.append(max(float(counts @ (levels * levels)) / total - mean * mean, 0.0) ** 0.5)
    color_std = sum(stds) / 3.0
    q = arr >> 4
    codes = (q[..., 0].astype(np.uint16) << 8) | (q[..., 1].astype(np.uint16) << 4) | q[..., 2]
    counts = np.sort(np.bincount(codes.ravel(), minlength=4096))[::-1].astype(np.float64)
    palette = int(np.searchsorted(np.cumsum(counts), 0.9 * total) + 1)
    return {
        "bimodal": float(dark + bright),
        "dark": float(dark),
        "bright": float(bright),
        "flat_background": float(flat),
        "edge_density": edges,
        "color_std": color_std,
        "palette": float(palette),
    }


def is_text_heavy(m: dict[str, float]) -> bool:
    """A capture of text: grey levels piled in the darkest and brightest bands, most of it one flat tone
    (the background), with strokes on it. The flatness and edge terms keep a dark or a snowy photo out."""
    return (
        m["bimodal"] > BIMODAL_RATIO
        and m["palette"] <= TEXT_MAX_PALETTE
        and m["flat_background"] >= FLAT_BACKGROUND_RATIO
        and m["edge_density"] >= TEXT_MIN_EDGES
    )


def score_measures(width: int, height: int, m: dict[str, float]) -> ImageSuitability:
    """Score and classify from the original size and the working-size measures (pure; tested directly)."""
    reasons: list[str] = []
    score = 0.0

    short, long_ = min(width, height), max(width, height)
    if short >= RES_FULL:
        score += W_RESOLUTION
    elif short >= RES_PARTIAL:
        score += PARTIAL_RESOLUTION
        reasons.append("low_resolution")
    else:
        reasons.append("very_low_resolution")

    aspect = long_ / short if short > 0 else float("inf")
    if aspect <= ASPECT_FULL:
        score += W_ASPECT
    elif aspect <= ASPECT_PARTIAL:
        score += PARTIAL_ASPECT
        reasons.append("wide_aspect_ratio")
    else:
        reasons.append("extreme_aspect_ratio")

    text_heavy = is_text_heavy(m)
    if text_heavy:
        reasons.append("text_heavy_image")
    else:
        score += W_TEXT

    color = m["color_std"]
    if color < COLOR_PARTIAL or m["palette"] <= FLAT_PALETTE_MAX:
        reasons.append("very_low_color_diversity")
    elif color > COLOR_FULL:
        score += W_COLOR
    else:
        score += PARTIAL_COLOR
        reasons.append("low_color_diversity")

    edges = m["edge_density"]
    if edges > EDGE_FULL:
        score += W_EDGE
    elif edges >= EDGE_PARTIAL:
        score += PARTIAL_EDGE
        reasons.append("low_edge_density")
    else:
        reasons.append("flat_image")

    if text_heavy:
        category = "text_capture"
    elif "very_low_color_diversity" in reasons and "flat_image" in reasons:
        category = "meme"
    elif long_ < DIAGRAM_MAX_SIDE and aspect <= DIAGRAM_MAX_ASPECT:
        # Checked before "screenshot": every image under 200 px is also under 256 px, so in the seed's order
        # this rule could never fire.
        category = "diagram"
    elif "very_low_resolution" in reasons:
        category = "screenshot"
    else:
        category = "photo"

    return ImageSuitability(
        score=round(min(max(score, 0.0), 1.0), 4),
        reason=", ".join(reasons) if reasons else "suitable",
        category=category,
        width=width,
        height=height,
        metrics=dict(m),
    )


def evaluate_image(path: Path | str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageSuitability:
    """Score one image file for image-to-video (sync and CPU-bound: run it in a thread from async code).

    Never raises for a bad image: it scores 0.0 with category ``unknown`` and a reason naming the problem.
    """
    target = Path(path)
    try:
        arr, width, height = _load_working(target, max_pixels)
    except _BadImage as bad:
        logger.info("image %s not usable: %s", target, bad.reason)
        return _bad(bad.reason, bad.width, bad.height)
    except MemoryError:
        return _bad("unreadable_image: out of memory while decoding")
    result = score_measures(width, height, measure(arr))
    logger.debug("image %s: %.2f %s (%s) %s", target, result.score, result.category, result.reason, result.metrics)
    return result
