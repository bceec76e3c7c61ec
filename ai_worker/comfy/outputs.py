"""Bringing a clip ComfyUI reported back to this machine, and checking it before it counts.

The file is copied from the shared output folder when this machine sees ComfyUI's output folder (a Docker
volume) and the file is there; otherwise it is streamed over GET /view (a remote server has no shared disk).
Either way it is written to a ``.part`` file beside the destination and renamed into place, so a failure
never leaves a half-written clip under the final name. Then it is opened with PyAV: VHS can report success
for a 0-byte mp4 (captured), so a reported success is never trusted alone.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx

from ai_worker.comfy.protocol import OutputFile
from ai_worker.core.atomic import atomic_file
from ai_worker.core.errors import ComfyUIConnectionError, ComfyUIError, InvalidClipError, InvalidOutputError
from ai_worker.media.probe import validate_clip

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class DownloadLimits:
    """How large a clip from GET /view may be, and how long its whole download may take (an endless or
    trickling body is stopped by the deadline, which per-read timeouts never do)."""

    max_bytes: int
    deadline: float


def shared_path(shared_dir: Path | None, output: OutputFile) -> Path | None:
    """Where `output` lies in the shared output folder, if there is one and the file is there."""
    if shared_dir is None or output.type != "output":
        return None
    candidate = shared_dir.joinpath(*output.relative_path.parts)
    return candidate if candidate.is_file() else None


async def download_view(
    http: httpx.AsyncClient, output: OutputFile, target: Path, *, limits: DownloadLimits, server: str, prompt_id: str
) -> None:
    """Stream GET /view for `output` into `target`, within `limits`."""
    name = output.relative_path
    try:
        async with asyncio.timeout(limits.deadline):
            await _stream_view(http, output, target, limits.max_bytes, server=server, prompt_id=prompt_id)
    except TimeoutError as exc:
        raise ComfyUIConnectionError(
            f"ComfyUI at {server}: downloading {name} took longer than {limits.deadline:g} s "
            "(COMFYUI_DOWNLOAD_DEADLINE); stopped", server=server, prompt_id=prompt_id) from exc
    except httpx.HTTPError as exc:
        raise ComfyUIConnectionError(
            f"ComfyUI at {server}: downloading {name} failed: {exc!r}", server=server, prompt_id=prompt_id) from exc


async def _stream_view(
    http: httpx.AsyncClient, output: OutputFile, target: Path, max_bytes: int, *, server: str, prompt_id: str
) -> None:
    name = output.relative_path
    async with http.stream("GET", "/view", params=output.view_params()) as response:
        if response.status_code != 200:
            raise InvalidOutputError(
                f"ComfyUI at {server}: GET /view for {name} answered {response.status_code}",
                server=server, prompt_id=prompt_id)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(name, max_bytes, server=server, prompt_id=prompt_id)
        received = 0
        with target.open("wb") as handle:
            async for chunk in response.aiter_bytes(CHUNK_SIZE):
                received += len(chunk)
                if received > max_bytes:
                    raise _too_large(name, max_bytes, server=server, prompt_id=prompt_id)
                handle.write(chunk)


def _too_large(name: object, max_bytes: int, *, server: str, prompt_id: str) -> InvalidOutputError:
    return InvalidOutputError(
        f"ComfyUI at {server}: {name} is larger than {max_bytes} bytes (COMFYUI_DOWNLOAD_MAX_BYTES); refused",
        server=server, prompt_id=prompt_id)


async def validate_output(path: Path, *, server: str, prompt_id: str) -> None:
    """Refuse an empty or unreadable clip (`InvalidOutputError`), so it never counts as a success."""
    try:
        await asyncio.to_thread(validate_clip, path, min_frames=1)
    except InvalidClipError as exc:
        raise InvalidOutputError(
            f"ComfyUI at {server} reported success for prompt {prompt_id} but the clip is unusable: {exc}",
            server=server, prompt_id=prompt_id) from exc


async def fetch_output(
    http: httpx.AsyncClient,
    output: OutputFile,
    dest: Path,
    *,
    shared_dir: Path | None,
    limits: DownloadLimits,
    server: str,
    prompt_id: str,
) -> str:
    """Place `output` at `dest`, validated; returns how it came ("shared" or "view").

    The bytes go to a ``.part`` file beside `dest`, are validated there, and only then renamed into place.
    """
    source = shared_path(shared_dir, output)
    try:
        with atomic_file(dest) as part:
            if source is not None:
                await asyncio.to_thread(shutil.copyfile, source, part.path)
                how = "shared"
            else:
                await download_view(http, output, part.path, limits=limits, server=server, prompt_id=prompt_id)
                how = "view"
            await validate_output(part.path, server=server, prompt_id=prompt_id)
    except OSError as exc:
        raise ComfyUIError(f"could not write {dest}: {exc}", server=server, prompt_id=prompt_id) from exc
    logger.debug("clip %s from %s (%s)", dest, server, how)
    return how
