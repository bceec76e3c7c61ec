"""Which H.264 encoder the intermediate clips use: h264_nvenc where a real test encode works, else libx264.

Probed once per FFmpeg binary per process (a driver that hangs is cut off by a time limit) and cached.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ai_worker.core.errors import FFmpegError
from ai_worker.media.ffmpeg_args import libx264_args, nvenc_args
from ai_worker.media.ffmpeg_runner import resolve_ffmpeg, run_ffmpeg

logger = logging.getLogger(__name__)

NVENC_PROBE_TIMEOUT_S = 15.0
"""A working NVENC opens in well under a second; a driver that hangs must not hold the pipeline."""
NVENC_PROBE_ARGS: tuple[str, ...] = (
    "-f", "lavfi", "-i", "nullsrc=s=256x256:d=0.1",
    "-c:v", "h264_nvenc", "-preset", "p1",
    "-f", "null", "-",
)  # fmt: skip
"""The test encode of docs/spec.md, 8: 0.1 s of nullsrc through h264_nvenc (256 px: NVENC refuses tiny frames)."""

_nvenc_by_binary: dict[Path, bool] = {}
_probe_locks: dict[tuple[asyncio.AbstractEventLoop, Path], asyncio.Lock] = {}


def reset_codec_cache() -> None:
    """Forget what the NVENC probes found (tests; or after a driver change in a long-lived process)."""
    _nvenc_by_binary.clear()
    _probe_locks.clear()


async def _nvenc_works(binary: Path | None, timeout: float) -> bool:
    exe = await asyncio.to_thread(resolve_ffmpeg, binary)
    cached = _nvenc_by_binary.get(exe)
    if cached is not None:
        return cached
    # One probe per binary even when many clips ask at once; locks are per event loop (tests run several).
    for key in [key for key in _probe_locks if key[0].is_closed()]:
        del _probe_locks[key]
    lock = _probe_locks.setdefault((asyncio.get_running_loop(), exe), asyncio.Lock())
    async with lock:
        cached = _nvenc_by_binary.get(exe)
        if cached is not None:
            return cached
        try:
            await run_ffmpeg(NVENC_PROBE_ARGS, timeout=timeout, binary=exe)
        except FFmpegError as exc:
            logger.info("h264_nvenc is not usable with %s, using libx264: %s", exe, str(exc).splitlines()[0])
            works = False
        else:
            logger.info("h264_nvenc works with %s", exe)
            works = True
        _nvenc_by_binary[exe] = works
        return works


async def resolve_intermediate_codec(
    *,
    binary: Path | None = None,
    timeout: float = NVENC_PROBE_TIMEOUT_S,
    preset: str = "ultrafast",
    crf: int = 23,
) -> list[str]:
    """Encoder options: h264_nvenc if a real test encode works (probed once per binary per process, within
    `timeout`), else libx264 with `preset` and `crf`."""
    if await _nvenc_works(binary, timeout):
        return nvenc_args()
    return libx264_args(preset, crf)
