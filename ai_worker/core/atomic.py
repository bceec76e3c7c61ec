"""Writing a file so that a reader sees no file or the whole file, never half of one: the one way this
project does it (downloaded images, clips from ComfyUI, FFmpeg's outputs, the manifest, the reports).

The bytes go to a ``.part`` file beside the destination and are renamed over it when the writing block ends
normally. Beside, because a rename is atomic only within one file system, and the destination's own folder is
the one place sure to be on the destination's file system. The part file is hidden (a leading dot), unique
(two writers of one destination never share one), and keeps the destination's extension, so a tool that
picks a format by the name (FFmpeg's muxer) picks the destination's. Whatever stops the block (an error, a
failed check, a task cancelled, Ctrl-C) removes the part file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

PART_MARK = ".part"
"""What every part file's name carries (before the destination's extension)."""


def part_path(dest: Path) -> Path:
    """A unique hidden name beside `dest` that keeps its extension: ``clip.mp4`` -> ``.clip.1a2b3c4d.part.mp4``."""
    return dest.with_name(f".{dest.stem}.{uuid.uuid4().hex[:8]}{PART_MARK}{dest.suffix}")


class PartFile:
    """The file a writing block writes (`path`), and where it goes when the block ends normally (`dest`)."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.path = part_path(dest)

    def retarget(self, dest: Path) -> None:
        """Send the finished file to `dest` instead, for a name only the content decides (a downloaded image's
        extension comes from its detected format). `dest` must be in the same folder, or the rename would not
        be atomic."""
        if dest.parent != self.path.parent:
            raise ValueError(f"{dest} is not in {self.path.parent}: the rename would not be atomic")
        self.dest = dest


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[PartFile]:
    """Write ``part.path`` in the block; it becomes `dest` (replacing any file there) when the block ends
    normally, and is removed when anything stops the block or the rename fails. `dest`'s folder is made."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = PartFile(dest)
    try:
        yield part
        part.path.replace(part.dest)
    finally:
        # After a successful rename there is nothing left to remove; otherwise the half file goes.
        with contextlib.suppress(FileNotFoundError):
            part.path.unlink()


def write_text_atomic(dest: Path, text: str, *, fsync: bool = True) -> None:
    """Write `text` (UTF-8) to `dest` atomically. With `fsync` (the default) the bytes reach the disk before
    the rename, so a power cut leaves the old file or the new one, not an empty one."""
    with atomic_file(dest) as part, part.path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


def remove_leftover_parts(folder: Path, extra_patterns: tuple[str, ...] = ()) -> list[Path]:
    """Remove the part files a killed writer left anywhere under `folder` (hidden names carrying `PART_MARK`,
    and hidden files matching `extra_patterns`); returns what was removed. Call it only while holding the
    folder's lock: a running writer's part file must not go."""
    if not folder.is_dir():
        return []
    removed: list[Path] = []
    for pattern in (f".*{PART_MARK}*", *extra_patterns):
        for path in folder.rglob(pattern):
            if path.is_file() and not path.is_symlink():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed
