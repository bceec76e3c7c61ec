"""Contradictions in a prompt, as data: groups of terms that cannot describe the same moment.

A fallback prompt is assembled from parts written separately (the scene's place, weather and time, the
mood's style hint, a camera hint, the mood's sound), so "at night" could meet "soft golden-hour light".
`EXCLUSIONS` lists the pairs of term groups that exclude each other (time of day, weather, indoors and
outdoors); `contradictions` finds them in a text, and `consistent_clauses` keeps only the clauses of an
optional part that agree with what the prompt already says. Pure; no LLM answers are judged here (a free
paragraph can say "a cafe window looking onto the rainy street" and be right).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["EXCLUSIONS", "Exclusion", "TermGroup", "agrees", "consistent_clauses", "contradictions"]


@dataclass(frozen=True)
class TermGroup:
    """Words that all say one thing about the moment (e.g. that it is night)."""

    name: str
    pattern: re.Pattern[str]

    def found(self, text: str) -> str | None:
        match = self.pattern.search(text)
        return match.group(0) if match else None


def _group(name: str, *terms: str) -> TermGroup:
    return TermGroup(name, re.compile(r"\b(?:" + "|".join(terms) + r")\b", re.IGNORECASE))


NIGHT = _group("night", r"night(?:time|s)?", r"midnight", r"moonli(?:t|ght)", r"after dark", r"late-night")
EVENING = _group("evening", r"evening")
SUNSET = _group("sunset", r"sunset", r"dusk", r"setting sun", r"golden[- ]hour", r"golden light")
MIDDAY = _group("midday", r"midday", r"noon", r"afternoon", r"lunchtime", r"during the day")
MORNING = _group("morning", r"morning")
DAWN = _group("dawn", r"dawn", r"sunrise", r"daybreak")
SUNLIGHT = _group(
    "sunlight", r"daylight", r"sunlight", r"sunlit", r"sunny", r"sunshine", r"blue sky", r"bright sun"
)
RAIN = _group("rain", r"rain(?:s|ing|y|drops?|-streaked|fall)?", r"drizzle", r"downpour")
SNOW = _group("snow", r"snow(?:s|ing|y|fall|flakes?)?")
HEAT = _group("heat", r"sweltering", r"heatwave", r"summer heat", r"scorching")
COLD = _group("cold", r"freezing (?:winter|cold|weather|air)", r"winter cold", r"frost(?:y)?")
CLEAR_SKY = _group("clear sky", r"sunny", r"sunshine", r"sunlit", r"clear sky", r"cloudless", r"blue sky")
INDOORS = _group(
    "indoors",
    r"office(?![ -](?:building|blouse|workers?|shirt|attire|clothes|lanyard))",
    r"cafe",
    r"convenience store",
    r"classroom",
    r"restaurant",
    r"clinic",
    r"hospital",
    r"corridor",
    r"hallway",
    r"elevator",
    r"stairwell",
    r"subway car",
    r"kitchen",
    r"supermarket",
    r"taxi",
    r"city bus",
    r"terminal",
    r"meeting room",
    r"living room",
    r"apartment(?! complex| building| block| parking)",
    r"indoors",
)
OUTDOORS = _group(
    "outdoors",
    r"in the rain",
    r"in falling snow",
    r"under the open sky",
    r"street",
    r"alley",
    r"park",
    r"beach",
    r"Han River",
    r"bus stop",
    r"parking lot",
    r"campus",
    r"crosswalk",
    r"sidewalk",
)
LIGHTING = _group("lighting", r"\w*light(?:s|ing)?", r"lit", r"overcast")
"""Any statement about the light; dropped from a style hint when the time of day already sets it."""


@dataclass(frozen=True)
class Exclusion:
    """Two groups that cannot both hold for one continuous shot."""

    first: TermGroup
    second: TermGroup

    @property
    def name(self) -> str:
        return f"{self.first.name} vs {self.second.name}"


def _pairs(group: TermGroup, *others: TermGroup) -> tuple[Exclusion, ...]:
    return tuple(Exclusion(group, other) for other in others)


EXCLUSIONS: tuple[Exclusion, ...] = (
    # Time of day: each period excludes the others it cannot overlap; evening light is not daylight.
    *_pairs(NIGHT, SUNLIGHT, SUNSET, MIDDAY, MORNING, DAWN),
    *_pairs(EVENING, SUNLIGHT, MIDDAY, MORNING, DAWN),
    *_pairs(SUNSET, MIDDAY, MORNING, DAWN),
    *_pairs(MIDDAY, MORNING, DAWN),
    # Weather.
    *_pairs(RAIN, CLEAR_SKY, SNOW),
    *_pairs(SNOW, CLEAR_SKY, HEAT),
    Exclusion(HEAT, COLD),
    # A subject inside a room is not standing in the street (rain indoors is "while it rains outside").
    Exclusion(INDOORS, OUTDOORS),
)


_GROUPS: tuple[TermGroup, ...] = (
    *{group.name: group for rule in EXCLUSIONS for group in (rule.first, rule.second)}.values(),
    LIGHTING,
)


def contradictions(text: str) -> list[str]:
    """Every exclusion `text` breaks, as 'group vs group ('term' / 'term')'; empty when consistent."""
    found: list[str] = []
    for rule in EXCLUSIONS:
        first, second = rule.first.found(text), rule.second.found(text)
        if first and second:
            found.append(f"{rule.name} ({first!r} / {second!r})")
    return found


def agrees(context: str, addition: str) -> bool:
    """Whether `addition` can join `context` without a contradiction (inside itself or with it)."""
    return not _clash(groups_in(context), groups_in(addition))


@lru_cache(maxsize=4096)
def groups_in(text: str) -> frozenset[str]:
    """The names of the term groups `text` says something about (cached: prompts share their parts)."""
    return frozenset(group.name for group in _GROUPS if group.found(text))


def _clash(context: frozenset[str], addition: frozenset[str]) -> bool:
    for rule in EXCLUSIONS:
        a, b = rule.first.name, rule.second.name
        if b in addition and (a in context or a in addition):
            return True
        if a in addition and b in context:
            return True
    return False


_CLAUSE_SPLIT = re.compile(r",\s+")


def consistent_clauses(
    context: str, part: str, *, capitalise: bool = True, drop: TermGroup | None = None
) -> str:
    """`part` (sentences of comma clauses) without the clauses that contradict `context` or each other's
    kept predecessors, and without those `drop` finds; "" when nothing is left. The first kept clause is
    capitalised (unless `capitalise` is off), each sentence ends with its own punctuation."""
    kept_sentences: list[str] = []
    seen = groups_in(context)
    for sentence in re.split(r"(?<=[.!?])\s+", part.strip()):
        if not sentence:
            continue
        end = sentence[-1] if sentence[-1] in ".!?" else "."
        kept: list[str] = []
        for clause in _CLAUSE_SPLIT.split(sentence.rstrip(".!? ")):
            said = groups_in(clause)
            if clause and not _clash(seen, said) and not (drop and drop.name in said):
                kept.append(clause)
                seen |= said
        if kept:
            text = ", ".join(kept)
            first = text[0].upper() if capitalise else text[0]
            kept_sentences.append(first + text[1:] + end)
    return " ".join(kept_sentences)
