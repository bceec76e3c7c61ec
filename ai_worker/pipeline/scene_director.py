"""Scenes as the pipeline passes them between phases (Phase 4 output), and Phase 4.5.

`SceneDecision` carries the seed's scene fields and its five video fields, plus what this stage records
about the image and the prompts so that the manifest can explain every decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from config.settings import Settings

logger = logging.getLogger(__name__)

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

    # The seed's five video fields.
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

    @property
    def text(self) -> str:
        """All the scene's words, one line per script line."""
        return "\n".join(line_text(line) for line in self.text_lines)


async def assign_video_modes(
    scenes: list[SceneDecision], *, post_id: str, settings: Settings, out_dir: Path, base_dir: Path
) -> None:
    """Phase 4.5: set each scene's `video_mode` (the seed's section 3).

    ``text_only``, ``intro`` and ``outro`` are text-to-video. An image scene's image is fetched (URL, or a path
    relative to `base_dir`, the post file's folder) and scored; it is image-to-video when the score reaches
    VIDEO_I2V_THRESHOLD, the image is a photo and not wider than 3:1. The score, category and reasons are
    recorded on the scene either way; a failed download records why and falls back to text-to-video.
    Never raises for a bad image.
    """
    # Imported here: the video package builds on this module, so a module-level import would be circular.
    from ai_worker.video.image_selection import apply_choice, choose_for_images

    image_scenes = [s for s in scenes if s.type in IMAGE_SCENE_TYPES and s.image_url]
    chosen = {id(s) for s in image_scenes}
    for scene in scenes:
        if id(scene) not in chosen:
            scene.video_mode = "t2v"
            scene.video_init_image = None
            if scene.type in IMAGE_SCENE_TYPES:
                scene.image_score = 0.0
                scene.image_category = "unknown"
                scene.image_reasons = ["no_image: the scene has no image_url"]
    if not image_scenes:
        return
    choices = await choose_for_images(
        [s.image_url or "" for s in image_scenes],
        post_id=post_id,
        settings=settings,
        out_dir=out_dir,
        base_dir=base_dir,
    )
    for scene, choice in zip(image_scenes, choices, strict=True):
        apply_choice(scene, choice)
    logger.info(
        "post %s: %d of %d scenes image-to-video",
        post_id,
        sum(1 for s in scenes if s.video_mode == "i2v"),
        len(scenes),
    )
