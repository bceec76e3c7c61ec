"""Where the stage writes (all under one output folder, names made safe for it) and which local files it reads."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

_UNSAFE = re.compile(r"[^0-9A-Za-z\uac00-\ud7a3\u3131-\u318e._-]+")
"""Kept: ASCII letters, digits, '.', '_', '-' and Hangul (syllables and compatibility jamo)."""


def safe_name(raw: str, *, max_length: int = 64) -> str:
    """A folder/file name from arbitrary text (a post id): no separators, no dots at the start, bounded.

    Hangul is kept (NFC, so a name typed on macOS is the same folder). Any id that is not already a plain
    ASCII name gets a short hash of the id as a suffix, so different ids that clean to the same text never
    share a folder; plain ASCII ids keep their exact name.

    >>> safe_name("dc_123"), safe_name("고양이 찾음")
    ('dc_123', '고양이_찾음_9e1b21f3')
    """
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", raw)).strip("._")[:max_length]
    if cleaned != raw or not cleaned or not cleaned.isascii():
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned or 'post'}_{digest}"
    return cleaned


def post_dir(out_dir: Path, post_id: str) -> Path:
    """The folder of one post's clips and manifest."""
    return out_dir / safe_name(post_id)


def image_cache_dir(out_dir: Path, post_id: str) -> Path:
    """The image cache of docs/spec.md, `<out>/tmp/vid_img_cache_{post_id}`, with the post id made safe."""
    return out_dir / "tmp" / f"vid_img_cache_{safe_name(post_id)}"


def is_url(source: str) -> bool:
    """True for anything with a URL scheme (http(s) or not); a Windows drive letter is a path."""
    try:
        parts = urlsplit(source)
    except ValueError:
        return "://" in source  # a malformed URL is still a URL (and is refused as one), never a path
    return len(parts.scheme) > 1 and ("://" in source or parts.scheme in ("data", "javascript", "file"))


def local_path_refusal(base_dir: Path, raw: str) -> str | None:
    """Why `raw` may not be read as a file of the post folder `base_dir`; None when it may.

    Only paths relative to the post file that stay inside its folder after symlinks are resolved are allowed:
    an absolute path, a network path (``//host/...``), ``~`` and a ``..`` or symlink escape are refused, so a
    post file can never make the stage read (and upload to ComfyUI) a file from elsewhere on the machine.
    """
    if raw.startswith("~"):
        return "a home-folder path ('~') is not allowed; use a path relative to the post file"
    if raw.startswith(("/", "\\")) or Path(raw).is_absolute():
        return "an absolute or network path is not allowed; use a path relative to the post file"
    try:
        base = base_dir.resolve()
        resolved = (base / raw).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        return f"cannot be resolved ({type(exc).__name__})"
    if not resolved.is_relative_to(base):
        return f"resolves outside the post file's folder {base}"
    return None
