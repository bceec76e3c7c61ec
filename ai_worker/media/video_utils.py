"""FFmpeg post-processing of generated clips, so the renderer gets clips it can trust (docs/spec.md, 8).

The async operations live here: the spec's three (`resize_clip_to_layout`, `loop_or_trim_clip`,
`normalize_clip_format`) and `prepare_clip_for_render`, which does all three in one FFmpeg process
(one decode, one encode: faster, and one generation of loss instead of three). They stand on modules
with one job each, re-exported here so callers keep one import:

* `clip_sizes`: pure snapping of sizes and counts (`validate_frame_count`, `validate_resolution`, ...);
* `ffmpeg_args`: pure filter-graph and argument builders (`build_video_filter`, `build_transcode_args`, ...);
* `codec_choice`: the NVENC probe and the encoder it picks;
* `ffmpeg_runner.run_ffmpeg`, the one place FFmpeg runs (time limit, part file, rename).

Every operation probes its input first (a clear `InvalidClipError` naming a bad input, before FFmpeg runs)
and validates its output before it is renamed into place, so a half-written or wrong clip never appears
under the final name.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from pathlib import Path

from ai_worker.core.errors import InvalidClipError
from ai_worker.media.codec_choice import (
    NVENC_PROBE_ARGS,
    NVENC_PROBE_TIMEOUT_S,
    reset_codec_cache,
    resolve_intermediate_codec,
)
from ai_worker.media.ffmpeg_args import (
    Fit,
    build_copy_args,
    build_render_args,
    build_transcode_args,
    build_video_filter,
    libx264_args,
    nvenc_args,
)
from ai_worker.media.ffmpeg_runner import run_ffmpeg
from ai_worker.media.probe import ClipInfo, probe_clip, validate_clip
from ai_worker.model.clip_sizes import (
    FRAME_STEP,
    MAX_SIDE,
    MIN_FRAMES,
    MIN_SIDE,
    RESOLUTION_MULTIPLES,
    fitted_box,
    frames_for,
    validate_frame_count,
    validate_resolution,
)

__all__ = [
    "COPY_TOLERANCE_S",
    "DEFAULT_TIMEOUT_S",
    "FRAME_STEP",
    "MAX_FPS",
    "MAX_OUTPUT_SIDE",
    "MAX_SIDE",
    "MAX_TARGET_DURATION_S",
    "MIN_FRAMES",
    "MIN_OUTPUT_SIDE",
    "MIN_SIDE",
    "NVENC_PROBE_ARGS",
    "NVENC_PROBE_TIMEOUT_S",
    "RESOLUTION_MULTIPLES",
    "Fit",
    "build_copy_args",
    "build_render_args",
    "build_transcode_args",
    "build_video_filter",
    "fitted_box",
    "frames_for",
    "libx264_args",
    "loop_or_trim_clip",
    "normalize_clip_format",
    "nvenc_args",
    "prepare_clip_for_render",
    "reset_codec_cache",
    "resize_clip_to_layout",
    "validate_frame_count",
    "validate_resolution",
]

MIN_OUTPUT_SIDE = 16
MAX_OUTPUT_SIDE = 8192
MAX_FPS = 240
MAX_TARGET_DURATION_S = 3600.0
"""Longer than any narration line; a bigger target is a unit mistake, not a scene."""
COPY_TOLERANCE_S = 0.2
"""The spec's rule: a clip within 0.2 s of the narration is copied, not re-encoded."""
DEFAULT_TIMEOUT_S = 300.0


def _check_size(width: int, height: int, output_path: Path) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{output_path}: {name} must be an integer, got {value!r}")
        if not MIN_OUTPUT_SIDE <= value <= MAX_OUTPUT_SIDE:
            raise ValueError(f"{output_path}: {name} {value} is out of range {MIN_OUTPUT_SIDE}..{MAX_OUTPUT_SIDE}")
        if value % 2:
            raise ValueError(f"{output_path}: {name} {value} must be even (yuv420p)")


def _check_fps(fps: int, output_path: Path) -> None:
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= MAX_FPS:
        raise ValueError(f"{output_path}: fps must be an integer in 1..{MAX_FPS}, got {fps!r}")


def _check_duration(target_duration: float, output_path: Path) -> None:
    if (
        isinstance(target_duration, bool)
        or not isinstance(target_duration, int | float)
        or not math.isfinite(target_duration)
        or target_duration <= 0
    ):
        raise ValueError(
            f"{output_path}: target duration must be a positive number of seconds, got {target_duration!r}"
        )
    if target_duration > MAX_TARGET_DURATION_S:
        raise ValueError(
            f"{output_path}: target duration {target_duration:g} s is longer than {MAX_TARGET_DURATION_S:g} s"
        )


async def _probe_input(input_path: Path) -> ClipInfo:
    return await asyncio.to_thread(probe_clip, Path(input_path))


async def _codec(codec: Sequence[str] | None, binary: Path | None, preset: str, crf: int) -> list[str]:
    if codec is not None:
        return list(codec)
    return await resolve_intermediate_codec(binary=binary, preset=preset, crf=crf)


async def _run_checked(
    args: list[str],
    output_path: Path,
    *,
    binary: Path | None,
    timeout: float,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    min_frames: int | None = None,
    min_duration: float | None = None,
) -> ClipInfo:
    """Run FFmpeg into a part file, validate it there, and only then rename it to `output_path`."""
    checked: list[ClipInfo] = []

    def verify(part: Path) -> None:
        try:
            info = validate_clip(
                part,
                width=width,
                height=height,
                fps=fps,
                min_frames=min_frames,
                min_duration=min_duration,
                allow_audio=False,
            )
        except InvalidClipError as exc:
            problem = str(exc).removeprefix(f"{part}: ")
            raise InvalidClipError(f"{output_path}: FFmpeg produced a bad clip: {problem}") from exc
        checked.append(info.model_copy(update={"path": output_path}))

    await run_ffmpeg(args, timeout=timeout, binary=binary, output=Path(output_path), verify=verify)
    return checked[0]


async def resize_clip_to_layout(
    input_path: Path,
    output_path: Path,
    width: int = 900,
    height: int = 900,
    fps: int = 24,
    *,
    binary: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    preset: str = "ultrafast",
    crf: int = 23,
    codec: Sequence[str] | None = None,
) -> ClipInfo:
    """Centre-crop and scale a clip to cover `width` x `height` (the layout's video area), at `fps`, no audio."""
    return await _reframe(
        input_path, output_path, width, height, fps, "cover", binary=binary, timeout=timeout, codec=codec,
        preset=preset, crf=crf,
    )


async def loop_or_trim_clip(
    input_path: Path,
    output_path: Path,
    target_duration: float,
    *,
    binary: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    preset: str = "ultrafast",
    crf: int = 23,
    codec: Sequence[str] | None = None,
) -> ClipInfo:
    """Fit a clip to the narration's length: copied when within 0.2 s, else looped or trimmed to exactly
    ceil(target x fps) frames at the clip's own rate (so it is never shorter than the narration)."""
    output_path = Path(output_path)
    _check_duration(target_duration, output_path)
    source = await _probe_input(input_path)
    if abs(target_duration - source.duration) <= COPY_TOLERANCE_S:
        return await _run_checked(
            build_copy_args(Path(input_path)),
            output_path,
            binary=binary,
            timeout=timeout,
            width=source.width,
            height=source.height,
            min_frames=source.frames,
        )
    frames = frames_for(target_duration, source.fps)
    args = build_transcode_args(
        Path(input_path),
        video_filter=build_video_filter(),
        codec=await _codec(codec, binary, preset, crf),
        frames=frames,
        loop=source.duration < target_duration,
    )
    return await _run_checked(
        args,
        output_path,
        binary=binary,
        timeout=timeout,
        width=source.width,
        height=source.height,
        min_frames=frames,
        min_duration=target_duration,
    )


async def normalize_clip_format(
    input_path: Path,
    output_path: Path,
    width: int = 1080,
    height: int = 1920,
    fps: int = 24,
    *,
    binary: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    preset: str = "ultrafast",
    crf: int = 23,
    codec: Sequence[str] | None = None,
) -> ClipInfo:
    """The final format: H.264 yuv420p, `width` x `height` (the whole picture kept, padded), `fps`, no audio."""
    return await _reframe(
        input_path, output_path, width, height, fps, "contain", binary=binary, timeout=timeout, codec=codec,
        preset=preset, crf=crf,
    )


async def _reframe(
    input_path: Path,
    output_path: Path,
    width: int,
    height: int,
    fps: int,
    fit: Fit,
    *,
    binary: Path | None,
    timeout: float,
    preset: str,
    crf: int,
    codec: Sequence[str] | None,
) -> ClipInfo:
    """One transcode to `width` x `height` at `fps`, cropped (cover) or padded (contain)."""
    output_path = Path(output_path)
    _check_size(width, height, output_path)
    _check_fps(fps, output_path)
    await _probe_input(input_path)
    args = build_transcode_args(
        Path(input_path),
        video_filter=build_video_filter(width=width, height=height, fps=fps, fit=fit),
        codec=await _codec(codec, binary, preset, crf),
    )
    return await _run_checked(args, output_path, binary=binary, timeout=timeout, width=width, height=height, fps=fps)


async def prepare_clip_for_render(
    input_path: Path,
    output_path: Path,
    *,
    target_duration: float,
    width: int = 1080,
    height: int = 1920,
    fps: int = 24,
    fit: Fit = "cover",
    area: tuple[int, int] | None = None,
    pad_color: str = "black",
    binary: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    preset: str = "ultrafast",
    crf: int = 23,
    codec: Sequence[str] | None = None,
) -> ClipInfo:
    """Resize, loop or trim, set the rate, fit and format in one FFmpeg process: the renderer's common case.

    The result is `width` x `height`, `fps`, H.264 yuv420p, no audio, exactly ceil(target x fps) frames
    (never shorter than the narration). `area` places a smaller picture (e.g. the layout's 900x900 video
    area, scaled to fit) centred on the canvas; the default fills the whole frame. Returns the output's
    `ClipInfo`, read from the finished file.
    """
    output_path = Path(output_path)
    _check_size(width, height, output_path)
    _check_fps(fps, output_path)
    _check_duration(target_duration, output_path)
    if area is not None:
        _check_size(area[0], area[1], output_path)
    await _probe_input(input_path)
    frames = frames_for(target_duration, fps)
    args = build_render_args(
        Path(input_path),
        target_duration=target_duration,
        codec=await _codec(codec, binary, preset, crf),
        width=width,
        height=height,
        fps=fps,
        fit=fit,
        area=area,
        pad_color=pad_color,
    )
    return await _run_checked(
        args,
        output_path,
        binary=binary,
        timeout=timeout,
        width=width,
        height=height,
        fps=fps,
        min_frames=frames,
        min_duration=target_duration,
    )
