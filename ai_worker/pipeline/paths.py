"""Where the stage writes, all under one output folder, and names made safe for it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")


def safe_name(raw: str, *, max_length: int = 64) -> str:
    """A folder/file name from arbitrary text (a post id): no separators, no dots at the start, bounded.

    Different inputs that clean to the same text get a short hash suffix, so they never share a folder.
    """
    cleaned = _UNSAFE.sub("_", raw).strip("._")[:max_length]
    if cleaned != raw or not cleaned:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned or 'post'}_{digest}"
    return cleaned


def post_dir(out_dir: Path, post_id: str) -> Path:
    """The folder of one post's clips and manifest."""
    return out_dir / safe_name(post_id)


def image_cache_dir(out_dir: Path, post_id: str) -> Path:
    """The seed's image cache, `<out>/tmp/vid_img_cache_{post_id}`, with the post id made safe."""
    return out_dir / "tmp" / f"vid_img_cache_{safe_name(post_id)}"
