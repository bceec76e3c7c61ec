"""The post's visual anchor as data: the look every scene's prompt keeps, stored in the manifest.

How an anchor is written (by the LLM or from the lexicon) is `ai_worker.prompts.anchor`'s business.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

TimeOfDay = Literal["dawn", "morning", "daytime", "evening", "night"]
SubjectKind = Literal["person", "people", "animal"]

TIME_PHRASES: dict[str, str] = {
    "dawn": "at dawn",
    "morning": "in the morning",
    "daytime": "during the day",
    "evening": "in the evening",
    "night": "at night",
}
MAX_SUBJECT_WORDS = 16
MAX_PLACE_WORDS = 16
MAX_PALETTE_WORDS = 12


class VisualAnchor(BaseModel):
    """The post's look, shared by every scene."""

    model_config = ConfigDict(frozen=True)

    subject: str
    """The main character as every T2V prompt names it, e.g. 'a Korean woman in her twenties in a beige coat'."""
    subject_kind: SubjectKind = "person"
    place: str
    """Where most scenes happen, as a phrase starting with a preposition ('in a small Korean cafe in Seoul')."""
    time_of_day: TimeOfDay | None = None
    palette: str
    source: str = "fallback"

    @property
    def time_phrase(self) -> str:
        return TIME_PHRASES[self.time_of_day] if self.time_of_day else ""

    def brief(self) -> str:
        """The anchor as the LLM reads it."""
        when = self.time_of_day or "not fixed"
        return (
            f"main character: {self.subject}; usual place: {self.place}; time of day: {when}; "
            f"colour palette: {self.palette}"
        )
