"""Phase 4.5: text- or image-to-video for every scene (docs/spec.md, 3 'Mode assignment').

The image work itself (fetch, score, decide) is `ai_worker.images.selection`, which takes image references
and returns one `ImageChoice` each; this module maps scenes to it and writes the choices back onto the scenes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ai_worker.images.selection import ImageChoice, choose_for_images
from ai_worker.model.scene import IMAGE_SCENE_TYPES, SceneDecision
from config.settings import Settings

logger = logging.getLogger(__name__)


def apply_choice(scene: SceneDecision, choice: ImageChoice) -> None:
    """Write a decision into the scene's fields (the manifest reads them from there)."""
    scene.video_mode = choice.mode
    scene.video_init_image = str(choice.image_path) if choice.mode == "i2v" and choice.image_path else None
    scene.image_path = str(choice.image_path) if choice.image_path is not None else None
    scene.image_score = choice.score if choice.score is not None else 0.0
    scene.image_category = choice.category or "unknown"
    scene.image_reasons = list(choice.reasons)


async def assign_video_modes(
    scenes: list[SceneDecision], *, post_id: str, settings: Settings, out_dir: Path, base_dir: Path
) -> None:
    """Set each scene's `video_mode`.

    ``text_only``, ``intro`` and ``outro`` are text-to-video (one without a line that has words stays
    static). An image scene's image is fetched (URL, or a path
    relative to `base_dir`, the post file's folder, that stays inside it) and scored; it is image-to-video when
    the score reaches VIDEO_I2V_THRESHOLD, the image is a photo and not wider than 3:1. The score, category and
    reasons are recorded on the scene either way; any failure records why and falls back to text-to-video.
    Never raises for a bad image.
    """
    image_scenes = [s for s in scenes if s.type in IMAGE_SCENE_TYPES and s.image_url]
    chosen = {id(s) for s in image_scenes}
    for scene in scenes:
        if scene.static_for_want_of_words:
            scene.video_mode = None  # nothing to show or narrate: kept static, never a clip of nothing
            scene.video_init_image = None
            continue
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
