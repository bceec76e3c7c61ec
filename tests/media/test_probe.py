"""Probing clips and narration audio with PyAV, on real files made by real FFmpeg."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ai_worker.core.errors import InvalidClipError, MediaError
from ai_worker.media.ffmpeg_runner import run_ffmpeg
from ai_worker.media.probe import ClipInfo, audio_duration, probe_clip, validate_clip

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
WITH_AUDIO = ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=24", "-f", "lavfi", "-i", "sine=d=1",
              "-frames:v", "24", *X264, "-c:a", "aac"]  # fmt: skip


def _make(path: Path, args: list[str]) -> Path:
    asyncio.run(run_ffmpeg(args, timeout=60, output=path))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every kind of file the probes meet, made once for the module."""
    d = tmp_path_factory.mktemp("probe")
    clip9 = ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=24", "-frames:v", "9", *X264]
    files = {
        "mp4": _make(d / "clip.mp4", [*clip9, "-movflags", "+faststart"]),
        "moov_at_end": _make(d / "moov_at_end.mp4", clip9),
        "mkv": _make(d / "clip.mkv", clip9),
        "fragmented": _make(d / "fragmented.mp4", [*clip9, "-movflags", "frag_keyframe+empty_moov"]),
        "with_audio": _make(d / "with_audio.mp4", WITH_AUDIO),
        "wav": _make(d / "line.wav", ["-f", "lavfi", "-i", "sine=d=1.5"]),
        "mp3": _make(d / "line.mp3", ["-f", "lavfi", "-i", "sine=d=1.5"]),
        "mp3_no_header": _make(d / "bare.mp3", ["-f", "lavfi", "-i", "sine=d=1.5", "-write_xing", "0"]),
        "silent_wav": _make(d / "silent.wav", ["-f", "lavfi", "-i", "anullsrc=r=8000", "-t", "0"]),
        "huge": _make(
            d / "huge.nut",
            ["-f", "lavfi", "-i", "color=c=gray:s=16400x2", "-frames:v", "1", "-c:v", "rawvideo", "-pix_fmt", "gray"],
        ),
    }
    whole = files["mp4"].read_bytes()
    files["truncated"] = d / "truncated.mp4"
    files["truncated"].write_bytes(whole[: len(whole) * 2 // 3])
    tail = files["moov_at_end"].read_bytes()
    files["truncated_no_index"] = d / "truncated_no_index.mp4"
    files["truncated_no_index"].write_bytes(tail[: len(tail) * 2 // 3])
    files["empty"] = d / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.mp4"
    files["text"].write_text("not a video at all\n")
    return files


def test_probe_reads_an_mp4(media: dict[str, Path]) -> None:
    info = probe_clip(media["mp4"])
    assert info == ClipInfo(
        path=media["mp4"],
        duration=0.375,
        frames=9,
        fps=24.0,
        width=64,
        height=48,
        codec="h264",
        pix_fmt="yuv420p",
        has_audio=False,
        size_bytes=media["mp4"].stat().st_size,
    )


@pytest.mark.parametrize("kind", ["mkv", "fragmented"])
def test_probe_counts_frames_when_the_container_does_not_say(media: dict[str, Path], kind: str) -> None:
    info = probe_clip(media[kind])
    assert (info.frames, info.width, info.height, info.fps) == (9, 64, 48, 24.0)
    assert info.duration == pytest.approx(0.375, abs=0.01)


def test_probe_sees_audio(media: dict[str, Path]) -> None:
    info = probe_clip(media["with_audio"])
    assert info.has_audio
    assert info.frames == 24
    assert info.duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("empty", "file is empty"),
        ("text", "not a readable media file"),
        ("truncated_no_index", "not a readable media file"),
        ("wav", "no video stream (has audio)"),
        ("huge", "absurd frame size 16400x2"),
    ],
)
def test_bad_clips_are_named_with_their_problem(media: dict[str, Path], kind: str, problem: str) -> None:
    with pytest.raises(InvalidClipError) as caught:
        probe_clip(media[kind])
    assert str(caught.value).startswith(f"{media[kind]}: ")
    assert problem in str(caught.value)
    assert isinstance(caught.value, MediaError)


def test_missing_and_non_file_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidClipError, match="file not found"):
        probe_clip(tmp_path / "missing.mp4")
    with pytest.raises(InvalidClipError, match="not a regular file"):
        probe_clip(tmp_path)


def test_validate_accepts_a_complete_clip(media: dict[str, Path]) -> None:
    info = validate_clip(media["mp4"], width=64, height=48, min_frames=9, fps=24, min_duration=0.375, allow_audio=False)
    assert info.frames == 9
    assert validate_clip(media["mkv"], min_frames=9).frames == 9


def test_validate_catches_a_truncated_clip_whose_index_promises_every_frame(media: dict[str, Path]) -> None:
    assert probe_clip(media["truncated"]).frames == 9  # the index alone still says 9
    with pytest.raises(InvalidClipError, match=r"truncated: its index lists 9 frames but only \d are there"):
        validate_clip(media["truncated"])


def test_validate_lists_every_mismatch(media: dict[str, Path]) -> None:
    with pytest.raises(InvalidClipError) as caught:
        validate_clip(
            media["with_audio"], width=32, height=48, min_frames=25, fps=30, min_duration=2.0, allow_audio=False
        )
    message = str(caught.value)
    assert message.startswith(f"{media['with_audio']}: ")
    for part in (
        "width 64, expected 32",
        "24 frames, expected at least 25",
        "24 fps, expected 30",
        "1.000 s long, expected at least 2.000 s",
        "has an audio stream, expected none",
    ):
        assert part in message
    assert "height" not in message


@pytest.mark.parametrize(("kind", "seconds", "tolerance"), [("wav", 1.5, 0.001), ("mp3", 1.5, 0.06),
                                                             ("mp3_no_header", 1.5, 0.06)])  # fmt: skip
def test_audio_duration(media: dict[str, Path], kind: str, seconds: float, tolerance: float) -> None:
    assert audio_duration(media[kind]) == pytest.approx(seconds, abs=tolerance)


def test_audio_duration_of_a_clip_with_sound(media: dict[str, Path]) -> None:
    assert audio_duration(media["with_audio"]) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("mp4", "no audio stream"),
        ("silent_wav", "zero or unknown duration"),
        ("empty", "file is empty"),
        ("text", "not a readable media file"),
    ],
)
def test_bad_audio_is_named_with_its_problem(media: dict[str, Path], kind: str, problem: str) -> None:
    with pytest.raises(InvalidClipError) as caught:
        audio_duration(media[kind])
    assert str(caught.value).startswith(f"{media[kind]}: ")
    assert problem in str(caught.value)


def test_audio_duration_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidClipError, match=r"missing\.wav: file not found"):
        audio_duration(tmp_path / "missing.wav")
