"""Reading clips and narration audio with PyAV: what a file really holds, and whether a clip can be trusted.

PyAV opens the container in-process (no ffprobe, no subprocess), so a probe costs milliseconds. Every PyAV
error is translated here, once, into `InvalidClipError` with the file's name and the problem in the message.

`probe_clip` trusts the container's metadata where it has it (an mp4's sample table) and counts packets only
where it must (Matroska, fragmented mp4). `validate_clip`, the gate a generated clip passes before it counts,
always counts the packets it can actually read and decodes the first frame: a truncated file whose index
still promises every frame, or an mp4 of garbage, is caught there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
from PIL import Image
from pydantic import BaseModel, ConfigDict

from ai_worker.core.errors import InvalidClipError

logger = logging.getLogger(__name__)

MAX_SIDE = 16384
"""Larger frames than this are not a clip this project made; refuse them rather than trust the header."""
FPS_TOLERANCE = 0.01
"""Relative difference allowed between the asked and the measured frame rate (rates are stored as ratios)."""
DURATION_TOLERANCE = 0.05
"""Seconds a clip's measured duration may fall short of the asked one (container rounding)."""


class ClipInfo(BaseModel):
    """What one video file holds, as read from it."""

    model_config = ConfigDict(frozen=True)

    path: Path
    duration: float
    """Seconds, from the video stream (else the container, else frames / fps)."""
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    pix_fmt: str | None
    has_audio: bool
    size_bytes: int


def _check_file(path: Path) -> int:
    """The file's size; a clear error when it is missing, not a file, or empty."""
    if not path.exists():
        raise InvalidClipError(f"{path}: file not found")
    if not path.is_file():
        raise InvalidClipError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise InvalidClipError(f"{path}: file is empty (0 bytes)")
    return size


@contextmanager
def _open(path: Path) -> Iterator[Any]:
    """`av.open(path)`, with every PyAV error turned into `InvalidClipError` naming the file."""
    try:
        container = av.open(str(path), mode="r")
    except av.error.FileNotFoundError as exc:
        raise InvalidClipError(f"{path}: file not found") from exc
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidClipError(f"{path}: not a readable media file ({_av_reason(exc)})") from exc
    try:
        yield container
    except av.error.FFmpegError as exc:
        raise InvalidClipError(f"{path}: unreadable media data ({_av_reason(exc)})") from exc
    finally:
        container.close()


def _av_reason(exc: BaseException) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else type(exc).__name__


def _stream_seconds(stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return None


def _container_seconds(container: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    return None


def _count_packets(container: Any, stream: Any) -> int:
    """Video packets that can actually be read (one packet is one frame for every codec we write)."""
    count = 0
    for packet in container.demux(stream):
        if packet.size:
            count += 1
    return count


def _decode_first_frame(path: Path, stream_index: int) -> None:
    with _open(path) as container:
        stream = container.streams.video[stream_index]
        for frame in container.decode(stream):
            if frame is not None:
                return
    raise InvalidClipError(f"{path}: no video frame could be decoded")


def _probe(path: Path, *, count_packets: bool) -> tuple[ClipInfo, int]:
    """The clip's info, and how many packets its index promises (0 when the container does not say)."""
    size = _check_file(path)
    with _open(path) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise InvalidClipError(f"{path}: no video stream (has {', '.join(kinds)})")
        stream = container.streams.video[0]
        context = stream.codec_context
        width, height = int(context.width or 0), int(context.height or 0)
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise InvalidClipError(f"{path}: absurd frame size {width}x{height}")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        promised = int(stream.frames or 0)
        frames = promised
        if count_packets or frames <= 0:
            frames = _count_packets(container, stream)
        duration = _stream_seconds(stream) or _container_seconds(container)
        if duration is None and fps > 0:
            duration = frames / fps
        if fps <= 0 and duration and frames > 0:
            fps = frames / duration
        has_audio = bool(container.streams.audio)
        codec = str(context.name)
        pix_fmt = str(context.pix_fmt) if context.pix_fmt else None
    if frames <= 0:
        raise InvalidClipError(f"{path}: the video stream holds no frames")
    if duration is None or not math.isfinite(duration) or duration <= 0:
        raise InvalidClipError(f"{path}: zero or unknown duration")
    if not math.isfinite(fps) or fps <= 0:
        raise InvalidClipError(f"{path}: unknown frame rate")
    info = ClipInfo(
        path=path,
        duration=duration,
        frames=frames,
        fps=fps,
        width=width,
        height=height,
        codec=codec,
        pix_fmt=pix_fmt,
        has_audio=has_audio,
        size_bytes=size,
    )
    return info, promised


def probe_clip(path: Path) -> ClipInfo:
    """Duration, frames, fps, size, codec and audio presence of a video file (blocking; milliseconds).

    Raises `InvalidClipError` for a missing, empty, unreadable or audio-only file, or one with no frames,
    no duration or an absurd frame size. Call it through ``asyncio.to_thread`` from async code.
    """
    info, _ = _probe(Path(path), count_packets=False)
    return info


def validate_clip(
    path: Path,
    *,
    width: int | None = None,
    height: int | None = None,
    min_frames: int | None = None,
    fps: float | None = None,
    min_duration: float | None = None,
    allow_audio: bool = True,
) -> ClipInfo:
    """Accept a clip only if it is complete and what was asked; else raise `InvalidClipError` saying why.

    Complete means every frame its index promises can be read, and the first frame decodes. Each given
    expectation is then checked: exact width and height, at least `min_frames` frames, the frame rate
    within 1 %, at least `min_duration` seconds (less a small container rounding), no audio unless allowed.
    """
    path = Path(path)
    info, promised = _probe(path, count_packets=True)
    if promised and info.frames < promised:
        raise InvalidClipError(f"{path}: truncated: its index lists {promised} frames but only {info.frames} are there")
    problems: list[str] = []
    if width is not None and info.width != width:
        problems.append(f"width {info.width}, expected {width}")
    if height is not None and info.height != height:
        problems.append(f"height {info.height}, expected {height}")
    if min_frames is not None and info.frames < min_frames:
        problems.append(f"{info.frames} frames, expected at least {min_frames}")
    if fps is not None and abs(info.fps - fps) > FPS_TOLERANCE * fps:
        problems.append(f"{info.fps:g} fps, expected {fps:g}")
    if min_duration is not None and info.duration < min_duration - DURATION_TOLERANCE:
        problems.append(f"{info.duration:.3f} s long, expected at least {min_duration:.3f} s")
    if not allow_audio and info.has_audio:
        problems.append("has an audio stream, expected none")
    if problems:
        raise InvalidClipError(f"{path}: " + "; ".join(problems))
    _decode_first_frame(path, 0)
    return info


def audio_duration(path: Path) -> float:
    """Seconds of the first audio stream of a narration file (wav, mp3, m4a, ...), for the loop-or-trim target.

    Uses the stream's duration, else the container's, else the sum of its packets' durations. Raises
    `InvalidClipError` for a missing, empty or unreadable file, one without audio, or a zero duration.
    """
    path = Path(path)
    _check_file(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise InvalidClipError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        seconds = _stream_seconds(stream) or _container_seconds(container)
        if seconds is None:
            total = Fraction(0)
            for packet in container.demux(stream):
                if packet.size and packet.duration:
                    total += packet.duration * stream.time_base
            seconds = float(total)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidClipError(f"{path}: audio has zero or unknown duration")
    return seconds


def read_frames(path: Path, indices: Sequence[int]) -> dict[int, Image.Image]:
    """The video frames numbered `indices` (from 0), as RGB pictures, decoded in one pass that stops at the
    last one asked (blocking). Raises `InvalidClipError` for an unreadable file or a frame it does not hold.
    """
    path = Path(path)
    _check_file(path)
    wanted = set(indices)
    found: dict[int, Image.Image] = {}
    with _open(path) as container:
        if not container.streams.video:
            raise InvalidClipError(f"{path}: no video stream")
        for number, frame in enumerate(container.decode(container.streams.video[0])):
            if number in wanted:
                found[number] = frame.to_image()
                if len(found) == len(wanted):
                    break
    missing = wanted - found.keys()
    if missing:
        raise InvalidClipError(f"{path}: no frame {min(missing)} could be decoded")
    return found
