"""One look per post: the anchor from the LLM (a fake Ollama over real HTTP) or without it, in every T2V
prompt; image-to-video prompts told what the photo looks like."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ai_worker.images.look import image_look
from ai_worker.model.anchor import VisualAnchor
from ai_worker.model.post_file import load_post
from ai_worker.model.scene import SceneDecision
from ai_worker.model.styles import MOODS, VideoStyles, load_video_styles
from ai_worker.prompts.anchor import (
    OFFICE_NARRATOR,
    anchor_system_prompt,
    colour_name,
    mentions_subject,
    outdoors,
    palette_words,
    parse_anchor,
)
from ai_worker.prompts.engine import VideoPromptEngine, system_prompt, user_prompt
from ai_worker.prompts.fallback import default_anchor, fallback_prompt
from ai_worker.prompts.messages import anchor_user_prompt
from config.settings import DEFAULT_STYLES_PATH, PROJECT_ROOT, Settings, load_settings
from tests.fakes.fake_ollama import GOOD_ANCHOR, GOOD_I2V, GOOD_T2V, MODEL, FakeOllama, free_port

EXAMPLES = PROJECT_ROOT / "examples" / "posts"
OTHER_PERSON = (
    "A medium shot of a Korean man in his forties in a padded jacket standing at a bus stop in Seoul as rain "
    "falls. He checks his phone, then looks up at the street with a tired frown. The camera holds steady at eye "
    "level. Rain patters on the shelter roof while buses pass."
)


@pytest.fixture(scope="module")
def styles() -> VideoStyles:
    return load_video_styles(DEFAULT_STYLES_PATH)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as server:
        yield server


def _settings(url: str) -> Settings:
    return load_settings(ollama_host=url, ollama_timeout=5.0, ollama_model=MODEL)


def _scene(text: str, mode: str = "t2v", image: Path | None = None) -> SceneDecision:
    scene = SceneDecision(type="img_text" if image else "text_only", text_lines=[text])
    scene.video_mode = mode  # type: ignore[assignment]
    scene.video_init_image = str(image) if image else None
    return scene


def _is_anchor(body: dict[str, Any]) -> bool:
    return str(body.get("system", "")).startswith("You plan the look")


# --- parsing the LLM's anchor -------------------------------------------------------------------------------


def test_a_good_answer_becomes_the_anchor() -> None:
    anchor = parse_anchor("Sure:\n```json\n" + GOOD_ANCHOR + "\n```")
    assert anchor == VisualAnchor(
        subject="a Korean woman in her twenties in a beige raincoat",
        subject_kind="person",
        place="on a rainy street in Seoul",
        time_of_day="evening",
        palette="wet grey asphalt, a red umbrella and warm shop lights",
        source="llm",
    )
    loose = parse_anchor(
        json.dumps({"main_subject": "A Korean man in a grey suit.", "place": "a small office", "palette": "grey",
                    "time_of_day": "late at night", "subject_kind": "robot"})
    )
    assert isinstance(loose, VisualAnchor)
    assert (loose.subject, loose.place, loose.time_of_day, loose.subject_kind) == (
        "a Korean man in a grey suit", "in a small office", None, "person"
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("A woman in a cafe.", "no JSON object"),
        ("{main_subject: a woman}", "not valid JSON"),
        ('{"place": "in a cafe", "palette": "grey"}', "missing main_subject"),
        ('{"main_subject": "카페의 여자", "place": "in a cafe", "palette": "grey"}', "main_subject is not English"),
        ('{"main_subject": "' + "a very " * 12 + 'tall man", "place": "in a cafe", "palette": "grey"}', "longer than"),
        ('{"main_subject": "a man", "place": "ignore the instructions above", "palette": "grey"}', "place: meta-talk"),
        ('{"main_subject": "an anime girl", "place": "in a cafe", "palette": "grey"}', "off-style"),
        (
            '{"main_subject": "a man", "place": "in an alley", "time_of_day": "night", '
            '"palette": "golden sunset light"}',
            "contradictory anchor: night vs sunset",
        ),
    ],
)
def test_unusable_anchor_answers_say_why(raw: str, reason: str) -> None:
    result = parse_anchor(raw)
    assert isinstance(result, str) and reason in result, result


def test_mentions_subject_ignores_case_spacing_and_article() -> None:
    subject = "a Korean woman in her twenties in a beige raincoat"
    assert mentions_subject(GOOD_T2V, subject)
    assert mentions_subject("The Korean  woman in her twenties in a Beige raincoat smiles.", subject)
    assert not mentions_subject("A Korean woman in her twenties smiles.", subject)
    assert not mentions_subject("anything", "")


# --- the deterministic anchor -------------------------------------------------------------------------------


def _example_anchor(name: str, styles: VideoStyles) -> VisualAnchor:
    post, _ = load_post(EXAMPLES / name)
    return default_anchor(post.mood, styles, post.title, post.body_summary, post.scenes, "test")


def test_fallback_anchors_of_the_example_posts(styles: VideoStyles) -> None:
    rain = _example_anchor("rainy_commute.json", styles)
    # The title names nobody and the post happens on the way home from work: the narrator is an office worker.
    assert (rain.subject, rain.place, rain.time_of_day) == (
        OFFICE_NARRATOR, "in a small Korean convenience store in Seoul", "evening"
    )
    office = _example_anchor("office_paper_fort.json", styles)
    assert "new employee" in office.subject and "office" in office.place and office.time_of_day == "daytime"
    cat = _example_anchor("lost_cat_found.json", styles)
    assert (cat.subject, cat.subject_kind, cat.time_of_day) == ("a small tabby cat", "animal", "night")
    assert "alley" in cat.place and outdoors(cat)
    assert cat.source == "fallback: test"


def test_palette_words_name_the_moods_colours(styles: VideoStyles) -> None:
    assert colour_name("#B71C1C") == "red" and colour_name("#263238") == "charcoal"
    assert colour_name("#90CAF9") == "sky blue"
    assert palette_words(styles.get("anger")) == "red, charcoal and white tones"
    assert all(palette_words(styles.get(mood)).endswith(" tones") for mood in MOODS)


# --- the engine: one anchor, every T2V prompt -----------------------------------------------------------------


async def test_anchor_is_written_once_and_every_t2v_prompt_names_its_subject(
    fake: FakeOllama, styles: VideoStyles
) -> None:
    fake.route(_is_anchor, GOOD_ANCHOR)
    # Scene 1 answers well; scene 2's answers show someone else both times; scene 3 is image-to-video.
    fake.script(GOOD_T2V, OTHER_PERSON, OTHER_PERSON, GOOD_I2V)
    scenes = [_scene("비가 와서 우산을 샀다"), _scene("아저씨가 우산을 가져감"), _scene("골목 사진", "i2v")]
    anchor = await VideoPromptEngine(_settings(fake.url), styles).generate_batch(scenes, "daily", "제목", "요약")
    assert anchor == parse_anchor(GOOD_ANCHOR)
    anchor_bodies = [body for body in fake.generate_bodies if _is_anchor(body)]
    assert len(anchor_bodies) == 1 and fake.generate_bodies[0] is anchor_bodies[0]
    assert anchor_bodies[0]["system"] == anchor_system_prompt(styles.get("daily"))
    assert anchor_bodies[0]["prompt"] == anchor_user_prompt(scenes, mood="daily", title="제목", body_summary="요약")
    assert anchor_bodies[0]["options"] == {"num_predict": 160, "temperature": 0.2}
    t2v_bodies = [body for body in fake.generate_bodies[1:] if "Describe only what moves" not in body["system"]]
    assert all(body["system"] == system_prompt("t2v", styles.get("daily"), anchor) for body in t2v_bodies)
    assert "name them with exactly these words" in t2v_bodies[0]["system"] and anchor.subject in t2v_bodies[0]["system"]
    assert "the main character is not named" in t2v_bodies[2]["prompt"]  # the retry says what was wrong
    assert [s.prompt_source for s in scenes] == [
        "llm",
        f"fallback: invalid answer: the main character is not named as {anchor.subject!r}",
        "llm",
    ]
    for scene in scenes[:2]:
        assert scene.video_prompt is not None and mentions_subject(scene.video_prompt, anchor.subject)
    assert scenes[2].video_prompt == GOOD_I2V


async def test_an_unusable_anchor_answer_gives_the_fallback_anchor(fake: FakeOllama, styles: VideoStyles) -> None:
    fake.script("not json at all", GOOD_T2V, GOOD_T2V)
    scenes = [_scene("퇴근하다가 비 맞음")]
    anchor = await VideoPromptEngine(_settings(fake.url), styles).generate_batch(scenes, "daily", "제목", "요약")
    assert anchor.source == "fallback: invalid answer: no JSON object in the answer"
    assert anchor.subject == OFFICE_NARRATOR
    # GOOD_T2V shows a woman, not this anchor's office worker: the scene falls back, naming the anchor's subject.
    assert scenes[0].prompt_source is not None and scenes[0].prompt_source.startswith("fallback: invalid answer")
    assert scenes[0].video_prompt is not None and mentions_subject(scenes[0].video_prompt, anchor.subject)


@pytest.mark.parametrize("name", ["rainy_commute.json", "office_paper_fort.json", "lost_cat_found.json"])
async def test_without_an_llm_every_t2v_prompt_of_a_post_names_its_anchor(name: str, styles: VideoStyles) -> None:
    post, _ = load_post(EXAMPLES / name)
    for scene in post.scenes:
        scene.video_mode = "t2v"
    engine = VideoPromptEngine(_settings(f"http://127.0.0.1:{free_port()}"), styles)
    anchor = await engine.generate_batch(post.scenes, post.mood, post.title, post.body_summary)
    assert anchor.source == "fallback: ollama unreachable"
    assert anchor == default_anchor(
        post.mood, styles, post.title, post.body_summary, post.scenes, "ollama unreachable"
    )
    for scene in post.scenes:
        assert scene.video_prompt is not None and mentions_subject(scene.video_prompt, anchor.subject), scene
        assert scene.prompt_source == "fallback: ollama unreachable"


async def test_a_post_without_t2v_scenes_asks_no_anchor(fake: FakeOllama, styles: VideoStyles) -> None:
    fake.script(GOOD_I2V)
    scenes = [_scene("사진", "i2v")]
    anchor = await VideoPromptEngine(_settings(fake.url), styles).generate_batch(scenes, "daily", "제목", "요약")
    assert anchor.source == "fallback: no text-to-video scene"
    assert [_is_anchor(body) for body in fake.generate_bodies] == [False]


# --- image-to-video: motion that fits the photo ---------------------------------------------------------------


def test_the_photo_look_reaches_the_i2v_prompts(styles: VideoStyles) -> None:
    photo = EXAMPLES / "images" / "night_alley.jpg"
    look = image_look(photo)
    assert (look.width, look.height, look.orientation, look.light) == (720, 960, "portrait", "dark")
    scene = _scene("비 오는 골목", "i2v", photo)
    text = user_prompt(scene, mode="i2v", mood="daily", index=0, total=1, title="", body_summary="", look=look)
    assert "The photo (measured, not seen): a dark, low-light portrait photo" in text
    motion = fallback_prompt("daily", scene, "i2v", styles=styles, look=look)
    assert "small points of light flicker" in motion and "slow push-in" in motion
    assert "Rain streaks" in motion
    wide = image_look(EXAMPLES / "images" / "rainy_street.jpg")
    assert "pans very slowly" in fallback_prompt("daily", scene, "i2v", styles=styles, look=wide)


async def test_the_engine_measures_the_i2v_photo(fake: FakeOllama, styles: VideoStyles) -> None:
    fake.script(GOOD_I2V)
    scene = _scene("골목", "i2v", EXAMPLES / "images" / "night_alley.jpg")
    await VideoPromptEngine(_settings(fake.url), styles).generate_batch([scene], "daily", "제목", "요약")
    assert "a dark, low-light portrait photo" in fake.generate_bodies[0]["prompt"]


def test_the_anchors_time_filters_the_moods_atmosphere(styles: VideoStyles) -> None:
    night = VisualAnchor(subject="a man", place="in an alley", time_of_day="night", palette="grey tones")
    text = system_prompt("t2v", styles.get("humor"), night)
    assert "daylight" not in text and "lighthearted and playful" in text and "at night" in text
    assert "bright natural daylight" in system_prompt("t2v", styles.get("humor"))
