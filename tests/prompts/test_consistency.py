"""Fallback prompts never contradict themselves: the exclusion table, the clause filter, and a sweep over
every mood, every example post and each scene (and synthetic scenes for every time, weather and place)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_worker.images.look import ImageLook
from ai_worker.model.anchor import VisualAnchor
from ai_worker.model.post_file import load_post
from ai_worker.model.scene import SceneDecision
from ai_worker.model.styles import MOODS, VideoStyles, load_video_styles
from ai_worker.prompts.anchor import mentions_subject
from ai_worker.prompts.consistency import EXCLUSIONS, consistent_clauses, contradictions
from ai_worker.prompts.fallback import default_anchor, fallback_prompt
from ai_worker.prompts.text import check_prompt, simplify_prompt, split_sentences
from config.settings import DEFAULT_STYLES_PATH, PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples" / "posts"
SYNTHETIC = (
    "밤에 사무실에서 야근하다가",
    "새벽에 편의점 갔는데",
    "아침 출근길 지하철에서",
    "점심 먹고 공원 산책",
    "퇴근길에 비가 와서 버스 정류장에서",
    "폭염에 한강에서 치킨",
    "한파에 골목에서 떨었음",
    "첫눈이 왔다 카페에서 창밖을 봄",
    "비 오는 밤 골목에서 고양이가 울었다",
    "저녁에 부엌에서 라면 끓임",
    "엘리베이터에서 팀장님 만남",
    "주차장에서 아저씨랑 싸움",
    "오늘 진짜 어이없는 일이 있었음",
    "",
)
# Anchors as an LLM might write them: places and times that some scenes' weather or time contradict.
LLM_ANCHORS = (
    VisualAnchor(
        subject="a Korean woman in her twenties in a beige raincoat", place="on a rainy street in Seoul",
        time_of_day="evening", palette="wet grey asphalt and warm shop lights", source="llm",
    ),
    VisualAnchor(
        subject="two Korean office workers in their thirties", subject_kind="people",
        place="in a sunny park by the river", time_of_day="daytime", palette="fresh green and sky blue",
        source="llm",
    ),
    VisualAnchor(
        subject="a small white dog", subject_kind="animal", place="in a cosy Korean apartment living room",
        time_of_day="night", palette="warm amber lamplight", source="llm",
    ),
)
LOOKS = (
    ImageLook(720, 960, 0.2, 10.0, -20.0),
    ImageLook(1000, 1000, 0.5, 30.0, 0.0),
    ImageLook(1600, 900, 0.8, 60.0, 20.0),
)


@pytest.fixture(scope="module")
def styles() -> VideoStyles:
    return load_video_styles(DEFAULT_STYLES_PATH)


def _scene(text: str) -> SceneDecision:
    return SceneDecision(type="text_only", text_lines=[text])


def test_the_table_finds_the_known_contradictions() -> None:
    assert contradictions("A man in an alley at night. Soft golden-hour light, warm tones.") == [
        "night vs sunset ('night' / 'golden-hour')"
    ]
    assert contradictions("He walks home during the evening commute. Natural daylight, true colours.") == [
        "evening vs sunlight ('evening' / 'daylight')"
    ]
    assert contradictions("A woman in a small Korean cafe in the rain.") == [
        "indoors vs outdoors ('cafe' / 'in the rain')"
    ]
    assert contradictions("Snowflakes drift down on a sweltering afternoon.") == [
        "snow vs heat ('Snowflakes' / 'sweltering')"
    ]
    assert contradictions("Rain falls from a cloudless sky.") == ["rain vs clear sky ('Rain' / 'cloudless')"]
    assert len(EXCLUSIONS) >= 15


@pytest.mark.parametrize(
    "text",
    [
        "Streetlights and shop signs glow against the dark in a narrow alley at night.",
        "A man in the parking lot of a Korean apartment complex.",
        "A Korean office worker in a neat shirt in a neighbourhood park at lunchtime.",
        "A woman in a small Korean cafe in the evening while it rains outside.",
        "A woman freezing mid-step in the sweltering summer heat.",
        "A man in his forties standing in an apartment parking lot.",
        "Lighthearted and playful, warm colours, candid expressions.",
    ],
)
def test_no_false_alarms_on_words_that_only_look_alike(text: str) -> None:
    assert contradictions(text) == []


def test_consistent_clauses_drops_only_what_contradicts() -> None:
    hint = "Soft golden-hour light, gentle warm tones and a shallow depth of field, with small honest gestures."
    assert consistent_clauses("in an alley at night", hint) == (
        "Gentle warm tones and a shallow depth of field, with small honest gestures."
    )
    assert consistent_clauses("in the evening", hint) == hint
    assert consistent_clauses("at night", "bright natural daylight, warm colours", capitalise=False) == "warm colours."
    assert consistent_clauses("at night", "Natural daylight.") == ""


def _check(prompt: str, mode: str, anchor: VisualAnchor | None, where: str) -> None:
    assert contradictions(prompt) == [], (where, prompt)
    assert check_prompt(prompt, mode).prompt == prompt, (where, check_prompt(prompt, mode).reason, prompt)  # type: ignore[arg-type]
    assert 2 <= len(split_sentences(simplify_prompt(prompt))) <= 3, (where, prompt)
    if mode == "t2v":
        assert "Korean" in prompt, (where, prompt)
        if anchor is not None:
            assert mentions_subject(prompt, anchor.subject), (where, anchor.subject, prompt)


def _posts() -> list[tuple[str, str, str, list[SceneDecision]]]:
    posts = []
    for path in sorted(EXAMPLES.glob("*.json")):
        post, errors = load_post(path)
        assert errors == []
        posts.append((path.name, post.title, post.body_summary, post.scenes))
    posts.append(("synthetic", "제목", "", [_scene(text) for text in SYNTHETIC]))
    posts.append(("synthetic, rainy night title", "비 오는 밤에 생긴 일", "폭우", [_scene(text) for text in SYNTHETIC]))
    return posts


@pytest.mark.parametrize("mood", MOODS)
def test_no_fallback_prompt_contradicts_itself(mood: str, styles: VideoStyles) -> None:
    posts = _posts()
    assert len(posts) >= 5
    checked = 0
    for name, title, summary, scenes in posts:
        anchors: list[VisualAnchor | None] = [
            None,
            default_anchor(mood, styles, title, summary, scenes, "test"),
            *LLM_ANCHORS,
        ]
        for index, scene in enumerate(scenes):
            where = f"{name} scene {index} mood {mood}"
            for anchor in anchors:
                t2v = fallback_prompt(
                    mood, scene, "t2v", styles=styles, index=index, title=title, body_summary=summary, anchor=anchor
                )
                _check(t2v, "t2v", anchor, f"{where} anchor {anchor}")
                checked += 1
            # Image-to-video prompts do not use the anchor: every measured look instead.
            for look in (None, *LOOKS):
                i2v = fallback_prompt(
                    mood, scene, "i2v", styles=styles, index=index, title=title, body_summary=summary, look=look
                )
                _check(i2v, "i2v", None, f"{where} look {look}")
    assert checked == (2 + len(LLM_ANCHORS)) * sum(len(scenes) for *_, scenes in posts)


def test_the_issues_examples_are_fixed(styles: VideoStyles) -> None:
    night = fallback_prompt("touching", _scene("밤에 고양이가 돌아왔어요"), "t2v", styles=styles)
    assert "at night" in night and "golden" not in night and "shallow depth of field" in night
    commute = fallback_prompt("daily", _scene("퇴근길에 친구를 만났다"), "t2v", styles=styles)
    assert "evening commute" in commute and "daylight" not in commute
    assert "True-to-life colours" in commute
    morning = fallback_prompt("sadness", _scene("아침에 혼자 카페에서"), "t2v", styles=styles)
    assert "morning" in morning and "evening" not in morning


def test_time_of_day_sets_the_light_once(styles: VideoStyles) -> None:
    day = fallback_prompt("humor", _scene("점심에 사무실에서 팀장님이"), "t2v", styles=styles)
    assert "Even daytime light fills the room" in day and "Bright even daylight" not in day
    untimed = fallback_prompt("humor", _scene("사무실에서 팀장님이"), "t2v", styles=styles)
    assert "Bright even daylight" in untimed


def test_a_user_styles_file_with_light_everywhere_still_gives_no_contradiction(tmp_path: Path) -> None:
    data = load_video_styles(DEFAULT_STYLES_PATH)
    raw = {mood: data.get(mood).model_dump() for mood in MOODS}
    raw["daily"]["style_hint"] = "Sunny midday light, golden-hour glow, bright blue sky, snow on the ground."
    raw["daily"]["camera_hints"] = ["holds still at the end of the corridor", "follows along the sunny street"]
    styles = VideoStyles.from_mapping(raw)
    for text in SYNTHETIC:
        for index in range(2):
            prompt = fallback_prompt("daily", _scene(text), "t2v", styles=styles, index=index)
            assert contradictions(prompt) == [], prompt
            assert check_prompt(prompt, "t2v").prompt == prompt
