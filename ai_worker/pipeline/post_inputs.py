"""A self-contained post folder: every image and narration file a post uses is copied into
``<post folder>/inputs/`` under a name its content decides (`core.content.copy_by_content`), and the scenes
point at the copies, so the manifest names only files inside the folder and the folder can be moved (the
preview keeps its narration). A file that cannot be read stays as it was named; the step that reads it says
why (narration falls back to an estimate, an image to text-to-video)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ai_worker.core.content import copy_by_content
from ai_worker.model.scene import SceneDecision

logger = logging.getLogger(__name__)

INPUTS_FOLDER = "inputs"


def _copied(path: str, folder: Path, copies: dict[str, str]) -> str:
    if path not in copies:
        try:
            copies[path] = str(copy_by_content(Path(path), folder))
        except OSError as exc:
            logger.warning("input %s not copied into the post folder (%s)", path, exc.strerror or exc)
            copies[path] = path
    return copies[path]


def copy_post_inputs(scenes: Sequence[SceneDecision], post_folder: Path) -> None:
    """Point every scene's image, init image and line audio at its copy in ``post_folder/inputs/``."""
    folder = post_folder / INPUTS_FOLDER
    copies: dict[str, str] = {}
    for scene in scenes:
        if scene.image_path:
            scene.image_path = _copied(scene.image_path, folder, copies)
        if scene.video_init_image:
            scene.video_init_image = _copied(scene.video_init_image, folder, copies)
        for line in scene.text_lines:
            if isinstance(line, dict) and line.get("audio"):
                line["audio"] = _copied(line["audio"], folder, copies)
