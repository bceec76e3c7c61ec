"""The embedded local backend: real mp4 clips made with FFmpeg alone (no GPU, no server).

It has the ComfyUI client's interface, so the whole stage runs and is tested on any machine:
text-to-video is a slowly moving gradient in the mood's colours, image-to-video a slow zoom and pan over
the whole image (fitted, never cropped). Width, height, frame count and fps are honoured exactly, so a
ladder rung means the same here as on ComfyUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image

from ai_worker.core.errors import FFmpegError, GeneratorError, ImageError, MediaError
from ai_worker.images.normalize import open_upright_rgb
from ai_worker.media.ffmpeg_runner import resolve_ffmpeg, run_ffmpeg
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks, ProgressEvent

logger = logging.getLogger(__name__)

LOCAL_NAME = "local"
STAGED_SUFFIX = ".init.png"
"""The image-to-video picture staged beside its clip (hidden, removed after the clip; a killed run's is removed
by the next run of the post)."""
DEFAULT_PALETTE: tuple[str, ...] = ("#2B3A55", "#CE7777", "#E8C4C4", "#F2E5E5")
_HEX = re.compile(r"^#?[0-9A-Fa-f]{6}$")
ZOOM_END = 1.1
"""How far the image-to-video zoom goes by the last frame (gentle: most of the picture stays in view)."""


def _ffmpeg_color(value: str) -> str:
    if not _HEX.match(value):
        raise ValueError(f"not a #RRGGBB colour: {value!r}")
    return "0x" + value.lstrip("#").upper()


def encoder_args(preset: str, crf: int) -> list[str]:
    """The H.264 output options every local clip uses."""
    return ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-an",
            "-movflags", "+faststart"]


def build_t2v_args(
    request: ClipRequest, palette: Sequence[str], *, preset: str = "ultrafast", crf: int = 23
) -> list[str]:
    """FFmpeg arguments for a moving gradient of `request`'s size, length and rate (output file not included)."""
    colours = [_ffmpeg_color(c) for c in (list(palette) or list(DEFAULT_PALETTE))[:8]]
    if len(colours) < 2:
        colours.append(colours[0])
    source = (
        f"gradients=s={request.width}x{request.height}:r={request.fps}:n={len(colours)}"
        + "".join(f":c{i}={c}" for i, c in enumerate(colours))
        + f":seed={request.seed % 4_294_967_295}:speed=0.005:type=linear"
    )
    return ["-f", "lavfi", "-i", source, "-frames:v", str(request.num_frames), "-r", str(request.fps),
            *encoder_args(preset, crf)]


def build_i2v_args(
    request: ClipRequest, image: Path, *, preset: str = "ultrafast", crf: int = 23
) -> list[str]:
    """FFmpeg arguments for a slow zoom and pan over `image` (already upright RGB).

    The whole image is fitted into the frame (padded with black where the aspects differ, never cropped), so
    the first frame shows all of it, as the I2V workflows keep the whole init image; the zoom then moves in.
    """
    w, h, n = request.width, request.height, request.num_frames
    last = max(n - 1, 1)
    # Zoompan works on a 2x canvas so sub-pixel steps do not shake the picture.
    fit = (
        f"scale={2 * w}:{2 * h}:force_original_aspect_ratio=decrease:flags=lanczos,"
        f"pad={2 * w}:{2 * h}:(ow-iw)/2:(oh-ih)/2:color=black"
    )
    zoom = f"1+{ZOOM_END - 1:.3f}*on/{last}"
    pan_x = f"(iw-iw/zoom)*(0.35+0.3*on/{last})"
    pan_y = "(ih-ih/zoom)/2"
    zoompan = f"zoompan=z='{zoom}':x='{pan_x}':y='{pan_y}':d=1:s={w}x{h}:fps={request.fps}"
    return [
        "-loop", "1", "-framerate", str(request.fps), "-i", str(image),
        "-vf", f"{fit},{zoompan},setsar=1,format=yuv420p",
        "-frames:v", str(n), "-r", str(request.fps),
        *encoder_args(preset, crf),
    ]


def prepare_image(source: Path, target: Path, max_side: int) -> Path:
    """Decode `source` (any format Pillow reads), make it upright RGB with transparency on white (`normalize`),
    shrink it to `max_side`, save it as a PNG."""
    image = open_upright_rgb(source)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, format="PNG")
    except (OSError, ValueError) as exc:
        raise ImageError(f"{source}: cannot stage the image at {target} ({exc})") from exc
    return target


class LocalBackend:
    """FFmpeg-only stand-in for ComfyUI with the same interface."""

    def __init__(
        self,
        *,
        palettes: Mapping[str, Sequence[str]] | None = None,
        ffmpeg_binary: Path | None = None,
        timeout: float = 300.0,
        preset: str = "ultrafast",
        crf: int = 23,
    ) -> None:
        self._palettes = dict(palettes or {})
        self._binary = ffmpeg_binary
        self._timeout = timeout
        self._preset = preset
        self._crf = crf
        self._jobs: dict[str, asyncio.Task[None]] = {}

    @property
    def name(self) -> str:
        return LOCAL_NAME

    async def health_check(self) -> bool:
        try:
            await asyncio.to_thread(resolve_ffmpeg, self._binary)
        except (FFmpegError, OSError, RuntimeError) as exc:
            logger.warning("local backend unavailable: %s", exc)
            return False
        return True

    def palette_for(self, mood: str) -> Sequence[str]:
        return self._palettes.get(mood) or self._palettes.get("daily") or DEFAULT_PALETTE

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        args = build_t2v_args(request, self.palette_for(request.mood), preset=self._preset, crf=self._crf)
        return await self._run(request, args, hooks)

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        if request.init_image is None:
            raise GeneratorError("image-to-video needs request.init_image")
        staged = request.output_path.with_name(f".{request.output_path.stem}.{uuid.uuid4().hex[:8]}{STAGED_SUFFIX}")
        try:
            await asyncio.to_thread(
                prepare_image, request.init_image, staged, 2 * max(request.width, request.height)
            )
            args = build_i2v_args(request, staged, preset=self._preset, crf=self._crf)
            return await self._run(request, args, hooks)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()

    async def _run(self, request: ClipRequest, args: list[str], hooks: GenerationHooks | None) -> ClipResult:
        job_id = f"local-{uuid.uuid4().hex[:12]}"
        if hooks and hooks.on_submitted:
            hooks.on_submitted(LOCAL_NAME, job_id)
        self._emit(hooks, job_id, 0, request.num_frames)
        task = asyncio.create_task(
            run_ffmpeg(args, timeout=self._timeout, binary=self._binary, output=request.output_path)
        )
        self._jobs[job_id] = task
        try:
            await task
        except MediaError as exc:
            raise GeneratorError(f"local backend could not make {request.output_path.name}: {exc}") from exc
        finally:
            self._jobs.pop(job_id, None)
        self._emit(hooks, job_id, request.num_frames, request.num_frames)
        return ClipResult(path=request.output_path, server=LOCAL_NAME, prompt_id=job_id)

    @staticmethod
    def _emit(hooks: GenerationHooks | None, job_id: str, value: int, maximum: int) -> None:
        if hooks and hooks.on_progress:
            hooks.on_progress(ProgressEvent(server=LOCAL_NAME, prompt_id=job_id, value=value, maximum=maximum))

    async def cancel(self, prompt_id: str) -> None:
        task = self._jobs.get(prompt_id)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaError):
                await task

    async def aclose(self) -> None:
        for job_id in list(self._jobs):
            await self.cancel(job_id)
