"""Scenes as the pipeline passes them between phases (Phase 4 output). Phase 4.5 is in `video_modes`.

`SceneDecision` carries docs/spec.md's scene fields and its five video fields, plus what this stage records
about the image and the prompts so that the manifest can explain every decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

SceneType = Literal["text_only", "img_text", "img_only", "intro", "outro"]
SCENE_TYPES: tuple[str, ...] = ("text_only", "img_text", "img_only", "intro", "outro")
IMAGE_SCENE_TYPES: tuple[str, ...] = ("img_text", "img_only")

TextLine: TypeAlias = str | dict[str, str]
"""A script line: plain text, or ``{"text": ..., "audio": path}`` once Phase 5 (TTS) has run."""


def line_text(line: TextLine) -> str:
    """The words of a line, whatever its form."""
    if isinstance(line, str):
        return line
    return line.get("text", "")


@dataclass
class SceneDecision:
    """One scene of the script."""

    type: SceneType
    text_lines: list[TextLine] = field(default_factory=list)
    image_url: str | None = None

    # The five video fields (docs/spec.md, "SceneDecision's video fields").
    video_mode: Literal["t2v", "i2v"] | None = None
    video_prompt: str | None = None
    video_clip_path: str | None = None
    video_init_image: str | None = None
    video_generation_failed: bool = False

    # What this stage adds, for the manifest and the ladder.
    video_prompt_simple: str | None = None
    prompt_source: str | None = None
    image_score: float | None = None
    image_category: str | None = None
    image_reasons: list[str] = field(default_factory=list)
    source_index: int | None = None
    image_path: str | None = None
    """The scene's image on local disk (downloaded or local), set by Phase 4.5 even when the mode is t2v."""
    input_error: str | None = None
    """Why the post file's scene was not taken as written (an unknown type, a refused image path, ...); the
    scene still carries every line it had, so nothing of the script is lost."""

    @property
    def text(self) -> str:
        """All the scene's words, one line per script line."""
        return "\n".join(line_text(line) for line in self.text_lines)

    @property
    def static_for_want_of_words(self) -> bool:
        """A text scene (no image) without a line that has words: it stays static (no clip is made; nothing
        to show or narrate). Image scenes keep their mode: the image is what they show."""
        return self.type not in IMAGE_SCENE_TYPES and not self.text.strip()
