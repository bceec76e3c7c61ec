"""The manifest's file paths on disk: relative to the manifest's folder, so the folder can move.

In memory the stage uses paths as it made them (absolute, or relative to the working directory); these
functions convert them in the manifest's JSON form, both ways, without touching the file system.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

PATH_PARAM_KEYS = ("init_image",)
"""Attempt parameters that hold a file path (made relative on disk like every other path)."""


def _collapse(path: Path) -> Path:
    """`path` with "." and "name/.." removed lexically (symlinks are not followed: the folder may be moved)."""
    parts: list[str] = []
    for part in path.parts:
        if part == ".":
            continue
        if part == ".." and parts and parts[-1] != ".." and parts[-1] != path.anchor:
            parts.pop()
        else:
            parts.append(part)
    return Path(*parts) if parts else Path()


def relative_to_folder(path: str, folder: Path) -> str:
    """`path` (absolute, or relative to the working directory) relative to `folder`, POSIX-style, stepping up
    with ".." where needed; absolute when no relative path exists (another drive)."""
    target, start = _collapse(Path(path).absolute()), _collapse(folder.absolute())
    if target.anchor != start.anchor:
        return str(target)
    common = 0
    for a, b in zip(target.parts, start.parts, strict=False):
        if a != b:
            break
        common += 1
    steps = [".."] * (len(start.parts) - common) + list(target.parts[common:])
    return Path(*steps).as_posix() if steps else "."


def resolve_in_folder(path: str, folder: Path) -> str:
    """The inverse of `relative_to_folder`: a relative path read from disk, as the stage uses it."""
    if Path(path).is_absolute():
        return path
    return str(_collapse(folder / path))


def _convert_lines(lines: object, convert: Callable[[str], str]) -> None:
    if not isinstance(lines, list):
        return
    for line in lines:
        if isinstance(line, dict) and isinstance(line.get("audio"), str):
            line["audio"] = convert(line["audio"])


def _convert_params(params: object, convert: Callable[[str], str]) -> None:
    if isinstance(params, dict):
        for key in PATH_PARAM_KEYS:
            if isinstance(params.get(key), str):
                params[key] = convert(params[key])


def convert_paths(data: dict[str, Any], convert: Callable[[str], str]) -> dict[str, Any]:
    """Apply `convert` to every file path of a manifest in its JSON form (in place; returns `data`)."""
    for scene in data.get("scenes") or []:
        if not isinstance(scene, dict):
            continue
        for key in ("clip_path", "image_path"):
            if isinstance(scene.get(key), str):
                scene[key] = convert(scene[key])
        _convert_lines(scene.get("text_lines"), convert)
        for attempt in scene.get("attempts") or []:
            if isinstance(attempt, dict):
                _convert_params(attempt.get("params"), convert)
        pending = scene.get("pending")
        if isinstance(pending, dict):
            _convert_params(pending.get("params"), convert)
    for final in data.get("final_scenes") or []:
        if isinstance(final, dict):
            if isinstance(final.get("clip_path"), str):
                final["clip_path"] = convert(final["clip_path"])
            _convert_lines(final.get("text_lines"), convert)
    return data
