"""Files known by their content: a digest of their bytes, and a copy named by it.

A scene's identity uses the digest of its inputs (not their paths, which change with how a folder is spelled
or moved), and a post folder keeps a copy of every input it uses under a name its content decides, so two
scenes with the same picture share one file and a changed picture is a new file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ai_worker.core.atomic import atomic_file

DIGEST_NAME_LENGTH = 16
"""Hex digits of the SHA-256 digest that name a content-addressed copy (64 bits: no collision in a post)."""

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 hex digest of the file's bytes (read in chunks); raises OSError when it cannot be read."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def digest_or_none(path: str | os.PathLike[str] | None) -> str | None:
    """`file_digest` of a path that may be unset or unreadable (None then)."""
    if path is None:
        return None
    try:
        return file_digest(Path(path))
    except OSError:
        return None


def copy_by_content(source: Path, folder: Path) -> Path:
    """`source` copied into `folder` as ``<digest><suffix>`` (atomically; kept when already there). Returns the
    copy's path; raises OSError when `source` cannot be read or the copy cannot be written."""
    dest = folder / f"{file_digest(source)[:DIGEST_NAME_LENGTH]}{source.suffix.lower()}"
    if source.resolve() == dest.resolve() or dest.is_file():
        return dest
    with atomic_file(dest) as part:
        shutil.copyfile(source, part.path)
    return dest
