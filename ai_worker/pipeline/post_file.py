"""The post file: one post's script as JSON, loaded and checked with errors that name file, scene and field.

Format (local image paths are relative to the post file; http(s) URLs are downloaded)::

    {"post_id": "...", "title": "...", "body_summary": "...", "mood": "daily",
     "scenes": [{"type": "img_text", "text_lines": ["...", {"text": "...", "audio": "a.wav"}],
                 "image_url": "https://... | images/x.jpg"}]}
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_worker.errors import PostFileError
from ai_worker.pipeline.scene_director import IMAGE_SCENE_TYPES, SCENE_TYPES, SceneDecision, TextLine

logger = logging.getLogger(__name__)

MAX_POST_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class Post:
    """A loaded post: its metadata, its scenes, and the folder local paths are relative to."""

    post_id: str
    title: str
    body_summary: str
    mood: str
    scenes: list[SceneDecision]
    source_path: Path

    @property
    def base_dir(self) -> Path:
        return self.source_path.parent


def _require_str(path: Path, data: dict[str, Any], key: str, *, scene: int | None = None) -> str:
    if key not in data:
        raise PostFileError(path, "missing required field", scene=scene, field=key)
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise PostFileError(path, f"must be a non-empty string, got {value!r}", scene=scene, field=key)
    return value.strip()


def _parse_line(path: Path, raw: object, scene: int, index: int) -> TextLine:
    name = f"text_lines[{index}]"
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        text = raw.get("text")
        if not isinstance(text, str):
            raise PostFileError(path, "a line object needs a string 'text'", scene=scene, field=name)
        line: dict[str, str] = {"text": text}
        audio = raw.get("audio")
        if audio is not None:
            if not isinstance(audio, str):
                raise PostFileError(path, "'audio' must be a path string", scene=scene, field=name)
            # Relative to the post file, like local images; resolved here so the path means the same file
            # wherever the stage runs from (the manifest then stores it relative to the output folder).
            line["audio"] = str(path.parent / audio)
        return line
    raise PostFileError(path, f"must be a string or {{'text', 'audio'}}, got {raw!r}", scene=scene, field=name)


def parse_scene(path: Path, raw: object, index: int) -> SceneDecision:
    """One scene from its JSON form; raises `PostFileError` naming the scene and field."""
    if not isinstance(raw, dict):
        raise PostFileError(path, f"a scene must be an object, got {type(raw).__name__}", scene=index)
    scene_type = raw.get("type")
    if scene_type is None:
        raise PostFileError(path, "missing required field", scene=index, field="type")
    if scene_type not in SCENE_TYPES:
        raise PostFileError(
            path, f"unknown scene type {scene_type!r} (expected one of {', '.join(SCENE_TYPES)})",
            scene=index, field="type",
        )
    raw_lines = raw.get("text_lines", [])
    if not isinstance(raw_lines, list):
        raise PostFileError(path, "must be a list", scene=index, field="text_lines")
    lines = [_parse_line(path, item, index, i) for i, item in enumerate(raw_lines)]
    image_url = raw.get("image_url")
    if image_url is not None and (not isinstance(image_url, str) or not image_url.strip()):
        raise PostFileError(path, "must be a URL or a path string", scene=index, field="image_url")
    if scene_type in IMAGE_SCENE_TYPES and image_url is None:
        raise PostFileError(path, f"a '{scene_type}' scene needs an image", scene=index, field="image_url")
    return SceneDecision(
        type=scene_type,
        text_lines=lines,
        image_url=image_url.strip() if isinstance(image_url, str) else None,
        source_index=index,
    )


def load_post(path: Path) -> tuple[Post, list[PostFileError]]:
    """Load a post file.

    A file-level problem (missing, not JSON, bad top-level field) raises `PostFileError`. A bad scene does
    not stop the others: it is left out and its error returned beside the post, so the caller can report
    it and go on.
    """
    if not path.exists():
        raise PostFileError(path, "file not found")
    if not path.is_file():
        raise PostFileError(path, "not a regular file")
    size = path.stat().st_size
    if size > MAX_POST_FILE_BYTES:
        raise PostFileError(path, f"file is {size} bytes, larger than the {MAX_POST_FILE_BYTES} byte limit")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PostFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise PostFileError(path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise PostFileError(path, f"top level must be an object, got {type(data).__name__}")

    post_id = _require_str(path, data, "post_id") if not isinstance(data.get("post_id"), int) else str(
        data["post_id"]
    )
    title = _require_str(path, data, "title")
    summary_raw = data.get("body_summary", "")
    if not isinstance(summary_raw, str):
        raise PostFileError(path, "must be a string", field="body_summary")
    mood_raw = data.get("mood", "daily")
    if not isinstance(mood_raw, str) or not mood_raw.strip():
        raise PostFileError(path, "must be a non-empty string", field="mood")
    raw_scenes = data.get("scenes")
    if raw_scenes is None:
        raise PostFileError(path, "missing required field", field="scenes")
    if not isinstance(raw_scenes, list) or not raw_scenes:
        raise PostFileError(path, "must be a non-empty list", field="scenes")

    scenes: list[SceneDecision] = []
    errors: list[PostFileError] = []
    for index, raw in enumerate(raw_scenes):
        try:
            scenes.append(parse_scene(path, raw, index))
        except PostFileError as exc:
            logger.warning("skipping scene: %s", exc)
            errors.append(exc)
    if not scenes:
        raise PostFileError(path, "no usable scene: " + "; ".join(str(e) for e in errors), field="scenes")
    post = Post(
        post_id=post_id,
        title=title,
        body_summary=summary_raw.strip(),
        mood=mood_raw.strip(),
        scenes=scenes,
        source_path=path.resolve(),
    )
    return post, errors
