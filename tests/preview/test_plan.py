"""The preview's timing, layout and composition graph as exact values (pure: no FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_worker.core.errors import InvalidClipError
from ai_worker.model.manifest import FinalScene, Manifest, SceneRecord
from ai_worker.preview.compose import AudioPart, Overlay, Segment, build_compose_args, merge_silence
from ai_worker.preview.plan import (
    PreviewPlan,
    estimate_line_seconds,
    make_layout,
    plan_preview,
    story_scenes,
)


def test_estimate_counts_syllables_not_spaces_or_punctuation() -> None:
    assert estimate_line_seconds("가나다라마바사아자차카타파") == pytest.approx(2.0)  # 13 syllables at 6.5/s
    assert estimate_line_seconds("가 나 다, 라!  마바사아자차카타파...") == pytest.approx(2.0)
    assert estimate_line_seconds("응") == 1.0  # never shorter than a readable second


def test_box_layout_is_the_renderers_box_centred_in_the_upper_half() -> None:
    layout = make_layout((1080, 1920), 24)
    assert (layout.area.width, layout.area.height) == (820, 462)
    assert layout.area.x == (1080 - 820) // 2
    assert layout.area.y + layout.area.height / 2 == pytest.approx(960 / 2, abs=1)
    assert layout.subtitle.y >= 960 and layout.background == "blur"
    full = make_layout((1080, 1920), 24, area="full")
    assert (full.area.x, full.area.y, full.area.width, full.area.height) == (0, 0, 1080, 1920)
    small = make_layout((270, 480), 24)
    assert small.area.width in (204, 206) and small.area.width % 2 == 0 and small.area.height % 2 == 0


def _manifest() -> Manifest:
    return Manifest(
        post_id="p",
        scenes=[
            SceneRecord(index=0, fingerprint="a", type="intro", status="failed", merged_into=1),
            SceneRecord(index=1, fingerprint="b", type="img_text", status="done", clip_path="/c/1.mp4",
                        image_path="/i/1.jpg", merged_from=[0]),
            SceneRecord(index=2, fingerprint="c", type="outro", status="skipped", skip_reason="static"),
        ],
        final_scenes=[
            FinalScene(clip_path="/c/1.mp4", source_indices=[0, 1], type="img_text",
                       text_lines=["가나다라마바사아자차카타파", {"text": "x", "audio": "/a.wav"}]),
            FinalScene(clip_path=None, text_lines=[], source_indices=[2], type="outro"),
        ],
    )


def test_plan_times_lines_on_the_frame_grid_and_keeps_every_scene() -> None:
    plan = plan_preview(_manifest(), fps=24, audio_seconds=lambda p: 1.01, clip_problem=lambda p: None)
    first, second = plan.scenes
    assert first.scene_index == 1 and first.image == Path("/i/1.jpg")
    assert [(line.start_frame, line.end_frame) for line in first.lines] == [(0, 48), (48, 73)]  # 2 s; ceil(24.24)
    assert first.lines[1].audio == Path("/a.wav")
    assert second.card_reason == "static: static" and second.frames == 48 and second.start_frame == 73
    assert plan.total_frames == 121 and plan.has_audio
    assert plan.samples(73) == 146000


def test_plan_turns_an_unreadable_clip_or_narration_into_a_card_and_a_note() -> None:
    def bad_audio(path: Path) -> float:
        raise InvalidClipError(f"{path}: no audio stream")

    plan = plan_preview(_manifest(), fps=24, audio_seconds=bad_audio, clip_problem=lambda p: "file not found")
    assert plan.scenes[0].clip is None and plan.scenes[0].card_reason == "clip unusable: file not found"
    line = plan.scenes[0].lines[1]
    assert line.audio is None and line.note is not None and "no audio stream" in line.note
    assert not plan.has_audio


def test_story_without_final_scenes_shows_every_scene() -> None:
    manifest = _manifest()
    manifest.final_scenes = []
    assert [record.index for _, record in story_scenes(manifest) if record] == [0, 1, 2]


def test_merge_silence_joins_neighbours_and_keeps_every_sample() -> None:
    parts = [AudioPart(10), AudioPart(5), AudioPart(7, Path("a.wav")), AudioPart(0), AudioPart(3), AudioPart(4)]
    merged = merge_silence(parts)
    assert merged == [AudioPart(15), AudioPart(7, Path("a.wav")), AudioPart(7)]
    assert sum(p.samples for p in merged) == sum(p.samples for p in parts)


def test_compose_args_stop_at_the_exact_frame_and_time_overlays_by_frame() -> None:
    layout = make_layout((270, 480), 24)
    args = build_compose_args(
        layout,
        [Segment(Path("a.mp4"), 30), Segment(Path("card.png"), 18, still=True)],
        [Overlay(Path("t.png"), 1, 2), Overlay(Path("s.png"), 3, 4, 10, 20)],
        [AudioPart(20000, Path("n.wav")), AudioPart(76000)],
        colour="#112233",
        codec=["-c:v", "libx264"],
    )
    assert args[args.index("-frames:v") + 1] == "48"
    graph = args[args.index("-filter_complex") + 1]
    assert "concat=n=2:v=1:a=0" in graph and "between(n,10,19)" in graph
    assert "apad=whole_len=20000,atrim=end_sample=20000" in graph and "atrim=end_sample=76000" in graph
    assert args[: args.index("card.png") + 1][-6:] == ["-loop", "1", "-framerate", "24", "-i", "card.png"]
    assert "[aout]" in args


def test_compose_without_narration_has_no_audio_output() -> None:
    layout = make_layout((270, 480), 24, area="full")
    args = build_compose_args(layout, [Segment(Path("a.mp4"), 5)], [], [AudioPart(10000)], colour="#000000",
                              codec=["-c:v", "libx264"])
    assert "[aout]" not in args and "[cat]null[base]" in args[args.index("-filter_complex") + 1]


def test_plan_seconds() -> None:
    assert PreviewPlan("t", "daily", (), 24, 36).seconds == 1.5
