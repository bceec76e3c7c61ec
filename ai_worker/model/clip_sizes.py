"""Pure size and count snapping: what LTX-2 can be asked for and how many frames cover a duration.

Tested as exact values; no FFmpeg, no I/O.
"""

from __future__ import annotations

import math

FRAME_STEP = 8
MIN_FRAMES = 9
"""LTX-2 takes 1 + 8k frames; 9 is the smallest useful count."""
MIN_SIDE = 64
MAX_SIDE = 2048
"""Generation sizes: LTX-2's latent grid needs at least 64 px; beyond 2048 px a side no GPU we target fits."""
RESOLUTION_MULTIPLES = (32, 64)
"""32 for single-stage LTX-2 (the VAE divides by 32), 64 for the two-stage upscale (docs/design.md, 'LTX-2 facts')."""
_FRAME_EPSILON = 1e-9


def validate_frame_count(n: int) -> int:
    """The nearest valid LTX-2 frame count (1 + 8k), at least 9; a tie goes up so a clip is never shorter.

    >>> [validate_frame_count(n) for n in (1, 9, 12, 13, 97, 100, 101)]
    [9, 9, 9, 17, 97, 97, 105]
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"frame count must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"frame count must be at least 1, got {n}")
    steps, rest = divmod(n - 1, FRAME_STEP)
    if rest * 2 >= FRAME_STEP:
        steps += 1
    return max(MIN_FRAMES, 1 + FRAME_STEP * steps)


def validate_resolution(width: int, height: int, *, multiple: int = 32) -> tuple[int, int]:
    """Snap a generation size to the nearest multiple of 32 (64 for two-stage), clamped to 64..2048 a side.

    A tie goes down (720 -> 704): it is what ComfyUI's latent node does anyway and what Lightricks' own
    workflows use for 720p, and the smaller frame needs less VRAM.
    """
    if multiple not in RESOLUTION_MULTIPLES:
        raise ValueError(f"resolution multiple must be one of {RESOLUTION_MULTIPLES}, got {multiple!r}")
    return _snap_side(width, "width", multiple), _snap_side(height, "height", multiple)


def _snap_side(value: int, name: str, multiple: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value}")
    steps, rest = divmod(value, multiple)
    if rest * 2 > multiple:
        steps += 1
    return min(MAX_SIDE, max(MIN_SIDE, steps * multiple))


def frames_for(duration: float, fps: float) -> int:
    """Frames needed so `duration` seconds at `fps` are fully covered: ceil(duration x fps), at least 1."""
    return max(1, math.ceil(duration * fps - _FRAME_EPSILON))


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def fitted_box(area: tuple[int, int], canvas: tuple[int, int]) -> tuple[int, int]:
    """The largest even-sided box of `area`'s aspect ratio that fits in `canvas`."""
    aw, ah = area
    cw, ch = canvas
    if aw * ch >= ah * cw:  # the area is relatively wider: full canvas width
        return cw, min(ch, _even(cw * ah / aw))
    return min(cw, _even(ch * aw / ah)), ch
