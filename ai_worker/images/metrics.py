"""The raw measures the image filter scores from, all taken on the RGB image at the working size.

Two families:

* the spec's: the grey histogram's dark and bright bands, edge density, RGB standard deviation, and the
  4-bit palette size;
* what tells a photograph from a capture or a graphic. A camera never writes large regions of one exact
  colour (sensor noise, soft light, lens blur), a screen does: the image is cut into 4x4 blocks, a block
  whose 16 pixels are the very same colour is *flat*, and the exact colours of flat blocks are counted.
  ``flat_blocks`` is their share, ``top_colour`` the share of blocks in the most common flat colour
  (``top_colours``: in the few most common), ``flat_other`` the flat share of what is not that colour (the
  fills of a drawing are flat too, the subject of a product shot on white is not),
  ``ui_touch`` the share of the remaining (detailed) blocks that contain a pixel of one of the few dominant
  flat colours: text and icons drawn on a background touch it everywhere, while the textured part of a photo
  with one blown-out sky touches it only along the horizon. ``text_lines`` counts horizontal bands of ink
  separated by clean gaps and crossed by strokes (lines of text on a screen), ``page_lines`` the same in
  the best vertical strip (lines of a scanned page, which may be tilted or shadowed at one side);
* how texture is spread: each 4x4 block's grey range says whether it is *smooth* (at most `SMOOTH_RANGE`
  levels: a gradient, a clear sky), *sharp* (at least `DETAIL_RANGE`: an edge, a stroke) or *textured* (in
  between). A photograph is textured nearly everywhere something is in focus (grain, fabric, leaves, skin);
  a story-style capture (text over a smooth gradient, Instagram and KakaoTalk stories) is smooth almost
  everywhere, with sharp strokes where its text is and hardly any texture at all.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

BLOCK = 4
TOP_COLOURS = 4
DARK_BAND = 64
BRIGHT_BAND = 192
EDGE_THRESHOLD = 24
"""A pixel is an edge when |dx| + |dy| of its grey level (0..255) is at least this (at the working size)."""

DETAIL_RANGE = 32
"""Grey range (max - min) inside a 4x4 block that makes it a block with detail (an edge, a stroke)."""
SMOOTH_RANGE = 4
"""Grey range inside a 4x4 block at most which it is smooth (a gradient's steps, JPEG's ripples)."""
INK_CONTRAST = 60
"""Grey levels between the page (the dominant tone) and a pixel that counts as ink for `text_lines`."""
LINE_MIN_ROWS, LINE_MAX_ROWS = 2, 40
LINE_MIN_INK = 0.01
GAP_MAX_PIXELS = 1
"""A row of a strip with at most this many ink pixels is a gap between lines (a speck of dust is not ink)."""
TEXT_STRIPS = 4
LINE_MIN_STROKES = 4


FLAT_KEYS = ("flat_blocks", "top_colour", "top_colours", "flat_other", "ui_touch")


def _planes(arr: NDArray[np.uint8]) -> tuple[NDArray[np.int16], NDArray[np.uint32]]:
    """ITU-R 601 luma (0..255, Pillow's "L") as int16, so differences do not wrap, and one exact colour code
    per pixel (the RGB bytes with a constant pad byte, read as one 32-bit word: R in the low byte)."""
    image = Image.fromarray(arr, "RGB")
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    codes = np.asarray(image.convert("RGBX")).view(np.uint32)[..., 0]
    return grey, codes


def _edge_density(grey: NDArray[np.int16]) -> float:
    h, w = grey.shape
    if h < 2 or w < 2:
        return 0.0
    mag = np.abs(np.diff(grey[:-1, :], axis=1)) + np.abs(np.diff(grey[:, :-1], axis=0))
    return float(np.count_nonzero(mag >= EDGE_THRESHOLD)) / float(h * w)


def _color_std(arr: NDArray[np.uint8]) -> float:
    """Mean of the three channels' standard deviations, from per-channel histograms (exact, no float copy)."""
    total = float(arr.shape[0] * arr.shape[1])
    levels = np.arange(256, dtype=np.float64)
    stds: list[float] = []
    for channel in range(3):
        counts = np.bincount(arr[..., channel].ravel(), minlength=256).astype(np.float64)
        mean = float(counts @ levels) / total
        stds.append(max(float(counts @ (levels * levels)) / total - mean * mean, 0.0) ** 0.5)
    return float(sum(stds)) / 3.0


def _palette(codes: NDArray[np.uint32]) -> int:
    """How many 4-bit-per-channel colours hold 90 % of the pixels."""
    total = float(codes.size)
    q = ((codes >> 20) & 0xF) << 8 | ((codes >> 12) & 0xF) << 4 | ((codes >> 4) & 0xF)  # top 4 bits of each
    counts = np.sort(np.bincount(q.ravel(), minlength=4096))[::-1]
    return int(np.searchsorted(np.cumsum(counts), 0.9 * total) + 1)


def _flat_structure(codes: NDArray[np.uint32], grey: NDArray[np.int16]) -> dict[str, float]:
    """Flat 4x4 blocks of one exact colour, the dominant flat colours, and how detail sits on them."""
    h, w = codes.shape
    hb, wb = h // BLOCK, w // BLOCK
    if hb == 0 or wb == 0:
        return dict.fromkeys(FLAT_KEYS, 0.0)
    blocks = codes[: hb * BLOCK, : wb * BLOCK].reshape(hb, BLOCK, wb, BLOCK)
    first = blocks[:, 0, :, 0]
    flat = (blocks == first[:, None, :, None]).all(axis=(1, 3))
    n_blocks = float(hb * wb)
    n_flat = int(np.count_nonzero(flat))
    result = dict.fromkeys(FLAT_KEYS, 0.0)
    result["flat_blocks"] = n_flat / n_blocks
    if n_flat == 0:
        return result
    colours, counts = np.unique(first[flat], return_counts=True)
    order = np.argsort(counts)[::-1][:TOP_COLOURS]
    top, top_counts = colours[order], counts[order]
    # Only colours that really cover an area count as a background (1 % of the blocks).
    keep = top_counts >= max(2.0, 0.01 * n_blocks)
    top, top_counts = top[keep], top_counts[keep]
    if top.size == 0:
        return result
    result["top_colour"] = float(top_counts[0]) / n_blocks
    result["top_colours"] = float(top_counts.sum()) / n_blocks
    if result["top_colour"] < 1.0:
        result["flat_other"] = (result["flat_blocks"] - result["top_colour"]) / (1.0 - result["top_colour"])
    # Detail means contrast: a block holding an edge. The steps of a smooth gradient (a sky banded by JPEG)
    # differ by a level or two and are not detail, so they cannot make a sky look like text on a background.
    gblocks = grey[: hb * BLOCK, : wb * BLOCK].reshape(hb, BLOCK, wb, BLOCK)
    detailed = (gblocks.max(axis=(1, 3)) - gblocks.min(axis=(1, 3))) >= DETAIL_RANGE
    n_detailed = int(np.count_nonzero(detailed))
    if n_detailed:
        on_top = np.isin(blocks, top).any(axis=(1, 3))
        result["ui_touch"] = float(np.count_nonzero(on_top & detailed)) / n_detailed
    return result


def _texture(grey: NDArray[np.int16]) -> dict[str, float]:
    """Shares of smooth, textured and sharp 4x4 blocks (see the module's docstring)."""
    h, w = grey.shape
    hb, wb = h // BLOCK, w // BLOCK
    if hb == 0 or wb == 0:
        return {"smooth_blocks": 0.0, "textured_blocks": 0.0, "sharp_blocks": 0.0}
    blocks = grey[: hb * BLOCK, : wb * BLOCK].reshape(hb, BLOCK, wb, BLOCK)
    spread = blocks.max(axis=(1, 3)) - blocks.min(axis=(1, 3))
    n = float(spread.size)
    smooth = float(np.count_nonzero(spread <= SMOOTH_RANGE)) / n
    sharp = float(np.count_nonzero(spread >= DETAIL_RANGE)) / n
    return {"smooth_blocks": smooth, "textured_blocks": 1.0 - smooth - sharp, "sharp_blocks": sharp}


def _lines_in(counts: NDArray[np.intp], strokes: NDArray[np.intp], width: int) -> int:
    """Lines of text in one vertical strip, from its per-row ink pixels and ink edges (see `_text_lines`)."""
    gaps = np.flatnonzero(counts <= GAP_MAX_PIXELS)
    starts, ends = gaps[:-1] + 1, gaps[1:]
    keep = (ends - starts >= LINE_MIN_ROWS) & (ends - starts <= LINE_MAX_ROWS)
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return 0
    bounds = np.stack([starts, ends], axis=1).ravel()  # reduce over [start, end) only, every other result
    peak_ink = np.maximum.reduceat(counts, bounds)[::2]
    peak_strokes = np.maximum.reduceat(strokes, bounds)[::2]
    return int(np.count_nonzero((peak_ink >= LINE_MIN_INK * width) & (peak_strokes >= 2 * LINE_MIN_STROKES)))


def _text_lines(grey: NDArray[np.int16], page: int) -> tuple[float, float, float]:
    """Lines of text: bands of rows with ink, between rows without, as tall as a line of text, and crossed
    by strokes (many ink edges along a row, where a lamp or a window is one blob). Returns (lines across the
    whole width, lines in the best of TEXT_STRIPS vertical strips, share of ink pixels).

    `page` is the page tone (the grey histogram's peak); ink is anything INK_CONTRAST levels away from it, on
    the far side (dark text on a light page, light text on a dark one). A screen is never tilted, so its lines
    are counted across the whole width; a paper page fed in at a slight tilt, or with the binding's shadow
    along one side, still has clean gaps between its lines over part of its width, hence the strips.
    """
    ink = grey < page - INK_CONTRAST if page >= 128 else grey > page + INK_CONTRAST
    width = ink.shape[1]
    if width < 2 * TEXT_STRIPS:
        return 0.0, 0.0, float(ink.mean())
    step = width // TEXT_STRIPS
    cuts = np.arange(TEXT_STRIPS) * step
    # Per row and strip, in one pass each: ink pixels, and ink edges (a change between neighbours).
    counts = np.add.reduceat(ink, cuts, axis=1, dtype=np.intp)
    changes = np.add.reduceat(ink[:, 1:] != ink[:, :-1], cuts, axis=1, dtype=np.intp)
    whole = _lines_in(counts.sum(axis=1), changes.sum(axis=1), width)
    best = max(_lines_in(counts[:, k], changes[:, k], step) for k in range(TEXT_STRIPS))
    return float(whole), float(max(best, whole)), float(counts.sum()) / ink.size


def measure(arr: NDArray[np.uint8]) -> dict[str, float]:
    """Every measure of one RGB image (already at the working size)."""
    grey, codes = _planes(arr)
    total = float(grey.size)
    hist = np.bincount(grey.ravel(), minlength=256)
    dark = float(hist[:DARK_BAND].sum()) / total
    bright = float(hist[BRIGHT_BAND:].sum()) / total
    lines, page_lines, ink = _text_lines(grey, int(hist.argmax()))
    return {
        "bimodal": dark + bright,
        "dark": dark,
        "bright": bright,
        "edge_density": _edge_density(grey),
        # Whole-image statistics: every other row and column gives the same figures at a quarter of the cost.
        "color_std": _color_std(arr[::2, ::2]),
        "palette": float(_palette(codes[::2, ::2])),
        **_flat_structure(codes, grey),
        **_texture(grey),
        "text_lines": lines,
        "page_lines": page_lines,
        "ink": ink,
    }
