"""The FFmpeg runner: exact command lines, atomic outputs, time limits that kill and reap, cancellation.

Real FFmpeg throughout; where a test needs FFmpeg to hang or lie, a tiny real shell script stands in for
the binary (named through the same `binary` option a user's settings use).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ai_worker.core.atomic import part_path
from ai_worker.core.errors import FFmpegError, FFmpegTimeoutError
from ai_worker.media.ffmpeg_runner import build_command, resolve_ffmpeg, run_ffmpeg
from ai_worker.media.probe import probe_clip

TINY_CLIP = ["-f", "lavfi", "-i", "testsrc2=s=64x64:r=24", "-frames:v", "9", "-c:v", "libx264", "-preset",
             "ultrafast", "-pix_fmt", "yuv420p"]  # fmt: skip
ENDLESS_CLIP = ["-f", "lavfi", "-re", "-i", "testsrc2=s=32x32:r=24", "-c:v", "libx264", "-preset", "ultrafast"]


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


def _gone(pid: int) -> bool:
    """True when `pid` no longer exists (killed and reaped, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _read_pid(pid_file: Path) -> int:
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        await asyncio.sleep(0.01)
    raise AssertionError("the fake FFmpeg never started")


def test_build_command_exact() -> None:
    exe = Path("/opt/ffmpeg")
    assert build_command(exe, ["-i", "in.mp4", "-c", "copy"]) == [
        "/opt/ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", "in.mp4", "-c", "copy",
    ]  # fmt: skip
    assert build_command(exe, ["-i", "a"], Path("/out/.x.part.mp4"))[-3:] == ["-i", "a", "/out/.x.part.mp4"]


def test_part_path_is_hidden_unique_and_keeps_the_extension(tmp_path: Path) -> None:
    output = tmp_path / "clip.mp4"
    first, second = part_path(output), part_path(output)
    assert first != second
    assert first.parent == tmp_path
    assert first.name.startswith(".clip.")
    assert first.name.endswith(".part.mp4")


def test_resolve_ffmpeg(tmp_path: Path) -> None:
    bundled = resolve_ffmpeg()
    assert bundled.is_file()
    own = _script(tmp_path / "ffmpeg", "exit 0\n")
    assert resolve_ffmpeg(own) == own
    with pytest.raises(FFmpegError, match="does not exist"):
        resolve_ffmpeg(tmp_path / "missing")
    with pytest.raises(FFmpegError, match="is not a file"):
        resolve_ffmpeg(tmp_path)


async def test_success_writes_the_output_under_its_final_name_only(tmp_path: Path) -> None:
    output = tmp_path / "sub" / "clip.mp4"
    await run_ffmpeg(TINY_CLIP, timeout=60, output=output)
    info = probe_clip(output)
    assert (info.width, info.height, info.frames, info.fps) == (64, 64, 9, 24.0)
    assert _leftovers(output.parent) == []


async def test_failure_keeps_stderr_and_leaves_nothing(tmp_path: Path) -> None:
    output = tmp_path / "clip.mp4"
    with pytest.raises(FFmpegError) as caught:
        await run_ffmpeg(["-i", str(tmp_path / "no-such-input.mp4")], timeout=60, output=output)
    error = caught.value
    assert error.returncode not in (None, 0)
    assert "no-such-input.mp4" in error.stderr_tail
    assert "no-such-input.mp4" in str(error)
    assert str(output) in str(error)
    assert not output.exists()
    assert _leftovers(tmp_path) == []


async def test_failure_keeps_an_existing_output_untouched(tmp_path: Path) -> None:
    output = tmp_path / "clip.mp4"
    output.write_bytes(b"previous good clip")
    with pytest.raises(FFmpegError):
        await run_ffmpeg([*TINY_CLIP[:-2], "-c:v", "no_such_encoder"], timeout=60, output=output)
    assert output.read_bytes() == b"previous good clip"
    assert _leftovers(tmp_path) == []


async def test_time_limit_kills_a_real_ffmpeg_and_removes_the_part_file(tmp_path: Path) -> None:
    output = tmp_path / "endless.mp4"
    with pytest.raises(FFmpegTimeoutError, match="limit"):
        await run_ffmpeg(ENDLESS_CLIP, timeout=0.5, output=output)
    assert not output.exists()
    assert _leftovers(tmp_path) == []


async def test_time_limit_kills_and_reaps_the_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hang = _script(tmp_path / "ffmpeg", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    with pytest.raises(FFmpegTimeoutError):
        await run_ffmpeg(["-version"], timeout=0.3, binary=hang)
    assert _gone(int(pid_file.read_text()))


async def test_cancellation_kills_and_reaps_the_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hang = _script(tmp_path / "ffmpeg", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    output = tmp_path / "clip.mp4"
    task = asyncio.create_task(run_ffmpeg(["-version"], timeout=60, binary=hang, output=output))
    pid = await _read_pid(pid_file)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _gone(pid)
    assert not output.exists()
    assert _leftovers(tmp_path) == []


async def test_exit_zero_without_output_is_an_error(tmp_path: Path) -> None:
    liar = _script(tmp_path / "ffmpeg", "exit 0\n")
    output = tmp_path / "clip.mp4"
    with pytest.raises(FFmpegError, match=r"wrote nothing for clip\.mp4"):
        await run_ffmpeg(["-version"], timeout=10, binary=liar, output=output)
    assert not output.exists()


async def test_a_binary_that_cannot_start_is_an_ffmpeg_error(tmp_path: Path) -> None:
    not_executable = tmp_path / "ffmpeg"
    not_executable.write_text("not a program")
    with pytest.raises(FFmpegError, match="could not start FFmpeg"):
        await run_ffmpeg(["-version"], timeout=10, binary=not_executable)


async def test_verify_sees_the_part_file_and_gates_the_rename(tmp_path: Path) -> None:
    output = tmp_path / "clip.mp4"
    seen: list[Path] = []

    def accept(part: Path) -> None:
        seen.append(part)
        assert probe_clip(part).frames == 9

    await run_ffmpeg(TINY_CLIP, timeout=60, output=output, verify=accept)
    assert output.exists()
    assert seen[0] != output
    assert seen[0].parent == tmp_path
    assert not seen[0].exists()

    rejected = tmp_path / "rejected.mp4"

    def reject(part: Path) -> None:
        raise FFmpegError(f"{part.name} is not what was asked")

    with pytest.raises(FFmpegError, match="not what was asked"):
        await run_ffmpeg(TINY_CLIP, timeout=60, output=rejected, verify=reject)
    assert not rejected.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("limit", [0, -1.0, float("nan"), float("inf")])
async def test_time_limit_must_be_positive_and_finite(limit: float) -> None:
    with pytest.raises(ValueError, match="time limit"):
        await run_ffmpeg(["-version"], timeout=limit)


async def test_output_less_run_names_its_own_output(tmp_path: Path) -> None:
    stats = tmp_path / "stats.log"
    await run_ffmpeg(
        ["-f", "lavfi", "-i", "nullsrc=s=32x32:d=0.1", "-vf", f"signalstats,metadata=print:file={stats}",
         "-f", "null", "-"],
        timeout=60,
    )  # fmt: skip
    assert "lavfi.signalstats.YAVG" in stats.read_text()
