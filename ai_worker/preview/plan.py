"""What the preview shows and when: the layout, each scene's length in frames and each line's time on screen.

Pure except for the callables it is given (reading an audio file's length, checking a clip), so the numbers
the tests check (frames per scene, subtitle timing, audio samples) are computed in one place.

Timing: a line lasts as long as its TTS audio when it carries one, else an estimate from its text
(`narration.SYLLABLES_PER_SECOND`); each line is rounded up to whole frames, so no audio is ever cut, and a scene
lasts the sum of its lines. The narration track is laid out on the same frame grid, so it ends exactly
where the video does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ai_worker.core.errors import WaggleVideoError
from ai_worker.media.narration import SYLLABLES_PER_SECOND, spoken_units
from ai_worker.model.manifest import FinalScene, Manifest, SceneRecord

"""Korean TTS voices read about 6-7 syllables a second at a natural pace; spaces and punctuation are not
read as syllables, so only the other characters count."""
MIN_LINE_SECONDS = 1.0
"""A line shorter than this cannot be read on screen."""
EMPTY_SCENE_SECONDS = 2.0
"""A scene without any line (rare: a bare image scene) still gets this long on screen."""
AUDIO_RATE = 48000


def estimate_line_seconds(text: str) -> float:
    """Seconds a Korean line takes to read aloud: the same estimate the clip lengths use (`narration`:
    spoken syllables at `SYLLABLES_PER_SECOND`), at least `MIN_LINE_SECONDS`.

    >>> estimate_line_seconds("오늘 퇴근길에 진짜 어이없는 일이 있었음")
    2.6153846153846154
    """
    return max(MIN_LINE_SECONDS, spoken_units(text) / SYLLABLES_PER_SECOND)


def line_frames(seconds: float, fps: int) -> int:
    """Whole frames covering `seconds` (rounded up, at least one)."""
    return max(1, math.ceil(seconds * fps - 1e-9))


# --- layout ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class PreviewLayout:
    """Where things go on the canvas."""

    width: int
    height: int
    fps: int
    area: Box
    """Where the clip sits."""
    subtitle: Box
    """The band subtitles are centred in."""
    title: Box | None
    """The band the post's title sits in."""
    background: str
    """Around the area: 'blur', 'color' or 'none' (the area fills the frame)."""
    filler: str = "blur"
    """Inside the area, where a clip of another shape leaves room: 'blur' (a blurred copy of the clip) or
    'color' (the mood's colour). Every clip is shown whole."""


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def make_layout(
    size: tuple[int, int], fps: int, *, area: str = "box", box_width: int = 820, background: str = "blur"
) -> PreviewLayout:
    """The renderer's layout scaled to `size`: a 16:9 box `box_width` wide (at 1080) centred horizontally
    in the upper half, the title above it and subtitles below it; or (`area="full"`) the area filling the
    frame, the title in its top part and subtitles in its lower part. `background` is also what fills the
    area around a clip of another shape."""
    width, height = size
    if area == "full":
        band = Box(0, int(height * 0.70), width, int(height * 0.18))
        title_band = Box(int(width * 0.06), int(height * 0.04), int(width * 0.88), int(height * 0.12))
        return PreviewLayout(width, height, fps, Box(0, 0, width, height), band, title_band, "none", background)
    scale = width / 1080
    bw = min(width, _even(box_width * scale))
    bh = _even(bw * 9 / 16)
    x = (width - bw) // 2
    y = max(0, (height // 2 - bh) // 2)
    title = Box(int(width * 0.06), int(height * 0.02), int(width * 0.88), max(2, y - int(height * 0.03)))
    sub_top = height // 2 + int(height * 0.04)
    subtitle = Box(int(width * 0.06), sub_top, int(width * 0.88), int(height * 0.25))
    return PreviewLayout(width, height, fps, Box(x, y, bw, bh), subtitle, title, background, background)


# --- the plan -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedLine:
    text: str
    audio: Path | None
    """The narration file, when the line has one that could be read."""
    start_frame: int
    """From the start of the preview."""
    end_frame: int
    """Exclusive."""
    note: str | None = None
    """Why a line's audio was not used."""


@dataclass(frozen=True)
class PlannedScene:
    position: int
    """Place in the story (0-based) among the final scenes."""
    scene_index: int
    """The manifest scene whose clip and image it shows."""
    source_indices: tuple[int, ...]
    type: str
    clip: Path | None
    card_reason: str | None
    """Why the scene is a card (no clip, or a clip that cannot be read); None for a clip."""
    image: Path | None
    lines: tuple[PlannedLine, ...]
    start_frame: int
    frames: int


@dataclass(frozen=True)
class PreviewPlan:
    title: str
    mood: str
    scenes: tuple[PlannedScene, ...]
    fps: int
    total_frames: int

    @property
    def has_audio(self) -> bool:
        return any(line.audio is not None for scene in self.scenes for line in scene.lines)

    @property
    def seconds(self) -> float:
        return self.total_frames / self.fps

    def samples(self, frame: int) -> int:
        """The audio sample at which `frame` starts (exact when the rate divides 48000)."""
        return round(frame * AUDIO_RATE / self.fps)


def _line_parts(line: str | dict[str, str]) -> tuple[str, str | None]:
    if isinstance(line, str):
        return line, None
    return line.get("text", ""), line.get("audio")


def story_scenes(manifest: Manifest) -> list[tuple[FinalScene, SceneRecord | None]]:
    """The scenes as the story shows them: the final scenes (after merging), each with the record whose clip
    and image it keeps. A manifest without final scenes (a run stopped half-way) shows every scene."""
    by_index = {record.index: record for record in manifest.scenes}
    if not manifest.final_scenes:
        return [
            (FinalScene(clip_path=r.clip_path if r.status == "done" else None, text_lines=r.text_lines,
                        source_indices=[r.index], type=r.type), r)
            for r in sorted(manifest.scenes, key=lambda r: r.index)
        ]
    story: list[tuple[FinalScene, SceneRecord | None]] = []
    for final in manifest.final_scenes:
        kept = [i for i in final.source_indices if i in by_index and by_index[i].merged_into is None]
        index = kept[0] if kept else (final.source_indices[0] if final.source_indices else -1)
        story.append((final, by_index.get(index)))
    return story


def _card_reason(final: FinalScene, record: SceneRecord | None) -> str:
    if record is None:
        return "no clip"
    if record.status == "skipped":
        return f"static: {record.skip_reason or 'no clip attempted'}"
    if record.status == "failed":
        return f"no clip: {record.failure_reason or 'failed'}"
    if record.mode is None:
        return "static: no video mode"
    return "no clip"


def plan_preview(
    manifest: Manifest,
    *,
    fps: int,
    audio_seconds: Callable[[Path], float],
    clip_problem: Callable[[Path], str | None],
) -> PreviewPlan:
    """Every final scene in story order, never skipped: its clip (when `clip_problem` finds none) or a card,
    and its lines on the frame grid. `audio_seconds` raising `WaggleVideoError` means the line is timed by
    its text and plays silence; the note says why."""
    scenes: list[PlannedScene] = []
    frame = 0
    for position, (final, record) in enumerate(story_scenes(manifest)):
        clip = Path(final.clip_path) if final.clip_path else None
        reason: str | None = None
        if clip is None:
            reason = _card_reason(final, record)
        else:
            problem = clip_problem(clip)
            if problem is not None:
                reason, clip = f"clip unusable: {problem}", None
        lines = _plan_lines(final.text_lines, frame, fps, audio_seconds)
        frames = (lines[-1].end_frame - frame) if lines else line_frames(EMPTY_SCENE_SECONDS, fps)
        image = Path(record.image_path) if record is not None and record.image_path else None
        scenes.append(PlannedScene(
            position=position,
            scene_index=record.index if record is not None else position,
            source_indices=tuple(final.source_indices),
            type=final.type,
            clip=clip,
            card_reason=reason,
            image=image,
            lines=tuple(lines),
            start_frame=frame,
            frames=frames,
        ))
        frame += frames
    return PreviewPlan(manifest.title, manifest.mood, tuple(scenes), fps, frame)


def _plan_lines(
    raw: Sequence[str | dict[str, str]], start: int, fps: int, audio_seconds: Callable[[Path], float]
) -> list[PlannedLine]:
    lines: list[PlannedLine] = []
    frame = start
    for item in raw:
        text, audio = _line_parts(item)
        seconds: float | None = None
        note: str | None = None
        path = Path(audio) if audio else None
        if path is not None:
            try:
                seconds = audio_seconds(path)
            except WaggleVideoError as exc:
                note, path = f"narration not used: {exc}", None
        if seconds is None:
            seconds = estimate_line_seconds(text)
        count = line_frames(seconds, fps)
        lines.append(PlannedLine(text, path, frame, frame + count, note))
        frame += count
    return lines
