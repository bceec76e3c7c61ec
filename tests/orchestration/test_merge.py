"""Merging failed scenes (docs/spec.md, 10, with docs/design.md's fixes): no line is ever lost or reordered."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ai_worker.media.local_backend import LocalBackend
from ai_worker.model.scene import SceneDecision, TextLine
from ai_worker.orchestration.conductor import VideoManager
from ai_worker.orchestration.events import VideoGenerationResult
from ai_worker.orchestration.merge import apply_merge, plan_merge
from config.settings import Settings


def _scenes(count: int) -> list[SceneDecision]:
    return [
        SceneDecision(
            type="img_text" if i % 2 else "text_only",
            text_lines=[f"s{i}a", {"text": f"s{i}b", "audio": f"{i}.wav"}],
            video_mode="t2v",
            video_prompt=f"prompt {i}",
        )
        for i in range(count)
    ]


def _results(pattern: str) -> list[VideoGenerationResult]:
    """'S' success, 'F' failure, '-' skipped (static scene)."""
    return [VideoGenerationResult(scene_index=i, success=c == "S", skipped=c == "-") for i, c in enumerate(pattern)]


def _merge(pattern: str) -> tuple[list[SceneDecision], list[VideoGenerationResult], list[SceneDecision]]:
    scenes = _scenes(len(pattern))
    original = list(scenes)
    results = _results(pattern)
    manager = VideoManager(comfy_client=LocalBackend(), prompt_engine=None, config=Settings(_env_file=None))
    manager._merge_failed_scenes(scenes, results)
    return scenes, results, original


def _all_lines(scenes: list[SceneDecision]) -> list[TextLine]:
    return [line for scene in scenes for line in scene.text_lines]


def test_seed_example_two_middle_failures_go_to_the_previous_success() -> None:
    scenes, results, original = _merge("SFFS")
    assert scenes == [original[0], original[3]]
    assert scenes[0].text_lines == [
        "s0a",
        {"text": "s0b", "audio": "0.wav"},
        "s1a",
        {"text": "s1b", "audio": "1.wav"},
        "s2a",
        {"text": "s2b", "audio": "2.wav"},
    ]
    assert [r.merged_into for r in results] == [None, 0, 0, None]


def test_first_scene_failing_is_prepended_to_the_next_success() -> None:
    scenes, results, _ = _merge("FS")
    assert len(scenes) == 1
    assert [line if isinstance(line, str) else line["text"] for line in scenes[0].text_lines] == [
        "s0a",
        "s0b",
        "s1a",
        "s1b",
    ]
    assert results[0].merged_into == 1


def test_two_leading_failures_keep_their_order() -> None:
    scenes, results, _ = _merge("FFS")
    texts = [line if isinstance(line, str) else line["text"] for line in scenes[0].text_lines]
    assert texts == ["s0a", "s0b", "s1a", "s1b", "s2a", "s2b"]
    assert [r.merged_into for r in results] == [2, 2, None]


def test_a_static_scene_without_video_can_take_lines() -> None:
    scenes, results, original = _merge("-FF")
    assert scenes == [original[0]]
    assert [r.merged_into for r in results] == [None, 0, 0]
    assert len(scenes[0].text_lines) == 6


def test_every_scene_failing_leaves_one_text_only_scene_with_all_lines() -> None:
    scenes, results, _original = _merge("FFF")
    expected = _all_lines(_scenes(3))
    assert len(scenes) == 1
    assert scenes[0].type == "text_only"
    assert scenes[0].video_clip_path is None and scenes[0].video_mode is None
    assert scenes[0].text_lines == expected
    assert [r.merged_into for r in results] == [None, 0, 0]


def test_trailing_failures_append_to_the_last_success() -> None:
    scenes, results, _ = _merge("SSFF")
    assert len(scenes) == 2
    assert [r.merged_into for r in results] == [None, None, 1, 1]


def test_plan_sources_name_every_scene_once() -> None:
    plan = plan_merge([True, False, True, True, False, True])
    assert plan.kept == [1, 4]
    assert plan.sources == {1: [0, 1, 2, 3], 4: [4, 5]}
    assert plan.targets == {0: 1, 2: 1, 3: 1, 5: 4}


def test_empty_post_is_a_no_op() -> None:
    scenes: list[SceneDecision] = []
    plan = apply_merge(scenes, [])
    assert plan.kept == [] and scenes == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("SF-"), st.integers(min_value=0, max_value=3)), max_size=12))
def test_lines_are_preserved_in_order_for_any_pattern(spec: list[tuple[str, int]]) -> None:
    scenes = [
        SceneDecision(type="text_only", text_lines=[f"{i}.{j}" for j in range(n)]) for i, (_, n) in enumerate(spec)
    ]
    before = _all_lines(scenes)
    failed = [c == "F" for c, _ in spec]
    plan = apply_merge(scenes, failed)
    assert _all_lines(scenes) == before
    # Surviving scenes stay in story order; failures vanish unless nothing survived.
    if spec and all(failed):
        assert plan.collapsed and len(scenes) == 1
    else:
        assert plan.kept == [i for i, f in enumerate(failed) if not f]
        assert len(scenes) == len(plan.kept)
    # Every failed scene points at a kept one.
    assert all(target in plan.kept for target in plan.targets.values())
