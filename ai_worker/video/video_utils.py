"""FFmpeg post-processing of generated clips, so the renderer gets clips it can trust (seed section 8).

Three layers, each with one job:

* pure functions that snap sizes and counts (`validate_frame_count`, `validate_resolution`) and build
  filter graphs and argument lists (`build_video_filter`, `build_transcode_args`, ...): tested as exact values;
* `ffmpeg_runner.run_ffmpeg`, the one place FFmpeg runs (time limit, part file, rename);
* the async operations: the seed's three (`resize_clip_to_layout`, `loop_or_trim_clip`,
  `normalize_clip_format`) and `prepare_clip_for_render`, which does all three in one FFmpeg process
  (one decode, one encode: faster, and one generation of loss instead of three).

Every operation probes its input first (a clear `InvalidClipError` naming a bad input, before FFmpeg runs)
and validates its output before it is renamed into place, so a half-written or wrong clip never appears
under the final name.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ai_worker.errors import FFmpegError, InvalidClipError
from ai_worker.video.ffmpeg_runner import resolve_ffmpeg, run_ffmpeg
from ai_worker.video.probe import ClipInfo, probe_clip, validate_clip

logger = logging.getLogger(__name__)

Fit = Literal["cover", "contain"]
"""cover: centre-crop so the picture fills the frame; contain: scale to fit and pad with black."""

FRAME_STEP = 8
MIN_FRAMES = 9
"""LTX-2 takes 1 + 8k frames; 9 is the smallest useful count."""
MIN_SIDE = 64
MAX_SIDE = 2048
"""Generation sizes: LTX-2's latent grid needs at least 64 px; beyond 2048 px a side no GPU we target fits."""
RESOLUTION_MULTIPLES = (32, 64)
"""32 for single-stage LTX-2 (the VAE divides by 32), 64 for the two-stage upscale path (ltx2/facts.md 1)."""

MIN_OUTPUT_SIDE = 16
MAX_OUTPUT_SIDE = 8192
MAX_FPS = 240
MAX_TARGET_DURATION_S = 3600.0
"""Longer than any narration line; a bigger target is a unit mistake, not a scene."""
COPY_TOLERANCE_S = 0.2
"""The seed's rule: a clip within 0.2 s of the narration is copied, not re-encoded."""
DEFAULT_TIMEOUT_S = 300.0
NVENC_PROBE_TIMEOUT_S = 15.0
"""A working NVENC opens in well under a second; a driver that hangs must not hold the pipeline."""
NVENC_PROBE_ARGS: tuple[str, ...] = (
    "-f", "lavfi", "-i", "nullsrc=s=256x256:d=0.1",
    "-c:v", "h264_nvenc", "-preset", "p1",
    "-f", "null", "-",
)  # fmt: skip
"""The seed's test encode: 0.1 s of nullsrc through h264_nvenc (256 px: NVENC refuses tiny frames)."""
_FRAME_EPSILON = 1e-9


# --- sizes and counts -----------------------------------------------------------------------------------


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


# --- pure builders --------------------------------------------------------------------------------------


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def fitted_box(area: tuple[int, int], canvas: tuple[int, int]) -> tuple[int, int]:
    """The largest even-sided box of `area`'s aspect ratio that fits in `canvas`."""
    aw, ah = area
    cw, ch = canvas
    if aw * ch >= ah * cw:  # the area is relatively wider: full canvas width
        return cw, min(ch, _even(cw * ah / aw))
    return min(cw, _even(ch * aw / ah)), ch


def build_video_filter(
    *,
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
    fit: Fit = "cover",
    area: tuple[int, int] | None = None,
    pix_fmt: str = "yuv420p",
) -> str:
    """The one filter graph every operation uses: frame rate, then geometry, then pixel format.

    With a size, `area` (default: the whole frame) is the picture's shape inside the `width` x `height`
    canvas: "cover" centre-crops the source to the area's aspect before scaling (only kept pixels are
    scaled), "contain" scales the whole source to fit; either is padded with black to the canvas when it
    does not fill it.
    """
    parts: list[str] = []
    if fps is not None:
        parts.append(f"fps={fps}")
    if (width is None) != (height is None):
        raise ValueError("width and height go together")
    if width is not None and height is not None:
        box = fitted_box(area, (width, height)) if area is not None else (width, height)
        bw, bh = box
        if fit == "cover":
            aw, ah = area if area is not None else (width, height)
            parts.append(f"crop='min(iw,ih*{aw}/{ah})':'min(ih,iw*{ah}/{aw})'")
            parts.append(f"scale={bw}:{bh}")
        elif fit == "contain":
            parts.append(f"scale={bw}:{bh}:force_original_aspect_ratio=decrease:force_divisible_by=2")
        else:
            raise ValueError(f"fit must be 'cover' or 'contain', got {fit!r}")
        if fit == "contain" or box != (width, height):
            parts.append(f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black")
        parts.append("setsar=1")
    parts.append(f"format={pix_fmt}")
    return ",".join(parts)


def libx264_args(preset: str = "ultrafast", crf: int = 23) -> list[str]:
    """The CPU encoder's options (the fallback everywhere NVENC is missing)."""
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf)]


def nvenc_args() -> list[str]:
    """The seed's GPU encoder options; constant quality 23 keeps it comparable with libx264's crf 23."""
    return ["-c:v", "h264_nvenc", "-preset", "p1", "-cq", "23"]


def build_transcode_args(
    input_path: Path,
    *,
    video_filter: str,
    codec: Sequence[str],
    frames: int | None = None,
    loop: bool = False,
) -> list[str]:
    """Arguments for one decode-filter-encode pass of the first video stream, audio dropped (output not included).

    `loop` repeats the input without end (``-stream_loop -1``); `frames` then says where to stop, exactly.
    """
    args: list[str] = []
    if loop:
        if frames is None:
            raise ValueError("a looped input needs a frame count to stop at")
        args += ["-stream_loop", "-1"]
    args += ["-i", str(input_path), "-map", "0:v:0", "-vf", video_filter]
    if frames is not None:
        args += ["-frames:v", str(frames)]
    args += ["-an", "-sn", "-dn", *codec, "-movflags", "+faststart"]
    return args


def build_copy_args(input_path: Path) -> list[str]:
    """Arguments that copy the first video stream as it is (no re-encode), audio dropped."""
    return ["-i", str(input_path), "-map", "0:v:0", "-c", "copy", "-an", "-sn", "-dn", "-movflags", "+faststart"]


# --- codec choice ---------------------------------------------------------------------------------------

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


async def _resolve_intermediate_codec(
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


# --- operations -----------------------------------------------------------------------------------------


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
    return await _resolve_intermediate_codec(binary=binary, preset=preset, crf=crf)


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


def build_render_args(
    input_path: Path,
    *,
    target_duration: float,
    codec: Sequence[str],
    width: int = 1080,
    height: int = 1920,
    fps: int = 24,
    fit: Fit = "cover",
    area: tuple[int, int] | None = None,
) -> list[str]:
    """The single pass: loop the input without end, filter once, stop at exactly ceil(target x fps) frames."""
    return build_transcode_args(
        input_path,
        video_filter=build_video_filter(width=width, height=height, fps=fps, fit=fit, area=area),
        codec=codec,
        frames=frames_for(target_duration, fps),
        loop=True,
    )


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
