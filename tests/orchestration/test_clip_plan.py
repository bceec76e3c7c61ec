"""`plan_clip`: frame counts from the narration (real WAV files, the Korean estimate), sizes from the image's
aspect (real image files), and the reasons recorded for the manifest."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from PIL import Image

from ai_worker.media import narration, probe
from ai_worker.media.narration import (
    SYLLABLES_PER_SECOND,
    estimate_seconds,
    frames_for_narration,
    narration_length,
    resolve_audio_paths,
    spoken_units,
)
from ai_worker.model.scene import SceneDecision, TextLine
from ai_worker.orchestration.clip_plan import aspect_size, plan_clip
from ai_worker.orchestration.ladder import Rung, build_ladder
from config.settings import Settings


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"video_resolution": (1280, 720), "video_resolution_fallback": (768, 512),
                                 "video_recipe": "single-pass"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def _ladder(settings: Settings | None = None) -> tuple[Rung, ...]:
    return build_ladder(settings or _settings())


def _wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * round(seconds * rate))
    return path


def _scene(lines: list[TextLine], mode: str = "t2v", image: Path | None = None) -> SceneDecision:
    scene = SceneDecision(type="img_text" if image else "text_only", text_lines=lines)
    scene.video_mode = mode  # type: ignore[assignment]
    scene.video_init_image = str(image) if image else None
    return scene


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    narration._cached_audio_seconds.cache_clear()


# --- length -------------------------------------------------------------------------------------------------


def test_seven_seconds_of_audio_ask_169_frames_capped_per_rung(tmp_path: Path) -> None:
    first, second = _wav(tmp_path / "a.wav", 4.0), _wav(tmp_path / "b.wav", 3.0)
    scene = _scene([{"text": "첫 줄", "audio": str(first)}, {"text": "둘째 줄", "audio": str(second)}])
    settings = _settings()
    shapes = [plan_clip(scene, rung, settings) for rung in _ladder(settings)]
    assert [s.num_frames for s in shapes] == [145, 145, 73, 73]
    for shape in shapes:
        assert shape.frames_asked == 169
        assert shape.narration_seconds == pytest.approx(7.0, abs=0.01)
        assert shape.narration_source == "audio"
        record = shape.as_record()
        assert record["frames_asked"] == 169 and record["narration_seconds"] == pytest.approx(7.0, abs=0.01)
    assert shapes[0].frames_reason == (
        "narration 7.00 s (audio) -> 169 frames at 24 fps, capped to 145 (VIDEO_MAX_FRAMES, rung 1)"
    )
    assert "capped to 73 (VIDEO_MAX_FRAMES_FALLBACK, rung 3)" in shapes[2].frames_reason
    assert "capped to 73 (VIDEO_MAX_FRAMES_FALLBACK, rung 4)" in shapes[3].frames_reason
    assert shapes[0].as_record()["clip_seconds"] == pytest.approx(145 / 24, abs=0.001)


def test_frame_counts_round_up_to_cover_the_narration() -> None:
    assert [frames_for_narration(s, 24) for s in (4.0, 5.0, 6.0, 7.0)] == [97, 121, 145, 169]
    for seconds in (2.0, 2.01, 3.3, 4.5, 6.99):
        frames = frames_for_narration(seconds, 24)
        assert (frames - 1) % 8 == 0 and frames / 24 >= seconds and (frames - 8) / 24 < seconds
    assert frames_for_narration(4.0, 30) == 121


def test_shorter_narration_is_not_capped_and_settings_move_the_caps(tmp_path: Path) -> None:
    scene = _scene([{"text": "짧은 줄", "audio": str(_wav(tmp_path / "s.wav", 2.5))}])
    settings = _settings()
    assert [plan_clip(scene, r, settings).num_frames for r in _ladder(settings)] == [65, 65, 65, 65]
    wide = _settings(video_max_frames=200, video_max_frames_fallback=100)
    long_scene = _scene([{"text": "긴 줄", "audio": str(_wav(tmp_path / "l.wav", 9.0))}])
    # Caps are snapped down to 1 + 8k: 200 -> 193, 100 -> 97.
    assert [plan_clip(long_scene, r, wide).num_frames for r in _ladder(wide)] == [193, 193, 97, 97]


def test_no_narration_keeps_the_rungs_frame_counts() -> None:
    settings = _settings()
    for lines in ([], [""], ["  ...  "], [{"text": ""}]):
        shapes = [plan_clip(_scene(lines), r, settings) for r in _ladder(settings)]  # type: ignore[arg-type]
        assert [s.num_frames for s in shapes] == [97, 97, 65, 65]
        assert all(s.frames_asked is None and s.narration_source == "none" for s in shapes)
        assert shapes[0].frames_reason == "no narration: rung 1's 97 frames"


def test_korean_text_estimate_uses_the_stated_syllable_rate() -> None:
    assert SYLLABLES_PER_SECOND == 6.5
    assert spoken_units("비가 와서, 편의점에서 CCTV 봤음!") == 2 + 2 + 5 + 4 + 2
    line = "가" * 26
    assert estimate_seconds([line]) == pytest.approx(4.0)
    assert estimate_seconds([line, line]) == pytest.approx(8.25)  # a pause between lines
    settings = _settings()
    shape = plan_clip(_scene([line]), _ladder(settings)[0], settings)
    assert (shape.num_frames, shape.narration_source) == (97, "estimate")
    assert shape.frames_reason == "narration 4.00 s (estimate) -> 97 frames at 24 fps"


def test_a_word_or_two_still_gets_the_minimum_clip() -> None:
    settings = _settings()
    shape = plan_clip(_scene(["네"]), _ladder(settings)[0], settings)
    assert shape.frames_asked == 9 and shape.num_frames == 49
    assert "raised to the 49-frame minimum" in shape.frames_reason


def test_mixed_lines_add_audio_and_estimate_and_bad_audio_is_estimated(tmp_path: Path) -> None:
    audio = _wav(tmp_path / "a.wav", 3.0)
    mixed = narration_length(_scene([{"text": "가", "audio": str(audio)}, "가" * 13]))
    assert mixed.source == "audio+estimate"
    assert mixed.seconds == pytest.approx(3.0 + 0.25 + 2.0)
    two_text = narration_length(_scene(["가" * 13, {"text": "가", "audio": str(audio)}, "가" * 13]))
    assert two_text.seconds == pytest.approx(3.0 + 2 * 0.25 + 4.0)  # two pauses between three lines
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    scene = _scene([{"text": "가" * 26, "audio": str(broken)}, {"text": "나", "audio": str(tmp_path / "gone.wav")}])
    settings = _settings()
    shape = plan_clip(scene, _ladder(settings)[0], settings)
    assert shape.narration_source == "estimate"
    assert "broken.wav" in shape.frames_reason and "gone.wav" in shape.frames_reason


def test_audio_is_read_once_for_every_rung(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real = probe.audio_duration

    def counting(path: Path) -> float:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(narration, "audio_duration", counting)
    audio = _wav(tmp_path / "a.wav", 5.0)
    scene = _scene([{"text": "줄", "audio": str(audio)}])
    settings = _settings()
    for rung in _ladder(settings):
        plan_clip(scene, rung, settings)
    assert calls == [audio]
    _wav(audio, 6.0)  # rewritten by TTS: read again
    assert plan_clip(scene, _ladder(settings)[0], settings).narration_seconds == pytest.approx(6.0)
    assert len(calls) == 2


# --- size ---------------------------------------------------------------------------------------------------


def _image(path: Path, size: tuple[int, int], orientation: int | None = None) -> Path:
    image = Image.new("RGB", size, (120, 90, 60))
    if orientation is None:
        image.save(path)
    else:
        exif = image.getexif()
        exif[0x0112] = orientation
        image.save(path, exif=exif)
    return path


@pytest.mark.parametrize(
    ("size", "rung1", "rung3", "shape"),
    [
        ((720, 960), (832, 1088), (544, 736), "portrait"),
        ((1000, 1000), (960, 960), (640, 640), "square"),
        ((1600, 900), (1280, 704), (768, 512), "landscape"),
        ((600, 1800), (704, 1280), (512, 768), "portrait"),
        ((2000, 1500), (1088, 832), (736, 544), "landscape"),
    ],
)
def test_i2v_size_follows_the_image_aspect(
    tmp_path: Path, size: tuple[int, int], rung1: tuple[int, int], rung3: tuple[int, int], shape: str
) -> None:
    photo = _image(tmp_path / "p.jpg", size)
    settings = _settings()
    ladder = _ladder(settings)
    first, third = plan_clip(_scene(["말"], "i2v", photo), ladder[0], settings), plan_clip(
        _scene(["말"], "i2v", photo), ladder[2], settings
    )
    assert (first.width, first.height) == rung1 and (third.width, third.height) == rung3
    assert f"{shape} image {size[0]}x{size[1]} -> {rung1[0]}x{rung1[1]}" in first.size_reason
    for plan, base in ((first, 1280 * 704), (third, 768 * 512)):
        assert plan.width % 32 == 0 and plan.height % 32 == 0
        assert abs(plan.width * plan.height - base) / base < 0.12


def test_exif_rotated_photo_is_planned_upright(tmp_path: Path) -> None:
    photo = _image(tmp_path / "r.jpg", (960, 720), orientation=6)
    settings = _settings()
    plan = plan_clip(_scene(["말"], "i2v", photo), _ladder(settings)[0], settings)
    assert (plan.width, plan.height) == (832, 1088)


def test_t2v_and_unreadable_images_keep_the_rung_size(tmp_path: Path) -> None:
    settings = _settings()
    ladder = _ladder(settings)
    photo = _image(tmp_path / "p.jpg", (720, 960))
    t2v = plan_clip(_scene(["말"], "t2v", photo), ladder[0], settings)
    assert (t2v.width, t2v.height) == (1280, 704)
    assert t2v.size_reason == "text-to-video: rung 1 size 1280x704"
    assert (plan_clip(_scene(["말"]), ladder[3], settings).width, ladder[3].height) == (768, 512)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"<html>")
    plan = plan_clip(_scene(["말"], "i2v", broken), ladder[0], settings)
    assert (plan.width, plan.height) == (1280, 704)
    assert "image size unreadable" in plan.size_reason and "broken.jpg" in plan.size_reason


def test_aspect_size_is_clamped_to_the_base_elongation() -> None:
    assert aspect_size(4000, 100, 1280, 720) == (1280, 704)
    assert aspect_size(100, 4000, 1280, 720) == (704, 1280)


def test_relative_audio_paths_resolve_against_the_post_folder(tmp_path: Path) -> None:
    (tmp_path / "tts").mkdir()
    _wav(tmp_path / "tts" / "a.wav", 7.0)
    absolute = str(tmp_path / "tts" / "a.wav")
    scene = _scene([{"text": "줄", "audio": "tts/a.wav"}, "글", {"text": "둘", "audio": absolute}])
    resolve_audio_paths([scene], tmp_path)
    assert scene.text_lines == [{"text": "줄", "audio": absolute}, "글", {"text": "둘", "audio": absolute}]
    assert narration_length(scene).seconds == pytest.approx(14.0 + 0.25 + 1 / 6.5, abs=0.01)
