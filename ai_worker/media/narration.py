"""How long a scene's narration lasts: the TTS audio when the lines carry it, else an estimate from the text.

`narration_length` is read once per scene (audio files through a small cache keyed by path, size and
modification time, so the ladder's four rungs and a re-run cost one read each), and `frames_for_narration`
is the pure function that turns seconds into an LTX-2 frame count.

The estimate: `SYLLABLES_PER_SECOND` = 6.5. Korean is syllable-timed and every Hangul block is one syllable;
Korean TTS voices (and news readers) speak about 6 to 7 syllables a second, and community-post narration in
Shorts is read briskly, so the middle of that range. Latin letters and digits count as one syllable each
("CCTV" is read 씨씨티비), spaces and punctuation as none; each break between lines adds `LINE_PAUSE_S`, the
gap a TTS engine leaves between separately synthesised lines.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from ai_worker.core.errors import InvalidClipError
from ai_worker.media.probe import audio_duration
from ai_worker.model.clip_sizes import FRAME_STEP, MIN_FRAMES, frames_for
from ai_worker.model.scene import SceneDecision, TextLine, line_text

logger = logging.getLogger(__name__)

SYLLABLES_PER_SECOND = 6.5
LINE_PAUSE_S = 0.25
MIN_CLIP_SECONDS = 2.0
"""The shortest clip a narrated scene gets: a one-word line still needs a shot that reads as one."""

NarrationSource = Literal["audio", "audio+estimate", "estimate", "none"]


@dataclass(frozen=True)
class NarrationLength:
    """A scene's narration: seconds, where the number came from, and what went wrong reading audio."""

    seconds: float | None
    source: NarrationSource
    detail: str = ""


def spoken_units(text: str) -> int:
    """Syllables a Korean TTS voice speaks for `text`: Hangul blocks, Latin letters and digits."""
    return sum(1 for char in text if ("\uac00" <= char <= "\ud7a3") or (char.isascii() and char.isalnum()))


def estimate_seconds(texts: Sequence[str]) -> float:
    """Seconds a TTS voice needs for these lines, at `SYLLABLES_PER_SECOND` with a pause between lines."""
    spoken = [text for text in texts if spoken_units(text) > 0]
    if not spoken:
        return 0.0
    units = sum(spoken_units(text) for text in spoken)
    return units / SYLLABLES_PER_SECOND + LINE_PAUSE_S * (len(spoken) - 1)


@lru_cache(maxsize=1024)
def _cached_audio_seconds(path: str, size: int, mtime_ns: int) -> float | str:
    """Seconds, or why the file is unusable (failures are cached too: every rung asks, one warning is enough)."""
    del size, mtime_ns  # part of the cache key only: a rewritten file is read again
    try:
        return audio_duration(Path(path))
    except InvalidClipError as exc:
        logger.warning("narration audio unusable, estimating from the text instead: %s", exc)
        return str(exc)


def audio_seconds(path: Path) -> float:
    """`probe.audio_duration`, read once per file version. Raises `InvalidClipError` like it."""
    try:
        stat = path.stat()
    except OSError as exc:
        logger.warning("narration audio %s unreadable (%s): estimating from the text", path, exc.strerror or exc)
        raise InvalidClipError(f"{path}: cannot read narration audio ({exc.strerror or exc})") from exc
    seconds = _cached_audio_seconds(str(path), stat.st_size, stat.st_mtime_ns)
    if isinstance(seconds, str):
        raise InvalidClipError(seconds)
    return seconds


def _audio_path(line: TextLine) -> str | None:
    if isinstance(line, dict):
        audio = line.get("audio")
        return audio if audio else None
    return None


def narration_length(scene: SceneDecision) -> NarrationLength:
    """The scene's narration length: audio durations summed (lines without audio, or with unreadable audio,
    estimated from their text), else the estimate alone; `none` when the scene has nothing to say."""
    audio_total = 0.0
    estimated: list[str] = []
    problems: list[str] = []
    audio_lines = 0
    for line in scene.text_lines:
        audio = _audio_path(line)
        if audio is None:
            estimated.append(line_text(line))
            continue
        try:
            audio_total += audio_seconds(Path(audio))
            audio_lines += 1
        except InvalidClipError as exc:
            problems.append(str(exc))
            estimated.append(line_text(line))
    guess = estimate_seconds(estimated)
    detail = "; ".join(problems)
    if audio_lines:
        if guess:
            # The voiced lines' own gaps are in their audio; one pause joins them to the estimated ones.
            return NarrationLength(audio_total + LINE_PAUSE_S + guess, "audio+estimate", detail)
        return NarrationLength(audio_total, "audio", detail)
    if guess:
        return NarrationLength(guess, "estimate", detail)
    return NarrationLength(None, "none", detail)


def snap_frames_up(frames: int) -> int:
    """The smallest LTX-2 frame count (1 + 8k, at least 9) holding `frames` frames."""
    steps = math.ceil(max(frames - 1, 0) / FRAME_STEP)
    return max(MIN_FRAMES, 1 + FRAME_STEP * steps)


def snap_frames_down(frames: int) -> int:
    """The largest LTX-2 frame count (1 + 8k, at least 9) not above `frames`."""
    return max(MIN_FRAMES, 1 + FRAME_STEP * ((max(frames, 1) - 1) // FRAME_STEP))


def frames_for_narration(seconds: float, fps: int) -> int:
    """Frames that cover `seconds` at `fps`, rounded up to 1 + 8k (uncapped: the caller caps per rung).

    >>> [frames_for_narration(s, 24) for s in (4.0, 5.0, 6.0, 7.0)]
    [97, 121, 145, 169]
    """
    return snap_frames_up(frames_for(seconds, fps))


def min_narration_frames(fps: int) -> int:
    """The floor for a narrated clip: `MIN_CLIP_SECONDS` at `fps`."""
    return frames_for_narration(MIN_CLIP_SECONDS, fps)


def resolve_audio_paths(scenes: Sequence[SceneDecision], base_dir: Path) -> None:
    """Make every line's relative audio path absolute against `base_dir` (the post file's folder, where the
    post file format says they are relative to), so `narration_length` finds them from anywhere."""
    for scene in scenes:
        for line in scene.text_lines:
            audio = _audio_path(line)
            if isinstance(line, dict) and audio is not None and not Path(audio).is_absolute():
                line["audio"] = str(base_dir / audio)
