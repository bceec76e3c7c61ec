"""What `run` checks before any work (the output folder) and after it (did any clip come out), with exit codes.

Exit codes: 0 done; 1 an unexpected error of the stage; 2 bad input (post file, settings, output folder, a
post another run is writing);
3 no clip could be made (no healthy ComfyUI server for ``--backend comfyui``, or every scene that asked for a
clip failed); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ai_worker.pipeline.content_processor import VideoStageResult

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_CLIPS = 3
EXIT_INTERRUPTED = 130


def output_folder_problem(out: Path) -> str | None:
    """Why the stage could not write under `out` (one line), found by trying; None when it can.

    The folder is created if missing (the run would create it anyway) and a probe file is written and removed,
    because permission bits alone do not tell (a read-only mount, an ACL, another user's folder).
    """
    if out.exists() and not out.is_dir():
        return f"--out {out}: exists and is not a folder"
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".wagglebot-write-check-", dir=out)
        os.close(handle)
        Path(probe).unlink()
    except OSError as exc:
        return f"--out {out}: cannot write there ({exc.strerror or type(exc).__name__})"
    return None


def remove_empty_folders(folder: Path) -> None:
    """Remove `folder` and the folders under it when none holds a file (what a run that stopped before any
    work created); anything holding a file is kept."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds when empty
    with contextlib.suppress(OSError):
        folder.rmdir()


def no_clip_reason(result: VideoStageResult) -> str | None:
    """One line when scenes asked for a clip and not one got it, merged away or not; None when a clip was made
    or none was asked.

    A scene asks for a clip when Phase 4.5 gave it a mode and Phase 6 a prompt, up to VIDEO_MAX_CLIPS_PER_POST
    of them (counted before failed scenes are merged); a scene the manager skipped because the backend was
    down asked all the same.
    """
    if any(r.success for r in result.results) or not result.clips_asked or not result.results:
        return None
    why = next((r.failure_reason for r in result.results if r.failure_reason), None)
    why = why or f"no clip attempted on {result.backend or 'the backend'}; see {result.manifest_path}"
    return f"no clip was made: {result.clips_asked} scene(s) asked for one and none got it ({why})"
