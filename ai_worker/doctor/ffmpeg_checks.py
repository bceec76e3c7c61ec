"""Doctor's FFmpeg checks: the binary is found, and its H.264 encoders (libx264 is needed; h264_nvenc is
used when present and working)."""

from __future__ import annotations

from pathlib import Path

from ai_worker.core.errors import FFmpegError
from ai_worker.doctor.report import Check
from ai_worker.media.ffmpeg_runner import ffmpeg_output, resolve_ffmpeg
from config.settings import Settings

FFMPEG_PROBE_TIMEOUT = 15.0
"""Seconds ``ffmpeg -encoders`` may take (it normally answers in well under one)."""


def parse_encoders(text: str) -> set[str]:
    """Encoder names from ``ffmpeg -hide_banner -encoders`` (lines after the ``------`` separator)."""
    names: set[str] = set()
    started = False
    for line in text.splitlines():
        stripped = line.strip()
        if not started:
            started = stripped.startswith("------")
            continue
        parts = stripped.split()
        if len(parts) >= 2 and len(parts[0]) == 6:
            names.add(parts[1])
    return names


def check_encoders(ffmpeg: Path, encoders: set[str]) -> list[Check]:
    """libx264 is required (the local backend and the post-processing use it); NVENC is a bonus."""
    checks = [
        Check(
            "FFmpeg libx264",
            "libx264" in encoders,
            f"{ffmpeg} {'has' if 'libx264' in encoders else 'lacks'} the libx264 encoder",
            fix="use an FFmpeg built with libx264: unset FFMPEG_BINARY to use imageio-ffmpeg's, or install one",
        )
    ]
    if "h264_nvenc" in encoders:
        detail = "h264_nvenc is listed (it also needs an NVIDIA GPU with NVENC at run time; else libx264 is used)"
    else:
        detail = "h264_nvenc is not in this build: clips are encoded with libx264"
    checks.append(
        Check(
            "FFmpeg h264_nvenc",
            "h264_nvenc" in encoders,
            detail,
            fix="optional: an FFmpeg built with NVENC (and a GPU that has it) encodes faster",
            optional=True,
        )
    )
    return checks


async def list_encoders(ffmpeg: Path, timeout: float = FFMPEG_PROBE_TIMEOUT) -> str:
    """Run ``ffmpeg -hide_banner -encoders`` and return its output. Raises `FFmpegError`."""
    return await ffmpeg_output(["-encoders"], timeout=timeout, binary=ffmpeg)


async def check_ffmpeg(settings: Settings) -> list[Check]:
    fix = "pip install imageio-ffmpeg (a dependency of this project), or set FFMPEG_BINARY to an ffmpeg"
    try:
        ffmpeg = resolve_ffmpeg(settings.ffmpeg_binary)
    except (FFmpegError, OSError, RuntimeError) as exc:
        # imageio-ffmpeg raises RuntimeError when it has no binary for this platform.
        return [Check("FFmpeg", False, f"no FFmpeg: {exc}", fix=fix)]
    try:
        text = await list_encoders(ffmpeg)
    except FFmpegError as exc:
        return [Check("FFmpeg", False, str(exc), fix=fix)]
    return [Check("FFmpeg", True, f"found {ffmpeg}"), *check_encoders(ffmpeg, parse_encoders(text))]


# --- workflows ------------------------------------------------------------------------------------------


