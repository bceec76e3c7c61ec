"""Contradictions in a prompt, as data: groups of terms that cannot describe the same moment.

A fallback prompt is assembled from parts written separately (the scene's place, weather and time, the
mood's style hint, a camera hint, the mood's sound), so "at night" could meet "soft golden-hour light".
`TERM_GROUPS` names what a phrase can say about the moment; `EXCLUSIONS` lists the pairs of groups that
exclude each other (time of day, weather, indoors and outdoors). `contradictions` finds them in a text, and
`consistent_clauses` keeps only the clauses of an optional part that agree with what the prompt already
says. Pure; no LLM answers are judged here (a free paragraph can say "a cafe window looking onto the rainy
street" and be right). Patterns are compiled on first use.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

__all__ = ["EXCLUSIONS", "TERM_GROUPS", "agrees", "consistent_clauses", "contradictions", "found", "groups_in"]

TERM_GROUPS: dict[str, tuple[str, ...]] = {
    # Time of day.
    "night": (r"night(?:time|s)?", r"midnight", r"moonli(?:t|ght)", r"after dark", r"late-night"),
    "evening": (r"evening",),
    "sunset": (r"sunset", r"dusk", r"setting sun", r"golden[- ]hour", r"golden light"),
    "midday": (r"midday", r"noon", r"afternoon", r"lunchtime", r"during the day"),
    "morning": (r"morning",),
    "dawn": (r"dawn", r"sunrise", r"daybreak"),
    "sunlight": (r"daylight", r"sunlight", r"sunlit", r"sunny", r"sunshine", r"blue sky", r"bright sun"),
    # Weather.
    "rain": (r"rain(?:s|ing|y|drops?|-streaked|fall)?", r"drizzle", r"downpour"),
    "snow": (r"snow(?:s|ing|y|fall|flakes?)?",),
    "heat": (r"sweltering", r"heatwave", r"summer heat", r"scorching"),
    "cold": (r"freezing (?:winter|cold|weather|air)", r"winter cold", r"frost(?:y)?"),
    "clear sky": (r"sunny", r"sunshine", r"sunlit", r"clear sky", r"cloudless", r"blue sky"),
    # Where the subject is. "office" as a kind of clothes or worker, an apartment's grounds, are not inside.
    "indoors": (
        r"office(?![ -](?:building|blouse|workers?|shirt|attire|clothes|lanyard))", r"cafe", r"convenience store",
        r"classroom", r"restaurant", r"clinic", r"hospital", r"corridor", r"hallway", r"elevator", r"stairwell",
        r"subway car", r"kitchen", r"supermarket", r"taxi", r"city bus", r"terminal", r"meeting room",
        r"living room", r"apartment(?! complex| building| block| parking)", r"indoors",
    ),
    "outdoors": (
        r"in the rain", r"in falling snow", r"under the open sky", r"street", r"alley", r"park", r"beach",
        r"Han River", r"bus stop", r"parking lot", r"campus", r"crosswalk", r"sidewalk",
    ),
    # Any statement about the light: dropped from a style hint when the time of day already sets it.
    "lighting": (r"\w*light(?:s|ing)?", r"lit", r"overcast"),
}

EXCLUSIONS: tuple[tuple[str, str], ...] = (
    # Time of day: each period excludes the others it cannot overlap; evening light is not daylight.
    ("night", "sunlight"), ("night", "sunset"), ("night", "midday"), ("night", "morning"), ("night", "dawn"),
    ("evening", "sunlight"), ("evening", "midday"), ("evening", "morning"), ("evening", "dawn"),
    ("sunset", "midday"), ("sunset", "morning"), ("sunset", "dawn"),
    ("midday", "morning"), ("midday", "dawn"),
    # Weather.
    ("rain", "clear sky"), ("rain", "snow"), ("snow", "clear sky"), ("snow", "heat"), ("heat", "cold"),
    # A subject inside a room is not standing in the street (rain indoors is "while it rains outside").
    ("indoors", "outdoors"),
)  # fmt: skip


@cache
def _pattern(group: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(TERM_GROUPS[group]) + r")\b", re.IGNORECASE)


def found(group: str, text: str) -> str | None:
    """The first term of `group` in `text`, or None."""
    match = _pattern(group).search(text)
    return match.group(0) if match else None


def contradictions(text: str) -> list[str]:
    """Every exclusion `text` breaks, as "group vs group ('term' / 'term')"; empty when consistent."""
    broken: list[str] = []
    for first, second in EXCLUSIONS:
        a, b = found(first, text), found(second, text)
        if a and b:
            broken.append(f"{first} vs {second} ({a!r} / {b!r})")
    return broken


@lru_cache(maxsize=4096)
def groups_in(text: str) -> frozenset[str]:
    """The names of the term groups `text` says something about (cached: prompts share their parts)."""
    return frozenset(group for group in TERM_GROUPS if found(group, text))


def _clash(context: frozenset[str], addition: frozenset[str]) -> bool:
    for a, b in EXCLUSIONS:
        if b in addition and (a in context or a in addition):
            return True
        if a in addition and b in context:
            return True
    return False


def agrees(context: str, addition: str) -> bool:
    """Whether `addition` can join `context` without a contradiction (inside itself or with it)."""
    return not _clash(groups_in(context), groups_in(addition))


_CLAUSE_SPLIT = re.compile(r",\s+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")


def consistent_clauses(context: str, part: str, *, capitalise: bool = True, drop: str | None = None) -> str:
    """`part` (sentences of comma clauses) without the clauses that contradict `context` or each other's
    kept predecessors, and without those that say something of group `drop`; "" when nothing is left. The
    first kept clause is capitalised (unless `capitalise` is off), each sentence keeps its punctuation."""
    kept_sentences: list[str] = []
    seen = groups_in(context)
    for sentence in _SENTENCE_SPLIT.split(part.strip()):
        if not sentence:
            continue
        end = sentence[-1] if sentence[-1] in ".!?" else "."
        kept: list[str] = []
        for clause in _CLAUSE_SPLIT.split(sentence.rstrip(".!? ")):
            said = groups_in(clause)
            if clause and not _clash(seen, said) and drop not in said:
                kept.append(clause)
                seen |= said
        if kept:
            text = ", ".join(kept)
            first = text[0].upper() if capitalise else text[0]
            kept_sentences.append(first + text[1:] + end)
    return " ".join(kept_sentences)
