"""The Korean keyword lexicon and the content-aware fallback prompts built from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_worker.model.post_file import load_post
from ai_worker.model.scene import SceneDecision
from ai_worker.model.styles import MOODS, VideoStyles, load_video_styles
from ai_worker.prompts.engine import content_subject, fallback_prompt
from ai_worker.prompts.lexicon import SceneElements, find_terms, lexicon, scene_elements
from ai_worker.prompts.text import CJK_RE, check_prompt, simplify_prompt, split_sentences
from config.settings import DEFAULT_STYLES_PATH

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "posts"


@pytest.fixture(scope="module")
def styles() -> VideoStyles:
    return load_video_styles(DEFAULT_STYLES_PATH)


def keys(text: str) -> list[str]:
    return [term.key for term in find_terms(text)]


def scene(text: str, mode: str = "t2v", kind: str = "text_only") -> SceneDecision:
    made = SceneDecision(type=kind, text_lines=[text])  # type: ignore[arg-type]
    made.video_mode = mode  # type: ignore[assignment]
    return made


# --- the table ----------------------------------------------------------------------------------------------


def test_lexicon_is_well_formed() -> None:
    assert 40 <= len([t for t in lexicon() if t.kind != "block"]) <= 90
    assert len({t.key for t in lexicon()}) == len(lexicon())
    for term in lexicon():
        assert term.stems and all(stem.lstrip("^") for stem in term.stems), term.key
        assert all(stem == stem.lower() for stem in term.stems), term.key
        for english in (term.phrase, term.near):
            assert english.isascii() and not CJK_RE.search(english), term.key
        if term.kind == "block":
            assert not term.phrase
        else:
            assert term.phrase, term.key
        if term.kind == "object":
            assert term.near, term.key
        if term.kind == "setting":
            # A shot without people must still be set in Korea.
            assert "Korean" in term.phrase or "Korea" in term.phrase, term.key
        if term.kind == "person":
            assert "Korean" in term.phrase, term.key


# --- matching -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("비가 미친 듯이 와서 편의점에서 빨간 우산을 하나 샀거든", ["rain", "convenience_store", "umbrella"]),
        ("우리 팀 신입이 사고를 쳤다", ["new_employee"]),
        ("4박스 주문한 줄 알았는데 40박스가 왔음", ["boxes"]),
        ("신입이 A4 용지 40박스 주문한 썰.jpg", ["new_employee", "paper", "boxes"]),
        ("셋째 날 밤, 비 오는 골목에서 작은 울음소리가 들렸어요", ["night", "rain", "alley"]),
        ("사흘 만에 우리 집 고양이가 돌아왔어요", ["home", "cat"]),
        ("황당해서 영수증까지 보여줬는데도 안 믿으심", ["receipt"]),
        ("할아버지랑 남자친구랑 대학교 앞 식당에서", ["grandfather", "couple", "campus", "restaurant"]),
        ("같이 찾아주신 동네 분들 정말 감사합니다", ["neighbours"]),
        ("우리 동네 강아지", ["neighbourhood", "dog"]),
        ("스마트폰으로 보니 마트 앞이었다", ["phone", "supermarket"]),
        ("a4 용지", ["paper"]),
        ("라면 끓여 먹음", ["ramyeon"]),
    ],
)
def test_finds_the_scenes_words_in_order(text: str, expected: list[str]) -> None:
    assert keys(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "준비가 다 됐다",  # 비가 inside 준비가: not rain
        "비행기 타고 제주도 감",  # 비 starts 비행기: not rain
        "비밀인데 이거 진짜 비싸",  # 비밀, 비싸
        "장마감 직전에 팔았다",  # stock market closing, not the rainy season
        "시장마다 다 다르더라",  # 장마 inside 시장마다
        "집중이 안 돼서 편집만 했음",  # 집 inside 집중 and 편집
        "맛있는 이야기 하나 해줄게",  # 아기 is not inside 이야기
        "한 개가 남았다",  # 개 is a counter; dogs are never matched on 개
        "눈물이 났다",  # 눈 is an eye here
        "카페인 때문에 잠이 안 와",  # caffeine, not a cafe
        "맘카페에 글 올렸더니",  # an online forum, not a cafe
        "거리두기 끝났다",  # distancing, not a street
        "버스킹 구경했다",  # busking, not a bus
        "사회사업 하는 분",  # 회사 inside 사회사업
        "너라면 어떻게 할래",  # the conditional ending, not ramyeon
        "폰트가 이상함",  # a font, not a phone
        "밤색 코트 샀다",  # the colour brown, not night
        "a45 모델 번호",  # A4 must stand alone
        "방법이 없다 단순하게 생각하자",
    ],
)
def test_ambiguous_stems_do_not_misfire(text: str) -> None:
    assert keys(text) == []


def test_longest_match_wins() -> None:
    assert keys("할아버지") == ["grandfather"]  # not father
    assert keys("남자친구") == ["couple"]  # not friends
    assert keys("신입생 환영회") == ["university_student"]  # not a new employee
    assert keys("대학생") == ["university_student"]  # not a high school student
    assert keys("동물병원") == ["vet"]
    assert keys("종이컵") == ["paper_cup"]
    assert keys("컵라면") == ["cup_noodles"]
    assert keys("커피숍") == ["cafe"]


def test_whitespace_and_case_do_not_matter() -> None:
    assert keys("비\n오는 날 우리\t집") == keys("비 오는 날 우리 집") == ["rain", "home"]
    assert keys("A4") == keys("a4") == ["paper"]


def test_scene_words_come_first_and_context_fills_the_rest() -> None:
    title = "비 오는 날 퇴근길에 우산 뺏긴 썰"
    summary = "폭우 속 퇴근길, 편의점에서 산 우산을 모르는 아저씨가 자기 거라며 가져갔다는 이야기."
    own = scene_elements("황당해서 영수증까지 보여줬는데도 안 믿으심", title, summary)
    # The scene names an object, so who and what is shown comes from the scene only.
    assert [t.key for t in own.objects] == ["receipt"] and own.people == () and own.animals == ()
    # Place, weather and time come from the context when the scene has none.
    assert (own.setting, own.weather, own.time) == tuple(find_terms(w)[0] for w in ("편의점", "비가", "퇴근"))
    bare = scene_elements("오늘 진짜 어이없는 일이 있었음", title, summary)
    assert [t.key for t in bare.people] == ["middle_aged_man"]
    assert [t.key for t in bare.objects] == ["umbrella"]
    assert scene_elements("아무 일도 없었다").empty


def test_caps_on_people_and_objects() -> None:
    elements = scene_elements("엄마 아빠 할머니랑 치킨 맥주 소주 떡볶이")
    assert [t.key for t in elements.people] == ["mother", "father"]
    assert [t.key for t in elements.objects] == ["chicken", "beer"]


# --- the content-aware fallback -----------------------------------------------------------------------------


def test_content_subject_tiers() -> None:
    people = scene_elements("팀장님이 박스를 들고")
    assert content_subject("humor", people) == (
        "A medium shot of a Korean team manager in his forties in a shirt and tie, surrounded by stacks of "
        "cardboard boxes, in a small Korean office in Seoul, staring for a beat before breaking into a crooked "
        "grin and laughing behind one hand."
    )
    objects = scene_elements("편의점 영수증")
    assert content_subject("daily", objects) == (
        "A medium shot of a crumpled paper receipt in a small Korean convenience store in Seoul, as a hand "
        "reaches into the frame for a moment and then withdraws."
    )
    animal = scene_elements("비 오는 밤 고양이가")
    assert content_subject("touching", animal) == (
        "A medium shot of a small tabby cat in a small Korean apartment in Seoul at night while it rains outside, "
        "blinking slowly with ears twitching as it takes a few careful steps forward."
    )
    group = scene_elements("친구들이랑")
    assert (content_subject("shock", group) or "").endswith("freezing with wide eyes and turning to each other.")
    # A place or weather alone is not a subject: the mood's own subjects stay.
    assert content_subject("daily", scene_elements("비 오는 골목")) is None
    assert content_subject("daily", SceneElements()) is None


def test_no_match_gives_the_mood_default(styles: VideoStyles) -> None:
    plain = scene("오늘 진짜 어이없는 일이 있었음")
    for mood in MOODS:
        for index in range(2):
            content = fallback_prompt(mood, plain, "t2v", styles=styles, index=index)
            no_text = fallback_prompt(mood, scene(""), "t2v", styles=styles, index=index)
            assert content == no_text
    daily = fallback_prompt("daily", plain, "t2v", styles=styles)
    assert daily.startswith("A medium shot of a Korean woman in her twenties in a beige sweater")
    i2v = fallback_prompt("daily", scene("오늘 진짜 어이없는 일이 있었음", "i2v"), "i2v", styles=styles)
    assert i2v.startswith("Subtle natural motion") and "Rain" not in i2v


def test_rain_reaches_t2v_and_i2v(styles: VideoStyles) -> None:
    s = scene("비가 미친 듯이 와서 편의점에서 빨간 우산을 하나 샀거든")
    t2v = fallback_prompt("daily", s, "t2v", styles=styles)
    assert "umbrella" in t2v and "while it rains outside" in t2v and "convenience store" in t2v
    outside = fallback_prompt("daily", scene("비 오는 골목에서 우산을"), "t2v", styles=styles)
    assert "in a narrow alley of a Korean neighbourhood in the rain," in outside
    # Indoors the rain is heard on the windows; outdoors on the ground.
    assert "patter of rain on the windows" in t2v and "sound of rain on the ground" in outside
    i2v = fallback_prompt("daily", s, "i2v", styles=styles)
    assert i2v.startswith("Rain streaks keep falling through the frame as the umbrella sways gently.")
    snow = fallback_prompt("sadness", scene("첫눈이 왔다", "i2v"), "i2v", styles=styles)
    assert snow.startswith("Snowflakes drift slowly down")
    # Only the scene's own umbrella sways; the context's rain alone moves only the rain.
    rain_only = fallback_prompt("daily", scene("다들 조심하세요", "i2v"), "i2v", styles=styles, title="비 오는 날")
    assert rain_only.startswith("Rain streaks keep falling through the frame and the wet surfaces shimmer.")


# --- the three example posts --------------------------------------------------------------------------------


def _post(name: str) -> tuple[str, str, list[SceneDecision]]:
    post, errors = load_post(EXAMPLES / name)
    assert errors == []
    return post.title, post.body_summary, post.scenes


def _t2v(name: str, index: int, mood: str, styles: VideoStyles) -> str:
    title, summary, scenes = _post(name)
    return fallback_prompt(mood, scenes[index], "t2v", styles=styles, index=index, title=title, body_summary=summary)


def test_example_posts_fallbacks_mention_their_content(styles: VideoStyles) -> None:
    umbrella = _t2v("rainy_commute.json", 1, "daily", styles)
    assert umbrella.startswith(
        "A medium shot of a middle-aged Korean man in a padded jacket, holding an umbrella, in a small Korean "
        "convenience store in Seoul during the evening commute while it rains outside,"
    )
    receipt = _t2v("rainy_commute.json", 2, "daily", styles)
    assert "receipt" in receipt and "convenience store" in receipt
    boxes = _t2v("office_paper_fort.json", 1, "humor", styles)
    assert "cardboard boxes" in boxes and "office" in boxes
    intern = _t2v("office_paper_fort.json", 0, "humor", styles)
    assert "new employee" in intern and "office" in intern
    manager = _t2v("office_paper_fort.json", 2, "humor", styles)
    assert "team manager" in manager
    fort = _t2v("office_paper_fort.json", 3, "humor", styles)
    assert "new employee" in fort and "paper" in fort and "hallway" in fort
    cat = _t2v("lost_cat_found.json", 0, "touching", styles)
    assert "cat" in cat and "apartment" in cat and "at night while it rains outside" in cat
    alley = _t2v("lost_cat_found.json", 2, "touching", styles)
    assert "alley" in alley and "rain" in alley
    neighbours = _t2v("lost_cat_found.json", 3, "touching", styles)
    assert "neighbours" in neighbours and "alley of a Korean neighbourhood in the rain at night" in neighbours


@pytest.mark.parametrize("name", ["rainy_commute.json", "office_paper_fort.json", "lost_cat_found.json"])
def test_every_example_fallback_passes_the_checks_and_is_deterministic(name: str, styles: VideoStyles) -> None:
    title, summary, scenes = _post(name)
    for mood in MOODS:
        for index, s in enumerate(scenes):
            for mode in ("t2v", "i2v"):
                first = fallback_prompt(mood, s, mode, styles=styles, index=index, title=title, body_summary=summary)
                again = fallback_prompt(mood, s, mode, styles=styles, index=index, title=title, body_summary=summary)
                assert first == again
                assert check_prompt(first, mode).prompt == first, (mood, index, mode, check_prompt(first, mode))
                assert 2 <= len(split_sentences(simplify_prompt(first))) <= 3
                if mode == "t2v":
                    assert "Korean" in first
