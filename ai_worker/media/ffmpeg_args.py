"""Pure FFmpeg argument builders: the filter graph, the encoder options and each operation's argument list.

Tested as exact values; `ffmpeg_runner.run_ffmpeg` runs what they build (the output path is its to add).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ai_worker.model.clip_sizes import fitted_box, frames_for

Fit = Literal["cover", "contain"]
"""cover: centre-crop so the picture fills the frame; contain: scale to fit and pad with black."""


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
    """The GPU encoder options of docs/spec.md; constant quality 23 keeps it comparable with libx264's crf 23."""
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
