"""`ComfyUIPool`: the ComfyUI servers of COMFYUI_URL as one group (one `ComfyUIClient` per server).

The pool does not schedule: the orchestration's one scheduler (`scheduler.Scheduler`) sends each attempt
to a member itself (slots, checkpoint affinity, benching). The pool checks, cancels on, frees and closes
all its members at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ai_worker.core.errors import GeneratorUnavailableError
from ai_worker.model.backend import VideoGenerator, is_healthy
from ai_worker.model.capabilities import MemoryFreeing

if TYPE_CHECKING:
    from config.settings import Settings

logger = logging.getLogger(__name__)


class ComfyUIPool:
    """Several servers, each scheduled on its own (a `capabilities.ServerGroup`)."""

    def __init__(self, members: Sequence[VideoGenerator], *, health_timeout: float = 10.0) -> None:
        if not members:
            raise GeneratorUnavailableError("a ComfyUI pool needs at least one server (COMFYUI_URL is empty)")
        self._members = tuple(members)
        self._health_timeout = health_timeout

    @classmethod
    def from_settings(cls, settings: Settings, output_dir: Path) -> ComfyUIPool:
        """One `ComfyUIClient` per COMFYUI_URL entry."""
        from ai_worker.comfy.client import ComfyUIClient  # lazy: the pool itself needs no HTTP stack

        clients = [ComfyUIClient(url, output_dir, settings=settings) for url in settings.comfyui_url]
        # The client bounds its own check; this is a backstop for members that do not.
        return cls(clients, health_timeout=settings.comfyui_health_timeout + 1.0)

    @property
    def name(self) -> str:
        return f"pool({len(self._members)})"

    @property
    def members(self) -> tuple[VideoGenerator, ...]:
        return self._members

    async def health(self) -> dict[str, bool]:
        """Every member's health check, at once: name -> healthy."""
        checks = await asyncio.gather(*(is_healthy(m, self._health_timeout) for m in self._members))
        return {m.name: ok for m, ok in zip(self._members, checks, strict=True)}

    async def health_check(self) -> bool:
        """True when at least one member is healthy."""
        return any((await self.health()).values())

    async def cancel(self, prompt_id: str) -> None:
        """Cancel `prompt_id` on every member (only the one that has it does anything)."""
        results = await asyncio.gather(*(m.cancel(prompt_id) for m in self._members), return_exceptions=True)
        for member, result in zip(self._members, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("cancel of %s on %s failed: %r", prompt_id, member.name, result)

    async def free_memory(self) -> None:
        """Ask every member that can (ComfyUI ``POST /free``) to unload its models."""
        for member in self._members:
            if isinstance(member, MemoryFreeing):
                try:
                    await member.free_memory()
                except Exception as exc:  # best effort: a dead server holds no memory of ours
                    logger.warning("could not free memory on %s: %r", member.name, exc)

    async def aclose(self) -> None:
        results = await asyncio.gather(*(m.aclose() for m in self._members), return_exceptions=True)
        for member, result in zip(self._members, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("closing %s failed: %r", member.name, result)
