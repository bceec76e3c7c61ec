"""The preview's one composition pass, as an argument list (pure; tested as exact values where it matters).

Inputs, in order: one per scene (its fitted clip, or its card still looped), one per overlay picture
(subtitles, title), one per narration file. The graph concatenates the scenes' area-sized pictures, puts
them on the canvas (over a blurred, darkened copy of themselves or the mood's colour, or filling it),
overlays each subtitle during its line's frames, and lays the narration out on the same frame grid:
each line's audio padded to its line's length, silence for lines without audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ai_worker.media.ffmpeg_args import blur_filler
from ai_worker.preview.plan import AUDIO_RATE, PreviewLayout


@dataclass(frozen=True)
class Segment:
    """One scene's picture: a clip already fitted to the area, or a still shown for `frames` frames."""

    path: Path
    frames: int
    still: bool = False


@dataclass(frozen=True)
class Overlay:
    """A picture drawn at (x, y) from `start` to `end` (frames, end exclusive); always when `start` is None."""

    path: Path
    x: int
    y: int
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class AudioPart:
    """`samples` of the narration: the file's audio padded (or cut) to that length, or silence."""

    samples: int
    path: Path | None = None


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def merge_silence(parts: Sequence[AudioPart]) -> list[AudioPart]:
    """Adjacent silences as one (fewer filter nodes, same samples)."""
    merged: list[AudioPart] = []
    for part in parts:
        if part.samples <= 0:
            continue
        if part.path is None and merged and merged[-1].path is None:
            merged[-1] = AudioPart(merged[-1].samples + part.samples)
        else:
            merged.append(part)
    return merged


def _background(layout: PreviewLayout, colour: str, total_frames: int) -> list[str]:
    area = layout.area
    if layout.background == "none":
        return ["[cat]null[base]"]
    if layout.background == "color":
        return [
            f"color=c=0x{colour.lstrip('#')}:s={layout.width}x{layout.height}:r={layout.fps},"
            f"trim=end_frame={total_frames}[bg]",
            f"[bg][cat]overlay={area.x}:{area.y}:shortest=1[base]",
        ]
    return [
        "[cat]split=2[fg][bgsrc]",
        f"[bgsrc]{blur_filler(layout.width, layout.height)}[bg]",
        f"[bg][fg]overlay={area.x}:{area.y}[base]",
    ]


def build_compose_args(
    layout: PreviewLayout,
    segments: Sequence[Segment],
    overlays: Sequence[Overlay],
    audio: Sequence[AudioPart],
    *,
    colour: str,
    codec: Sequence[str],
) -> list[str]:
    """Everything between ``ffmpeg`` and the output file for the composition pass."""
    if not segments:
        raise ValueError("a preview needs at least one scene")
    fps = layout.fps
    total = sum(segment.frames for segment in segments)
    args: list[str] = []
    graph: list[str] = []
    for number, segment in enumerate(segments):
        if segment.still:
            args += ["-loop", "1", "-framerate", str(fps)]
        args += ["-i", str(segment.path)]
        graph.append(
            f"[{number}:v]fps={fps},trim=end_frame={segment.frames},setpts=PTS-STARTPTS,"
            f"scale={layout.area.width}:{layout.area.height},setsar=1,format=yuv420p[s{number}]"
        )
    labels = "".join(f"[s{n}]" for n in range(len(segments)))
    graph.append(f"{labels}concat=n={len(segments)}:v=1:a=0[cat]")
    graph += _background(layout, colour, total)
    current = "base"
    first_overlay = len(segments)
    for number, overlay in enumerate(overlays):
        args += ["-i", str(overlay.path)]
        enable = ""
        if overlay.start is not None and overlay.end is not None:
            enable = f":enable='between(n,{overlay.start},{overlay.end - 1})'"
        graph.append(f"[{current}][{first_overlay + number}:v]overlay={overlay.x}:{overlay.y}{enable}[o{number}]")
        current = f"o{number}"
    graph.append(f"[{current}]format=yuv420p[vout]")
    maps = ["-map", "[vout]"]
    parts = merge_silence(audio)
    if any(part.path is not None for part in parts):
        first_audio = len(segments) + len(overlays)
        inputs = 0
        for number, part in enumerate(parts):
            shape = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo"
            if part.path is None:
                graph.append(f"anullsrc=r={AUDIO_RATE}:cl=stereo,{shape},atrim=end_sample={part.samples}[a{number}]")
                continue
            args += ["-i", str(part.path)]
            graph.append(
                f"[{first_audio + inputs}:a]aresample={AUDIO_RATE},{shape},apad=whole_len={part.samples},"
                f"atrim=end_sample={part.samples},asetpts=PTS-STARTPTS[a{number}]"
            )
            inputs += 1
        alabels = "".join(f"[a{n}]" for n in range(len(parts)))
        graph.append(f"{alabels}concat=n={len(parts)}:v=0:a=1[aout]")
        maps += ["-map", "[aout]", "-c:a", "aac", "-b:a", "128k", "-ar", str(AUDIO_RATE)]
    return [
        *args,
        "-filter_complex", ";".join(graph),
        *maps,
        *codec,
        "-pix_fmt", "yuv420p",
        "-r", str(fps),
        "-frames:v", str(total),
        "-sn", "-dn",
        "-movflags", "+faststart",
    ]  # fmt: skip
