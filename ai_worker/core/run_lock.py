"""One run per post output folder at a time: an advisory lock file holding the PID of the run that has it.

The lock is `flock`ed, so it goes away with the process however it ends (crash, kill -9); the file itself
stays and is only overwritten by the next holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ai_worker.core.errors import OutputError, RunLockedError

LOCK_NAME = ".wagglebot-video.lock"


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return f"PID {text}"
    return "an unknown process"


@contextlib.contextmanager
def post_lock(folder: Path) -> Iterator[Path]:
    """Hold `folder`'s lock for the block; `RunLockedError` at once when another run holds it."""
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the output folder ({exc.strerror or exc})") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"{folder}: another run ({_holder(fd)}) is writing this post; wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)
