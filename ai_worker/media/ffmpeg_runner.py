"""The one place FFmpeg runs.

Argument lists are built by pure functions elsewhere (`ffmpeg_args`, `local_backend`); this module only
finds the binary and executes: no shell, ``-nostdin``, a time limit that kills and reaps the process,
stderr kept (its last lines go into the error), and the output written to a temporary ``.part`` file in
the same folder and renamed into place, so a failed run never leaves a half-written file under the final
name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from ai_worker.core.atomic import atomic_file
from ai_worker.core.errors import FFmpegError, FFmpegNotFoundError, FFmpegTimeoutError

logger = logging.getLogger(__name__)

STDERR_TAIL_LINES = 15
KILL_GRACE_S = 10.0
"""How long to wait for a killed FFmpeg to be reaped."""


@functools.cache
def _bundled_ffmpeg() -> Path:
    import imageio_ffmpeg

    return Path(imageio_ffmpeg.get_ffmpeg_exe())


def resolve_ffmpeg(binary: Path | None = None) -> Path:
    """The FFmpeg to run: the one named in settings, else imageio-ffmpeg's bundled binary."""
    if binary is not None:
        if not binary.exists():
            raise FFmpegNotFoundError(f"FFMPEG_BINARY {binary} does not exist")
        if not binary.is_file():
            raise FFmpegNotFoundError(f"FFMPEG_BINARY {binary} is not a file")
        return binary
    return _bundled_ffmpeg()


def build_command(exe: Path, args: Sequence[str], part: Path | None = None) -> list[str]:
    """The full command line: FFmpeg, the fixed safety options, `args`, then the part file if there is one."""
    command = [str(exe), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    if part is not None:
        command.append(str(part))
    return command


def _tail(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return "\n".join(lines[-STDERR_TAIL_LINES:])


async def _execute(command: Sequence[str], *, timeout: float, what: str) -> tuple[bytes, bytes]:
    """Run one FFmpeg process to the end: no shell, no stdin, killed and reaped past `timeout` or on
    cancellation. Returns (stdout, stderr); a non-zero exit is an `FFmpegError` with stderr's last lines."""
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"FFmpeg time limit must be a positive number of seconds, got {timeout!r}")
    logger.debug("ffmpeg: %s", " ".join(command))
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise FFmpegNotFoundError(f"could not start FFmpeg at {command[0]}: {exc}") from exc
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        await _kill(process)
        raise FFmpegTimeoutError(f"FFmpeg{what} ran past its {timeout:g} s limit and was killed") from None
    except asyncio.CancelledError:
        await _kill(process)
        raise
    if process.returncode != 0:
        raise FFmpegError(
            f"FFmpeg{what} exited with code {process.returncode}",
            returncode=process.returncode,
            stderr_tail=_tail(stderr),
        )
    return stdout, stderr


async def ffmpeg_output(args: Sequence[str], *, timeout: float, binary: Path | None = None) -> str:
    """Run ``ffmpeg -hide_banner <args>`` and return what it printed (e.g. ``-encoders``)."""
    exe = resolve_ffmpeg(binary)
    stdout, _ = await _execute([str(exe), "-hide_banner", *args], timeout=timeout, what=f" {' '.join(args)}")
    return stdout.decode("utf-8", "replace")


async def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float,
    binary: Path | None = None,
    output: Path | None = None,
    verify: Callable[[Path], None] | None = None,
) -> None:
    """Run ``ffmpeg -nostdin -y <args> [output.part]`` and rename the part file to `output` on success.

    `args` is everything between the binary and the output file. With ``output=None`` the arguments must
    name their own output (a probe, or ``-f null -``). `verify`, if given, is called (in a worker thread)
    with the finished part file before the rename; whatever it raises aborts the run and the part file is
    deleted, so only a checked file ever appears under the final name.
    """
    exe = resolve_ffmpeg(binary)
    if output is None:
        await _execute(build_command(exe, args), timeout=timeout, what="")
        return
    # The part file keeps `output`'s extension (see `core.atomic`), so FFmpeg picks the muxer from it.
    with atomic_file(output) as part:
        _, stderr = await _execute(build_command(exe, args, part.path), timeout=timeout, what=f" making {output}")
        if not part.path.exists() or part.path.stat().st_size == 0:
            raise FFmpegError(f"FFmpeg wrote nothing for {output.name}", stderr_tail=_tail(stderr))
        if verify is not None:
            await asyncio.to_thread(verify, part.path)


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(process.wait(), timeout=KILL_GRACE_S)
