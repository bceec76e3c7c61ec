"""Pure FFmpeg argument builders: the filter graph, the encoder options and each operation's argument list.

Tested as exact values; `ffmpeg_runner.run_ffmpeg` runs what they build (the output path is its to add).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from ai_worker.model.clip_sizes import fitted_box, frames_for

Fit = Literal["cover", "contain", "contain_blur"]
"""cover: centre-crop so the picture fills the frame; contain: scale the whole picture to fit and pad with
`pad_color`; contain_blur: scale the whole picture to fit over a blurred, darkened copy of itself that fills
the frame (nothing of the picture is lost, and no hard bars)."""

BLUR_DOWNSCALE = 6
"""The filler is blurred at 1/6 size: as soft as a full-size blur, for a fraction of the work."""
FILLER_BRIGHTNESS = -0.18


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def blur_filler(width: int, height: int) -> str:
    """The source cover-cropped to `width` x `height`, blurred small and darkened (a filter chain)."""
    sw, sh = _even(width / BLUR_DOWNSCALE), _even(height / BLUR_DOWNSCALE)
    return (
        f"scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},boxblur=6:2,"
        f"eq=brightness={FILLER_BRIGHTNESS}:saturation=0.8,scale={width}:{height},setsar=1"
    )


def build_video_filter(
    *,
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
    fit: Fit = "cover",
    area: tuple[int, int] | None = None,
    pix_fmt: str = "yuv420p",
    pad_color: str = "black",
) -> str:
    """The one filter graph every operation uses: frame rate, then geometry, then pixel format.

    With a size, `area` (default: the whole frame) is the picture's shape inside the `width` x `height`
    canvas: "cover" centre-crops the source to the area's aspect before scaling (only kept pixels are
    scaled), "contain" scales the whole source to fit; either is padded with `pad_color` (an FFmpeg colour)
    to the canvas when it does not fill it. "contain_blur" scales the whole source to fit the canvas over a
    blurred copy of itself.
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
        elif fit == "contain_blur":
            whole = f"scale={bw}:{bh}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1"
            parts.append(
                f"split=2[whole][filler];[filler]{blur_filler(width, height)}[back];[whole]{whole}[front];"
                "[back][front]overlay=(W-w)/2:(H-h)/2"
            )
        else:
            raise ValueError(f"fit must be 'cover', 'contain' or 'contain_blur', got {fit!r}")
        if fit == "contain" or (fit == "cover" and box != (width, height)):
            parts.append(f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color={pad_color}")
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
    pad_color: str = "black",
) -> list[str]:
    """The single pass: loop the input without end, filter once, stop at exactly ceil(target x fps) frames."""
    return build_transcode_args(
        input_path,
        video_filter=build_video_filter(
            width=width, height=height, fps=fps, fit=fit, area=area, pad_color=pad_color
        ),
        codec=codec,
        frames=frames_for(target_duration, fps),
        loop=True,
    )
