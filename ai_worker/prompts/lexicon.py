"""A small Korean keyword lexicon for the fallback prompts: community-post words to English visual elements.

When the LLM is unreachable, `fallback_prompt` still wants the scene's content (the umbrella, the office boxes,
the lost cat) instead of a fixed per-mood subject. This module finds it without any model: pure data and pure
functions, nothing done at import time.

Korean attaches particles to the end of words ("우산을", "편의점에서"), so stems are matched as substrings of
the text. That makes short stems dangerous ("비" rain is inside "준비" and "비행기", "마트" inside "스마트폰"),
so the lexicon prefers precision over recall:

- a stem starting with ``^`` must begin a word (start of text, or after a space or punctuation): "^비가"
  matches "비가 와서" but not "준비가 됐다";
- at one position the longest stem wins and overlapping matches are dropped, so "할아버지" is a grandfather
  and not a father, "대학교" a campus and not a school;
- ``block`` terms match words that contain a stem but mean something else ("카페인", "스마트폰"'s "스마트",
  "거리두기"); they claim the span and give nothing;
- an ASCII stem ("a4") must not touch other ASCII letters or digits; matching is case-insensitive.

Words too ambiguous to match at all are left out: 개 (dog, but also a counter and a slang prefix), 눈 (snow, eye),
방 (room, but also 단톡방, 방법), 아이 (child, 아이디, 아이폰), 차 (car, tea, 차이), 길 (road, 길다 "long").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

__all__ = [
    "SceneElements",
    "Term",
    "TermKind",
    "find_terms",
    "lexicon",
    "scene_elements",
]

TermKind = Literal["person", "animal", "object", "setting", "weather", "time", "block"]


@dataclass(frozen=True)
class Term:
    """One visual element and the Korean stems that name it.

    `phrase` is English and fits a fixed slot of the fallback sentence: a noun phrase for people, animals and
    objects ("a young Korean couple"), a prepositional phrase for settings, weather and times ("in a narrow
    alley ...", "in the rain", "at night"). `near` is an object's participle phrase used next to a person
    ("holding an umbrella"). `plural` marks a person phrase that names several people.
    """

    key: str
    kind: TermKind
    stems: tuple[str, ...]
    phrase: str = ""
    near: str = ""
    plural: bool = False


def _t(key: str, kind: TermKind, stems: str, phrase: str = "", near: str = "", plural: bool = False) -> Term:
    return Term(key, kind, tuple(stems.split("|")), phrase, near, plural)


@cache
def lexicon() -> tuple[Term, ...]:
    """The table, built once on first use (nothing runs at import time). The stems are written with "|"
    between them to keep it readable."""
    return _table()


def _table() -> tuple[Term, ...]:
    return (
        # --- words that contain a stem but mean something else ---------------------------------------------------
        _t("block_caffeine", "block", "카페인|맘카페|네이버 카페|카페 글|카페에 글"),
        _t("block_smart", "block", "스마트"),
        _t("block_distancing", "block", "거리두기"),
        _t("block_busking", "block", "버스킹"),
        _t("block_social_work", "block", "사회사업"),
        _t("block_market_close", "block", "장마감"),
        _t("block_chestnut", "block", "밤색|군밤|알밤|밤나무"),
        _t("block_font", "block", "폰트"),
        # --- settings (every phrase names Korea, so a shot without people is still set there) ------------------
        _t("convenience_store", "setting", "편의점", "in a small Korean convenience store in Seoul"),
        _t("office", "setting", "사무실|회사|직장|사옥", "in a busy Korean office in Seoul"),
        _t("hallway", "setting", "복도", "in a narrow hallway of a Korean office building"),
        _t("cafe", "setting", "카페|커피숍", "in a small Korean cafe in Seoul"),
        _t("subway", "setting", "지하철|전철", "in a crowded Korean subway car in Seoul"),
        _t("bus_stop", "setting", "정류장", "at a bus stop on a busy Korean street"),
        _t("bus", "setting", "버스", "on a Korean city bus in Seoul"),
        _t("campus", "setting", "대학교|캠퍼스", "on a Korean university campus"),
        _t("school", "setting", "학교|교실", "in a Korean school classroom"),
        _t(
            "home",
            "setting",
            "^집에|^집으로|우리 집|우리집|자취방|원룸|거실|내 방",
            "in a small Korean apartment in Seoul",
        ),
        _t("kitchen", "setting", "부엌|주방", "in a small Korean apartment kitchen"),
        _t("alley", "setting", "골목", "in a narrow alley of a Korean neighbourhood"),
        _t("street", "setting", "길거리|^거리에|^거리를|횡단보도", "on a busy Korean street in Seoul"),
        _t("neighbourhood", "setting", "동네", "on a quiet residential street of a Korean neighbourhood"),
        _t("restaurant", "setting", "식당|음식점|맛집|고깃집", "in a busy Korean restaurant"),
        _t("vet", "setting", "동물병원", "in a small Korean veterinary clinic"),
        _t("hospital", "setting", "병원|응급실|병실", "in a bright Korean hospital corridor"),
        _t("park", "setting", "공원", "in a Korean neighbourhood park"),
        _t("beach", "setting", "바다|바닷가|해변", "on a Korean beach by the sea"),
        _t("han_river", "setting", "한강", "by the Han River in Seoul, Korea"),
        _t("elevator", "setting", "엘리베이터|엘베", "in the elevator of a Korean apartment building"),
        _t("stairwell", "setting", "계단", "in the stairwell of a Korean apartment block"),
        _t("parking_lot", "setting", "주차장", "in the parking lot of a Korean apartment complex"),
        _t("supermarket", "setting", "마트", "in an aisle of a Korean supermarket"),
        _t("taxi", "setting", "택시", "in the back seat of a Korean taxi"),
        _t("airport", "setting", "공항", "in a busy Korean airport terminal"),
        # --- weather ---------------------------------------------------------------------------------------------
        _t(
            "rain",
            "weather",
            "^비가|^비 오|^비오|^비를|^비 맞|^비 내|^비도 오|빗물|빗소리|빗길|빗방울|빗줄기|폭우|^장마|소나기",
            "in the rain",
        ),
        _t(
            "snow",
            "weather",
            "폭설|함박눈|첫눈|눈사람|^눈이 오|^눈이 와|^눈이 내|^눈 오는|^눈 온|눈발",
            "in falling snow",
        ),
        _t("heat", "weather", "폭염|무더위", "in the sweltering summer heat"),
        _t("cold", "weather", "한파", "in the freezing winter cold"),
        # --- time of day -----------------------------------------------------------------------------------------
        _t("night", "time", "밤|야근", "at night"),
        _t("dawn", "time", "새벽", "at dawn"),
        _t("morning_commute", "time", "출근", "during the morning commute"),
        _t("morning", "time", "아침", "in the morning"),
        _t("evening_commute", "time", "퇴근", "during the evening commute"),
        _t("evening", "time", "저녁", "in the evening"),
        _t("lunch", "time", "점심", "at lunchtime"),
        # --- people ----------------------------------------------------------------------------------------------
        _t("manager", "person", "팀장|부장|상사|사장님", "a Korean team manager in his forties in a shirt and tie"),
        _t("new_employee", "person", "신입|인턴", "a young Korean new employee in a cardigan with an ID lanyard"),
        _t("office_worker", "person", "회사원|직장인|동료", "a Korean office worker in his thirties in a neat shirt"),
        _t("grandmother", "person", "할머니", "an elderly Korean woman with short grey hair"),
        _t("grandfather", "person", "할아버지", "an elderly Korean man in a flat cap"),
        _t("mother", "person", "엄마|어머니", "a Korean mother in her fifties in a knit cardigan"),
        _t("father", "person", "아빠|아버지", "a Korean father in his fifties in a worn work jacket"),
        _t("couple", "person", "남친|여친|남자친구|여자친구|남편|아내", "a young Korean couple", plural=True),
        _t("friends", "person", "친구", "a group of young Korean friends", plural=True),
        _t("middle_aged_man", "person", "아저씨", "a middle-aged Korean man in a padded jacket"),
        _t("middle_aged_woman", "person", "아줌마|아주머니", "a middle-aged Korean woman in a quilted vest"),
        _t("child", "person", "초등학생", "a Korean schoolchild with a bright backpack"),
        _t("university_student", "person", "대학생|신입생", "a Korean university student with a backpack"),
        _t("student", "person", "학생", "a Korean high school student in a school uniform"),
        _t("clerk", "person", "알바|점원", "a young Korean store clerk in a uniform vest"),
        _t("neighbours", "person", "동네 분|이웃", "a few Korean neighbours in their fifties", plural=True),
        _t("police", "person", "경찰", "a Korean police officer in uniform"),
        # --- animals ---------------------------------------------------------------------------------------------
        _t("cat", "animal", "고양이|냥이|길냥이", "a small tabby cat"),
        _t("dog", "animal", "강아지|반려견|댕댕이|멍멍이|진돗개", "a small fluffy dog"),
        # --- objects ---------------------------------------------------------------------------------------------
        _t("boxes", "object", "박스|상자", "stacks of cardboard boxes", "surrounded by stacks of cardboard boxes"),
        _t("parcel", "object", "택배", "delivery parcels piled by a door", "holding a delivery parcel"),
        _t("paper_cup", "object", "종이컵", "a paper cup", "holding a paper cup"),
        _t(
            "paper", "object", "종이|용지|a4|서류|프린트", "tall stacks of printer paper", "beside tall stacks of paper"
        ),
        _t("printer", "object", "프린터|복사기|출력", "an office printer pushing out pages", "standing by a printer"),
        _t(
            "phone",
            "object",
            "핸드폰|휴대폰|스마트폰|아이폰|^폰|카톡|단톡",
            "a phone lying face up on a desk",
            "looking down at a phone",
        ),
        _t("receipt", "object", "영수증", "a crumpled paper receipt", "holding out a paper receipt"),
        _t("umbrella", "object", "우산", "an open umbrella", "holding an umbrella"),
        _t("coffee", "object", "커피|아메리카노|라떼", "a paper coffee cup", "holding a paper coffee cup"),
        _t("chicken", "object", "치킨", "a box of Korean fried chicken", "sharing a box of fried chicken"),
        _t("cup_noodles", "object", "컵라면", "a cup of instant noodles", "eating a cup of instant noodles"),
        _t("ramyeon", "object", "^라면", "a steaming pot of ramyeon", "eating ramyeon from a small pot"),
        _t("tteokbokki", "object", "떡볶이", "a plate of spicy tteokbokki", "sharing a plate of tteokbokki"),
        _t("soju", "object", "소주", "green soju bottles on a table", "pouring a small glass of soju"),
        _t("beer", "object", "맥주", "cans of beer on a table", "holding a can of beer"),
        _t("laptop", "object", "노트북", "an open laptop on a desk", "typing on a laptop"),
        _t("monitor", "object", "컴퓨터|모니터", "a computer monitor on a desk", "staring at a computer monitor"),
        _t("flyers", "object", "전단지", "paper flyers taped to a wall", "holding a stack of paper flyers"),
        _t("gift", "object", "선물", "a wrapped gift box", "holding a wrapped gift"),
        _t("letter", "object", "편지", "a handwritten letter", "holding a handwritten letter"),
        _t("cake", "object", "케이크", "a birthday cake with candles", "holding a birthday cake"),
        _t("lunch_box", "object", "도시락", "a home-made lunch box", "opening a home-made lunch box"),
        _t("bicycle", "object", "자전거", "a parked bicycle", "walking beside a bicycle"),
        _t("wallet", "object", "지갑", "a leather wallet", "holding a leather wallet"),
    )


_SPACE_RE = re.compile(r"\s+")


def _is_word_char(char: str) -> bool:
    return char.isalnum()


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _occurrences(text: str, stem: str) -> list[tuple[int, int]]:
    """Spans where `stem` matches in `text` (already lower-cased), honouring ``^`` and ASCII boundaries."""
    word_start = stem.startswith("^")
    needle = stem[1:] if word_start else stem
    spans: list[tuple[int, int]] = []
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        before = text[start - 1] if start > 0 else " "
        after = text[end] if end < len(text) else " "
        ok = not (word_start and _is_word_char(before))
        if _is_ascii_alnum(needle[0]) and _is_ascii_alnum(before):
            ok = False
        if _is_ascii_alnum(needle[-1]) and _is_ascii_alnum(after):
            ok = False
        if ok:
            spans.append((start, end))
        start = text.find(needle, start + 1)
    return spans


def find_terms(text: str) -> list[Term]:
    """The lexicon's terms named in `text`, in order of first appearance, each once, blockers left out.

    At each position the longest stem wins and matches overlapping an accepted one are dropped (ties go to the
    term listed first), so the result does not depend on anything but the text.
    """
    return list(_find_terms(text))


@lru_cache(maxsize=2048)
def _find_terms(text: str) -> tuple[Term, ...]:
    """`find_terms`, cached: a post's title and summary are searched once per scene and mode."""
    normalised = _SPACE_RE.sub(" ", text).strip().lower()
    candidates: list[tuple[int, int, int, Term]] = []
    for order, term in enumerate(lexicon()):
        for stem in term.stems:
            for start, end in _occurrences(normalised, stem.lower()):
                candidates.append((start, -(end - start), order, term))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    taken: list[tuple[int, int]] = []
    found: list[Term] = []
    for start, negative_length, _, term in candidates:
        end = start - negative_length
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        if term.kind != "block" and term not in found:
            found.append(term)
    return tuple(found)


@dataclass(frozen=True)
class SceneElements:
    """What a scene shows, as lexicon terms: up to two people, one animal, two objects, one of each other."""

    people: tuple[Term, ...] = ()
    animals: tuple[Term, ...] = ()
    objects: tuple[Term, ...] = ()
    setting: Term | None = None
    weather: Term | None = None
    time: Term | None = None

    @property
    def empty(self) -> bool:
        return not (self.people or self.animals or self.objects or self.setting or self.weather or self.time)


_CAPS = {"person": 2, "animal": 1, "object": 2}


def _of(terms: list[Term], kind: TermKind) -> tuple[Term, ...]:
    return tuple(term for term in terms if term.kind == kind)[: _CAPS.get(kind, 1)]


def scene_elements(scene_text: str, title: str = "", body_summary: str = "") -> SceneElements:
    """The scene's elements: its own words first, the post's title and summary as context.

    Who and what is shown (people, animal, objects) comes from the scene text when it names any of them, else
    from the title and summary together (the title first). The setting, weather and time of day are each taken
    from the scene when it names one, else from the context: a rainy-day post stays rainy in every scene.
    """
    own = find_terms(scene_text)
    context = find_terms(f"{title}\n{body_summary}")
    subject_source = own if any(t.kind in ("person", "animal", "object") for t in own) else context

    def first(kind: TermKind) -> Term | None:
        for source in (own, context):
            matched = _of(source, kind)
            if matched:
                return matched[0]
        return None

    return SceneElements(
        people=_of(subject_source, "person"),
        animals=_of(subject_source, "animal"),
        objects=_of(subject_source, "object"),
        setting=first("setting"),
        weather=first("weather"),
        time=first("time"),
    )
