"""Post-processing: exact argument lists from the pure builders, and real FFmpeg runs on tiny generated
clips, each output probed (frames, size, fps, duration)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from ai_worker.core.errors import FFmpegError, InvalidClipError
from ai_worker.media import codec_choice
from ai_worker.media.ffmpeg_runner import run_ffmpeg
from ai_worker.media.probe import probe_clip
from ai_worker.media.video_utils import (
    NVENC_PROBE_ARGS,
    build_copy_args,
    build_render_args,
    build_transcode_args,
    build_video_filter,
    fitted_box,
    frames_for,
    libx264_args,
    loop_or_trim_clip,
    normalize_clip_format,
    nvenc_args,
    prepare_clip_for_render,
    resize_clip_to_layout,
    validate_frame_count,
    validate_resolution,
)

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "23"]
SOURCE_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
LONG_WITH_SOUND = ["-f", "lavfi", "-i", "testsrc2=s=96x64:r=24", "-f", "lavfi", "-i", "sine=d=2",
                   "-frames:v", "48", *SOURCE_X264, "-c:a", "aac"]  # fmt: skip
COVER_1080 = "fps=24,crop='min(iw,ih*1080/1920)':'min(ih,iw*1920/1080)',scale=1080:1920,setsar=1,format=yuv420p"


# --- pure functions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "valid"),
    [(1, 9), (5, 9), (9, 9), (12, 9), (13, 17), (17, 17), (20, 17), (21, 25), (96, 97), (97, 97), (100, 97),
     (101, 105), (121, 121), (1000, 1001)],
)  # fmt: skip
def test_validate_frame_count(asked: int, valid: int) -> None:
    assert validate_frame_count(asked) == valid
    assert (valid - 1) % 8 == 0


@pytest.mark.parametrize("bad", [0, -8, 9.0, True, "97"])
def test_validate_frame_count_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="frame count"):
        validate_frame_count(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("asked", "multiple", "valid"),
    [
        ((1280, 720), 32, (1280, 704)),  # a tie goes down, as ComfyUI and Lightricks' 720p workflows do
        ((768, 512), 32, (768, 512)),
        ((1000, 1010), 32, (992, 1024)),
        ((1, 40), 32, (64, 64)),
        ((5000, 100), 32, (2048, 96)),
        ((1280, 720), 64, (1280, 704)),
        ((1000, 900), 64, (1024, 896)),
        ((2047, 65), 64, (2048, 64)),
    ],
)
def test_validate_resolution(asked: tuple[int, int], multiple: int, valid: tuple[int, int]) -> None:
    assert validate_resolution(*asked, multiple=multiple) == valid


def test_validate_resolution_defaults_to_32() -> None:
    assert validate_resolution(720, 1280) == (704, 1280)


@pytest.mark.parametrize(("width", "height", "multiple"), [(0, 64, 32), (64, -1, 32), (64, 64, 8), (64.0, 64, 32)])
def test_validate_resolution_rejects(width: int, height: int, multiple: int) -> None:
    with pytest.raises(ValueError):
        validate_resolution(width, height, multiple=multiple)


@pytest.mark.parametrize(
    ("seconds", "fps", "frames"), [(6.3, 24, 152), (2.0, 24, 48), (0.1 * 3, 10, 3), (0.001, 24, 1), (1.01, 30, 31)]
)
def test_frames_for_never_falls_short(seconds: float, fps: int, frames: int) -> None:
    assert frames_for(seconds, fps) == frames
    assert frames / fps >= seconds - 1e-9


def test_fitted_box() -> None:
    assert fitted_box((900, 900), (1080, 1920)) == (1080, 1080)
    assert fitted_box((1920, 1080), (1080, 1920)) == (1080, 608)
    assert fitted_box((100, 400), (1080, 1920)) == (480, 1920)
    assert fitted_box((1080, 1920), (1080, 1920)) == (1080, 1920)


def test_build_video_filter_exact() -> None:
    assert build_video_filter() == "format=yuv420p"
    assert build_video_filter(fps=30) == "fps=30,format=yuv420p"
    assert build_video_filter(width=1080, height=1920, fps=24) == COVER_1080
    assert build_video_filter(width=1080, height=1920, fps=24, fit="contain") == (
        "fps=24,scale=1080:1920:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        "pad=1080:1920:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )
    assert build_video_filter(width=1080, height=1920, fps=24, area=(900, 900)) == (
        "fps=24,crop='min(iw,ih*900/900)':'min(ih,iw*900/900)',scale=1080:1080,"
        "pad=1080:1920:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )
    with pytest.raises(ValueError, match="fit"):
        build_video_filter(width=64, height=64, fit="stretch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="together"):
        build_video_filter(width=64)


def test_codec_args_exact() -> None:
    assert libx264_args() == X264
    assert libx264_args("veryfast", 18) == ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18"]
    assert nvenc_args() == ["-c:v", "h264_nvenc", "-preset", "p1", "-cq", "23"]
    assert list(NVENC_PROBE_ARGS) == [
        "-f", "lavfi", "-i", "nullsrc=s=256x256:d=0.1", "-c:v", "h264_nvenc", "-preset", "p1", "-f", "null", "-",
    ]  # fmt: skip


def test_build_transcode_args_exact() -> None:
    assert build_transcode_args(Path("/in/a.mp4"), video_filter="format=yuv420p", codec=X264) == [
        "-i", "/in/a.mp4", "-map", "0:v:0", "-vf", "format=yuv420p",
        "-an", "-sn", "-dn", *X264, "-movflags", "+faststart",
    ]  # fmt: skip
    assert build_transcode_args(Path("a.mp4"), video_filter="format=yuv420p", codec=X264, frames=30, loop=True) == [
        "-stream_loop", "-1", "-i", "a.mp4", "-map", "0:v:0", "-vf", "format=yuv420p", "-frames:v", "30",
        "-an", "-sn", "-dn", *X264, "-movflags", "+faststart",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="frame count"):
        build_transcode_args(Path("a.mp4"), video_filter="format=yuv420p", codec=X264, loop=True)


def test_build_copy_args_exact() -> None:
    assert build_copy_args(Path("a.mp4")) == [
        "-i", "a.mp4", "-map", "0:v:0", "-c", "copy", "-an", "-sn", "-dn", "-movflags", "+faststart",
    ]  # fmt: skip


def test_build_render_args_exact() -> None:
    assert build_render_args(Path("clip.mp4"), target_duration=6.3, codec=X264) == [
        "-stream_loop", "-1", "-i", "clip.mp4", "-map", "0:v:0", "-vf", COVER_1080, "-frames:v", "152",
        "-an", "-sn", "-dn", *X264, "-movflags", "+faststart",
    ]  # fmt: skip


# --- codec choice (real processes) ----------------------------------------------------------------------


@pytest.fixture
def fresh_codec_cache() -> object:
    codec_choice.reset_codec_cache()
    yield None
    codec_choice.reset_codec_cache()


def _fake_ffmpeg(path: Path, exit_code: int, log: Path) -> Path:
    path.write_text(f'#!/bin/sh\necho probe >> "{log}"\nexit {exit_code}\n')
    path.chmod(0o755)
    return path


async def test_codec_matches_what_the_bundled_ffmpeg_can_do(fresh_codec_cache: object) -> None:
    try:
        await run_ffmpeg(NVENC_PROBE_ARGS, timeout=30)
    except FFmpegError:
        expected = libx264_args("veryfast", 20)  # no NVENC here (CPU box, CI, Hopper): the fallback
    else:
        expected = nvenc_args()
    assert await codec_choice.resolve_intermediate_codec(preset="veryfast", crf=20) == expected


async def test_failing_nvenc_probe_falls_back_and_is_cached_per_binary(
    tmp_path: Path, fresh_codec_cache: object
) -> None:
    log = tmp_path / "calls.log"
    broken = _fake_ffmpeg(tmp_path / "ffmpeg-a", 1, log)
    first = await asyncio.gather(*(codec_choice.resolve_intermediate_codec(binary=broken) for _ in range(3)))
    assert first == [X264, X264, X264]
    assert await codec_choice.resolve_intermediate_codec(binary=broken, preset="fast", crf=30) == libx264_args(
        "fast", 30
    )
    assert log.read_text().splitlines() == ["probe"]  # one probe, however many asked

    working = _fake_ffmpeg(tmp_path / "ffmpeg-b", 0, log)
    assert await codec_choice.resolve_intermediate_codec(binary=working) == nvenc_args()
    assert len(log.read_text().splitlines()) == 2

    codec_choice.reset_codec_cache()
    await codec_choice.resolve_intermediate_codec(binary=broken)
    assert len(log.read_text().splitlines()) == 3


async def test_a_hanging_nvenc_probe_times_out_to_libx264(tmp_path: Path, fresh_codec_cache: object) -> None:
    hang = tmp_path / "ffmpeg"
    hang.write_text("#!/bin/sh\nexec sleep 60\n")
    hang.chmod(0o755)
    assert await codec_choice.resolve_intermediate_codec(binary=hang, timeout=0.3) == X264


# --- real clips -----------------------------------------------------------------------------------------


def _make(path: Path, args: list[str]) -> Path:
    asyncio.run(run_ffmpeg(args, timeout=60, output=path))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    x264 = SOURCE_X264
    return {
        # 9 frames at 24 fps: 0.375 s
        "short": _make(d / "short.mp4", ["-f", "lavfi", "-i", "testsrc2=s=64x64:r=24", "-frames:v", "9", *x264]),
        # 48 frames: 2 s, with a sound track that every output must drop
        "long": _make(d / "long.mp4", LONG_WITH_SOUND),
        # a flat white 2:1 picture, to see crops and pads in the pixels
        "white": _make(d / "white.mp4", ["-f", "lavfi", "-i", "color=c=white:s=128x64:r=24", "-frames:v", "9", *x264]),
        "audio": _make(d / "line.wav", ["-f", "lavfi", "-i", "sine=d=1"]),
        # containers without a frame count in their index
        "mkv": _make(d / "short.mkv", ["-f", "lavfi", "-i", "testsrc2=s=64x64:r=24", "-frames:v", "9", *x264]),
        "fragmented": _make(
            d / "fragmented.mp4",
            [
                "-f",
                "lavfi",
                "-i",
                "testsrc2=s=64x64:r=24",
                "-frames:v",
                "9",
                *x264,
                "-movflags",
                "frag_keyframe+empty_moov",
            ],
        ),
    }


def _first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return np.asarray(frame.to_ndarray(format="gray"))


def _assert_clip(path: Path, *, width: int, height: int, frames: int, fps: float) -> None:
    info = probe_clip(path)
    assert (info.width, info.height, info.frames, info.fps) == (width, height, frames, fps)
    assert info.duration == pytest.approx(frames / fps, abs=0.01)
    assert (info.codec, info.pix_fmt, info.has_audio) == ("h264", "yuv420p", False)


def _no_leftovers(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if ".part" in p.name] == []


async def test_prepare_loops_a_short_clip_to_cover_the_narration(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "ready.mp4"
    info = await prepare_clip_for_render(clips["short"], out, target_duration=1.01, width=64, height=96, codec=X264)
    _assert_clip(out, width=64, height=96, frames=25, fps=24.0)
    assert info.path == out
    assert info.frames == 25
    assert info.duration >= 1.01
    _no_leftovers(tmp_path)


async def test_prepare_trims_a_long_clip_and_changes_the_rate(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "ready.mp4"
    await prepare_clip_for_render(clips["long"], out, target_duration=0.5, width=32, height=32, fps=30, codec=X264)
    _assert_clip(out, width=32, height=32, frames=15, fps=30.0)


async def test_prepare_places_a_layout_area_on_the_canvas(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "ready.mp4"
    await prepare_clip_for_render(
        clips["white"], out, target_duration=0.25, width=64, height=128, area=(48, 48), codec=X264
    )
    _assert_clip(out, width=64, height=128, frames=6, fps=24.0)
    pixels = _first_frame(out)
    assert pixels[:28].max() < 40  # black above the 64x64 picture
    assert pixels[100:].max() < 40  # and below it
    assert pixels[36:92].min() > 215  # the picture itself, white edge to edge (covered, not padded)


async def test_prepare_with_the_renderer_defaults(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "ready.mp4"
    await prepare_clip_for_render(clips["short"], out, target_duration=0.2, codec=X264)
    _assert_clip(out, width=1080, height=1920, frames=5, fps=24.0)


@pytest.mark.parametrize("kind", ["mkv", "fragmented"])
async def test_prepare_loops_inputs_without_a_frame_index(clips: dict[str, Path], tmp_path: Path, kind: str) -> None:
    out = tmp_path / "ready.mp4"
    await prepare_clip_for_render(clips[kind], out, target_duration=1.3, width=32, height=48, codec=X264)
    _assert_clip(out, width=32, height=48, frames=32, fps=24.0)


async def test_prepare_resolves_the_codec_itself(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "ready.mp4"
    await prepare_clip_for_render(clips["short"], out, target_duration=0.5, width=32, height=32)
    _assert_clip(out, width=32, height=32, frames=12, fps=24.0)


async def test_resize_covers_the_layout_area(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "resized.mp4"
    info = await resize_clip_to_layout(clips["white"], out, 48, 48, 12, codec=X264)
    assert (info.width, info.height, info.fps) == (48, 48, 12.0)
    assert probe_clip(out).frames in (4, 5)  # 9 frames at 24 fps is 0.375 s at 12 fps
    assert _first_frame(out).min() > 215  # centre-cropped: no bars


async def test_resize_with_the_seed_defaults(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "resized.mp4"
    await resize_clip_to_layout(clips["long"], out, codec=X264)
    _assert_clip(out, width=900, height=900, frames=48, fps=24.0)


async def test_loop_or_trim_loops(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "looped.mp4"
    info = await loop_or_trim_clip(clips["short"], out, 1.0, codec=X264)
    _assert_clip(out, width=64, height=64, frames=24, fps=24.0)
    assert info.frames == 24


async def test_loop_or_trim_trims(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "trimmed.mp4"
    await loop_or_trim_clip(clips["long"], out, 1.0, codec=X264)
    _assert_clip(out, width=96, height=64, frames=24, fps=24.0)


async def test_loop_or_trim_copies_within_a_fifth_of_a_second(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "copied.mp4"
    await loop_or_trim_clip(clips["long"], out, 2.15, codec=X264)
    _assert_clip(out, width=96, height=64, frames=48, fps=24.0)
    with av.open(str(clips["long"])) as a, av.open(str(out)) as b:
        source = [bytes(p) for p in a.demux(video=0) if p.size]
        copied = [bytes(p) for p in b.demux(video=0) if p.size]
    assert copied == source  # the same packets: no re-encode


async def test_loop_or_trim_target_from_the_narration(clips: dict[str, Path], tmp_path: Path) -> None:
    from ai_worker.media.probe import audio_duration

    out = tmp_path / "fitted.mp4"
    await loop_or_trim_clip(clips["short"], out, audio_duration(clips["audio"]), codec=X264)
    _assert_clip(out, width=64, height=64, frames=24, fps=24.0)


async def test_normalize_pads_to_the_final_format(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "normal.mp4"
    await normalize_clip_format(clips["white"], out, 64, 64, 24, codec=X264)
    _assert_clip(out, width=64, height=64, frames=9, fps=24.0)
    pixels = _first_frame(out)
    assert pixels[:12].max() < 40 and pixels[-12:].max() < 40  # letterboxed: the whole 2:1 picture kept
    assert pixels[20:44].min() > 215


async def test_normalize_with_the_seed_defaults(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "normal.mp4"
    await normalize_clip_format(clips["short"], out, codec=X264)
    _assert_clip(out, width=1080, height=1920, frames=9, fps=24.0)


async def test_the_three_seed_passes_chain(clips: dict[str, Path], tmp_path: Path) -> None:
    await resize_clip_to_layout(clips["short"], tmp_path / "a.mp4", 48, 48, codec=X264)
    await loop_or_trim_clip(tmp_path / "a.mp4", tmp_path / "b.mp4", 0.75, codec=X264)
    await normalize_clip_format(tmp_path / "b.mp4", tmp_path / "c.mp4", 48, 96, codec=X264)
    _assert_clip(tmp_path / "c.mp4", width=48, height=96, frames=18, fps=24.0)


# --- bad input ------------------------------------------------------------------------------------------


@pytest.fixture
def bad_inputs(clips: dict[str, Path], tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp4"
    text.write_text("hello")
    whole = clips["short"].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 2])
    return {
        "missing": (tmp_path / "missing.mp4", "file not found"),
        "empty": (empty, "file is empty"),
        "text": (text, "not a readable media file"),
        "truncated": (truncated, "not a readable media file"),
        "audio only": (clips["audio"], "no video stream"),
    }


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "audio only"])
@pytest.mark.parametrize("operation", ["prepare", "resize", "loop_or_trim", "normalize"])
async def test_bad_input_is_named_and_leaves_nothing(
    bad_inputs: dict[str, tuple[Path, str]], tmp_path: Path, kind: str, operation: str
) -> None:
    source, problem = bad_inputs[kind]
    out = tmp_path / "out" / "clip.mp4"
    with pytest.raises(InvalidClipError) as caught:
        if operation == "prepare":
            await prepare_clip_for_render(source, out, target_duration=1.0, width=32, height=32, codec=X264)
        elif operation == "resize":
            await resize_clip_to_layout(source, out, 32, 32, codec=X264)
        elif operation == "loop_or_trim":
            await loop_or_trim_clip(source, out, 1.0, codec=X264)
        else:
            await normalize_clip_format(source, out, 32, 32, codec=X264)
    assert str(caught.value).startswith(f"{source}: ")
    assert problem in str(caught.value)
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize("duration", [0, -1.0, float("nan"), float("inf"), 7200.0])
async def test_bad_target_durations(clips: dict[str, Path], tmp_path: Path, duration: float) -> None:
    out = tmp_path / "clip.mp4"
    with pytest.raises(ValueError, match=rf"{out.name}: target duration"):
        await prepare_clip_for_render(clips["short"], out, target_duration=duration, codec=X264)
    with pytest.raises(ValueError, match="target duration"):
        await loop_or_trim_clip(clips["short"], out, duration, codec=X264)
    assert not out.exists()


@pytest.mark.parametrize(("width", "height", "problem"), [(0, 64, "out of range"), (64, 100_000, "out of range"),
                                                          (63, 64, "must be even"), (64.5, 64, "integer")])  # fmt: skip
async def test_absurd_sizes(clips: dict[str, Path], tmp_path: Path, width: int, height: int, problem: str) -> None:
    out = tmp_path / "clip.mp4"
    with pytest.raises(ValueError, match=problem):
        await prepare_clip_for_render(clips["short"], out, target_duration=1, width=width, height=height, codec=X264)
    with pytest.raises(ValueError, match=problem):
        await resize_clip_to_layout(clips["short"], out, width, height, codec=X264)
    with pytest.raises(ValueError, match=problem):
        await normalize_clip_format(clips["short"], out, width, height, codec=X264)
    assert not out.exists()


async def test_bad_fps(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps"):
        await prepare_clip_for_render(clips["short"], tmp_path / "c.mp4", target_duration=1, fps=0, codec=X264)


async def test_an_ffmpeg_failure_keeps_the_previous_clip(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"the clip from the last run")
    with pytest.raises(FFmpegError) as caught:
        await prepare_clip_for_render(
            clips["short"], out, target_duration=0.5, width=32, height=32, codec=["-c:v", "no_such_encoder"]
        )
    assert "no_such_encoder" in caught.value.stderr_tail
    assert out.read_bytes() == b"the clip from the last run"
    _no_leftovers(tmp_path)


async def test_an_output_that_is_not_what_was_asked_never_gets_its_name(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    # An encoder option that rescales behind the filter graph's back: FFmpeg succeeds, the check does not.
    sneaky = [*X264, "-s", "16x16"]
    with pytest.raises(InvalidClipError) as caught:
        await prepare_clip_for_render(clips["short"], out, target_duration=0.5, width=32, height=32, codec=sneaky)
    message = str(caught.value)
    assert message.startswith(f"{out}: FFmpeg produced a bad clip: ")
    assert "width 16, expected 32" in message
    assert not out.exists()
    _no_leftovers(tmp_path)


async def test_in_place_processing_replaces_the_input_only_when_done(clips: dict[str, Path], tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(clips["short"].read_bytes())
    await loop_or_trim_clip(clip, clip, 1.0, codec=X264)
    _assert_clip(clip, width=64, height=64, frames=24, fps=24.0)
    _no_leftovers(tmp_path)
