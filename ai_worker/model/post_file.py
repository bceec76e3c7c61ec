"""The post file: one post's script as JSON, loaded and checked with errors that name file, scene and field.

Format (local image paths are relative to the post file and must stay inside its folder; http(s) URLs are
downloaded)::

    {"post_id": "...", "title": "...", "body_summary": "...", "mood": "daily",
     "scenes": [{"type": "img_text", "text_lines": ["...", {"text": "...", "audio": "a.wav"}],
                 "image_url": "https://... | images/x.jpg"}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_worker.core.errors import PostFileError
from ai_worker.model.paths import is_url, local_path_refusal
from ai_worker.model.scene import IMAGE_SCENE_TYPES, SCENE_TYPES, SceneDecision, TextLine
from ai_worker.model.styles import DEFAULT_MOOD, MOODS, known_mood

MAX_POST_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class Post:
    """A loaded post: its metadata, its scenes, and the folder local paths are relative to."""

    post_id: str
    title: str
    body_summary: str
    mood: str
    """The mood used: the file's when it is a known mood, else `daily`."""
    scenes: list[SceneDecision]
    source_path: Path
    mood_given: str | None = None
    """The file's mood when it is not a known one (`mood` is then the one used instead)."""

    @property
    def mood_warning(self) -> str | None:
        """One line saying an unknown mood was replaced, or None."""
        if self.mood_given is None:
            return None
        return (f"{self.source_path}, field 'mood': unknown mood {self.mood_given!r} (known: {', '.join(MOODS)}); "
                f"using {self.mood!r}")

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


def _parse_line(path: Path, raw: object, scene: int, index: int, refused: list[PostFileError]) -> TextLine:
    """One line; an audio path that leaves the post file's folder is refused by name (added to `refused`) and
    the line is kept without it, as image paths are."""
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
            refusal = local_path_refusal(path.parent, audio)
            if refusal is not None:
                refused.append(PostFileError(
                    path, f"audio path {audio!r} refused: {refusal} (the line is kept without its audio)",
                    scene=scene, field=name,
                ))
                return line
            # Relative to the post file, like local images; resolved here so the path means the same file
            # wherever the stage runs from (the manifest then stores it relative to the output folder).
            line["audio"] = str(path.parent.resolve() / audio)
        return line
    raise PostFileError(path, f"must be a string or {{'text', 'audio'}}, got {raw!r}", scene=scene, field=name)


def parse_scene(
    path: Path, raw: object, index: int, refused: list[PostFileError] | None = None
) -> SceneDecision:
    """One scene from its JSON form; raises `PostFileError` naming the scene and field. Refused audio paths
    are added to `refused` (the scene is kept, and its `input_error` says so)."""
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
    refused_here: list[PostFileError] = []
    lines = [_parse_line(path, item, index, i, refused_here) for i, item in enumerate(raw_lines)]
    image_url = raw.get("image_url")
    if image_url is not None and (not isinstance(image_url, str) or not image_url.strip()):
        raise PostFileError(path, "must be a URL or a path string", scene=index, field="image_url")
    if scene_type in IMAGE_SCENE_TYPES and image_url is None:
        raise PostFileError(path, f"a '{scene_type}' scene needs an image", scene=index, field="image_url")
    if refused is not None:
        refused.extend(refused_here)
    return SceneDecision(
        type=scene_type,
        text_lines=lines,
        image_url=image_url.strip() if isinstance(image_url, str) else None,
        source_index=index,
        input_error="; ".join(str(error) for error in refused_here) or None,
    )


def salvage_lines(raw: object, base_dir: Path | None = None) -> list[TextLine]:
    """Every line that can be read from a scene the loader rejected: strings and ``{"text": str}`` objects as
    they are, numbers as their text. What holds no words at all (null, a list, an object without text) is
    nothing to keep. An audio path is kept (resolved against `base_dir`) only where it stays inside it."""
    raw_lines = raw.get("text_lines") if isinstance(raw, dict) else None
    if isinstance(raw_lines, str):
        raw_lines = [raw_lines]  # one line written without its list
    if not isinstance(raw_lines, list):
        return []
    lines: list[TextLine] = []
    for item in raw_lines:
        if isinstance(item, str):
            lines.append(item)
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            audio = item.get("audio")
            if isinstance(audio, str) and base_dir is not None and local_path_refusal(base_dir, audio) is None:
                lines.append({"text": item["text"], "audio": str(base_dir.resolve() / audio)})
            else:
                lines.append({"text": item["text"]})
        elif isinstance(item, int | float) and not isinstance(item, bool):
            lines.append(str(item))
    return lines


def rejected_scene(path: Path, raw: object, error: PostFileError) -> tuple[SceneDecision | None, PostFileError]:
    """A scene the loader could not take as written, kept as a text-only scene with every line it had (the
    script's first promise: no line is lost; None when it had none), and its error saying what became of it."""
    lines = salvage_lines(raw, path.parent)
    outcome = f"its {len(lines)} line(s) kept in a text-only scene" if lines else "it has no line to keep; left out"
    told = PostFileError(path, f"{error.problem} ({outcome})", scene=error.scene, field=error.field)
    if not lines:
        return None, told
    return SceneDecision(type="text_only", text_lines=lines, source_index=error.scene, input_error=str(told)), told


def refuse_image_path(path: Path, scene: SceneDecision) -> PostFileError | None:
    """A local image path that leaves the post file's folder is refused here, by name; the scene keeps its type
    and lines and becomes text-to-video (Phase 4.5's fetcher refuses the same path again, so nothing reads it)."""
    if scene.image_url is None or is_url(scene.image_url):
        return None
    refusal = local_path_refusal(path.parent, scene.image_url)
    if refusal is None:
        return None
    error = PostFileError(
        path, f"image path {scene.image_url!r} refused: {refusal} (the scene is text-to-video)",
        scene=scene.source_index, field="image_url",
    )
    scene.input_error = "; ".join(e for e in (scene.input_error, str(error)) if e)
    return error


def wordless_scene(path: Path, scene: SceneDecision) -> PostFileError | None:
    """The error that says a scene stays static for want of words (`SceneDecision.static_for_want_of_words`)."""
    if not scene.static_for_want_of_words:
        return None
    error = PostFileError(
        path, "no line with words: kept as a static scene (no clip is made for it)",
        scene=scene.source_index, field="text_lines",
    )
    scene.input_error = str(error)
    return error


def load_post(path: Path) -> tuple[Post, list[PostFileError]]:
    """Load a post file.

    A file-level problem (missing, not JSON, bad top-level field) raises `PostFileError`. A bad scene does
    not stop the others, and loses no line: it becomes a text-only scene with the lines it had (its
    `input_error` says why), and its error is returned beside the post, so the caller can report it and go on.
    A local image path outside the post file's folder is such an error too (the scene becomes text-to-video),
    and so is a text scene without words (kept as a static scene). An unknown mood is replaced by `daily`
    (`Post.mood_given` keeps the file's). Nothing is logged here: the caller reports the errors, once.
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
        refused_audio: list[PostFileError] = []
        try:
            scene = parse_scene(path, raw, index, refused_audio)
        except PostFileError as exc:
            kept, told = rejected_scene(path, raw, exc)
            errors.append(told)
            if kept is not None:
                scenes.append(kept)
            continue
        for problem in (*refused_audio, refuse_image_path(path, scene), wordless_scene(path, scene)):
            if problem is not None:
                errors.append(problem)
        scenes.append(scene)
    if not scenes:
        raise PostFileError(path, "no usable scene: " + "; ".join(str(e) for e in errors), field="scenes")
    post = Post(
        post_id=post_id,
        title=title,
        body_summary=summary_raw.strip(),
        mood=known_mood(mood_raw) or DEFAULT_MOOD,
        scenes=scenes,
        source_path=path.resolve(),
        mood_given=None if known_mood(mood_raw) else mood_raw.strip(),
    )
    return post, errors
