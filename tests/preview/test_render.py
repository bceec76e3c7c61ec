"""The preview built for real: FFmpeg, real clips and narration, the result probed and its frames decoded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from ai_worker.core.errors import InputError
from ai_worker.media.probe import probe_clip
from ai_worker.model.styles import VideoStyles, load_video_styles
from ai_worker.preview.render import PREVIEW_NAME, build_preview
from ai_worker.preview.text import find_korean_font
from config.settings import Settings
from tests.fakes.settings import tiny_clip_settings
from tests.preview.post_folder import (
    NARRATION_SECONDS,
    PostFolder,
    expected_line_frames,
    files_outside,
    make_post_folder,
)

needs_font = pytest.mark.skipif(find_korean_font(None) is None, reason="no font with Hangul installed")


def _settings(**values: Any) -> Settings:
    return tiny_clip_settings(ffmpeg_timeout=120.0, **values)


@pytest.fixture
def styles() -> VideoStyles:
    return load_video_styles(Settings(_env_file=None).video_styles_path)


def _expected_frames(post: PostFolder, fps: int) -> list[int]:
    """Each final scene's frames, from the spec's timing rule (not from the code under test)."""
    frames = []
    for final in post.manifest.final_scenes:
        total = 0
        for line in final.text_lines:
            if isinstance(line, dict) and line.get("audio"):
                total += expected_line_frames(line["text"], fps, NARRATION_SECONDS)
            else:
                total += expected_line_frames(line if isinstance(line, str) else line["text"], fps)
        frames.append(total)
    return frames


def _frame(path: Path, index: int) -> np.ndarray[Any, Any]:
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                pixels: np.ndarray[Any, Any] = frame.to_ndarray(format="rgb24")
                return pixels
    raise AssertionError(f"{path} has no frame {index}")


def _audio_seconds(path: Path) -> float | None:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        assert stream.duration is not None and stream.time_base is not None
        return float(stream.duration * stream.time_base)


@needs_font
async def test_full_size_preview_is_probed_and_the_subtitles_are_really_drawn(
    tmp_path: Path, styles: VideoStyles
) -> None:
    post = make_post_folder(tmp_path)
    settings = _settings()
    result = await build_preview(post.folder, settings, styles)
    info = probe_clip(result.path)
    expected = _expected_frames(post, 24)
    assert (info.width, info.height, info.fps, info.codec) == (1080, 1920, 24.0, "h264")
    assert [scene.frames for scene in result.plan.scenes] == expected
    assert info.frames == sum(expected)
    assert info.has_audio
    audio = _audio_seconds(result.path)
    assert audio is not None and abs(audio - info.duration) <= 1 / 24
    assert [p.how for p in result.pictures] == ["fitted", "fitted", "card"]
    assert result.pictures[2].card_reason is not None and "static" in result.pictures[2].card_reason

    # The same preview without subtitles differs in the subtitle band at a line's midpoint, and only there.
    line = result.plan.scenes[1].lines[1]
    middle = (line.start_frame + line.end_frame) // 2
    with_text = _frame(result.path, middle)
    plain_dir = tmp_path / "plain"
    plain = make_post_folder(plain_dir)
    bare = await build_preview(plain.folder, settings, styles, subtitles=False)
    without = _frame(bare.path, middle)
    band = slice(1920 // 2, 1920 * 3 // 4)
    diff = np.abs(with_text[band].astype(int) - without[band].astype(int)).mean()
    top = np.abs(with_text[:200].astype(int) - without[:200].astype(int)).mean()
    assert diff > 8, f"subtitle band differs by only {diff:.2f}"
    assert top < 2, f"the title band should be the same with and without subtitles ({top:.2f})"


async def test_missing_and_corrupt_clips_become_cards_and_nothing_is_written_outside(
    tmp_path: Path, styles: VideoStyles
) -> None:
    post = make_post_folder(tmp_path)
    Path(post.manifest.final_scenes[0].clip_path or "").unlink()
    Path(post.manifest.final_scenes[1].clip_path or "").write_bytes(b"\x00\x00\x00 not an mp4 at all" * 100)
    before = files_outside(tmp_path, post.folder)
    result = await build_preview(post.folder, _settings(preview_size=(270, 480)), styles)
    assert files_outside(tmp_path, post.folder) == before
    assert [p.how for p in result.pictures] == ["card", "card", "card"]
    reasons = [p.card_reason or "" for p in result.pictures]
    assert "file not found" in reasons[0]
    assert "not a readable media file" in reasons[1] or "unreadable" in reasons[1]
    info = probe_clip(post.folder / PREVIEW_NAME)
    assert (info.width, info.height) == (270, 480)
    assert info.frames == sum(_expected_frames(post, 24)), "no scene is skipped, every line is on screen"


async def test_second_preview_reuses_fitted_clips_and_uses_a_fitting_clip_as_is(
    tmp_path: Path, styles: VideoStyles
) -> None:
    post = make_post_folder(tmp_path)
    settings = _settings(preview_size=(270, 480), preview_area="full", preview_background="color")
    first = await build_preview(post.folder, settings, styles)
    assert [p.how for p in first.pictures][:2] == ["fitted", "fitted"]
    again = await build_preview(post.folder, settings, styles)
    assert [p.how for p in again.pictures][:2] == ["reused", "reused"]
    assert again.pictures[0].segment.path == first.pictures[0].segment.path
    # A fitted part is already the right shape: pointed at directly, it is used as it is (no re-encode).
    manifest = post.store.load()
    assert manifest is not None
    manifest.final_scenes[0].clip_path = str(first.pictures[0].segment.path)
    post.store.save(manifest)
    third = await build_preview(post.folder, settings, styles)
    assert third.pictures[0].how == "as is"
    assert probe_clip(third.path).frames == first.plan.total_frames


async def test_no_audio_anywhere_means_no_audio_stream(tmp_path: Path, styles: VideoStyles) -> None:
    post = make_post_folder(tmp_path)
    manifest = post.store.load()
    assert manifest is not None
    for record in manifest.scenes:
        record.text_lines = [line if isinstance(line, str) else line["text"] for line in record.text_lines]
    for final in manifest.final_scenes:
        final.text_lines = [line if isinstance(line, str) else line["text"] for line in final.text_lines]
    post.store.save(manifest)
    result = await build_preview(post.folder, _settings(preview_size=(270, 480)), styles)
    assert not probe_clip(result.path).has_audio
    assert not result.plan.has_audio


async def test_unreadable_narration_is_timed_by_its_text_and_said(tmp_path: Path, styles: VideoStyles) -> None:
    post = make_post_folder(tmp_path)
    audio = tmp_path / "inputs" / "tts" / "line.wav"
    audio.write_bytes(b"RIFF nonsense")
    result = await build_preview(post.folder, _settings(preview_size=(270, 480)), styles)
    line = result.plan.scenes[1].lines[0]
    assert line.audio is None and line.note is not None
    assert line.end_frame - line.start_frame == expected_line_frames("목소리가 있는 줄", 24)
    assert any("narration not used" in note for note in result.notes)


async def test_a_folder_without_manifest_is_a_clear_input_error(tmp_path: Path, styles: VideoStyles) -> None:
    with pytest.raises(InputError, match=r"no manifest\.json"):
        await build_preview(tmp_path, _settings(), styles)
    assert list(tmp_path.iterdir()) == []
