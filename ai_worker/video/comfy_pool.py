"""`ComfyUIPool`: one `VideoGenerator` over several servers (one ComfyUI per GPU).

Each attempt goes to the best member that can take it now:

1. never a benched member (one whose transport or health check failed in the last COMFYUI_BENCH_SECONDS);
2. an idle member before a busy one;
3. among equals, one that already holds the checkpoint the request needs (``loaded_model``), because
   switching an LTX-2 checkpoint means reading ~27 GB;
4. then the order of COMFYUI_URL.

A member takes at most two attempts at once: one running and one queued behind it on the server, so its GPU
never waits for us between jobs, and work does not pile up on one server while another could take it.
The queued attempt's clock does not run while it waits: the client gives each prompt VIDEO_GEN_TIMEOUT from
the moment it starts executing, and bounds the time before that separately by COMFYUI_QUEUE_TIMEOUT (the
server's queue may also hold other clients' jobs ahead of ours). A slot is held for the whole attempt,
queued time included.
When every member is full the attempt waits for a slot; when every member is benched it fails at once with
`GeneratorUnavailableError` (the caller decides whether to wait).

A member that fails with a transport error is benched. If the attempt had not been submitted yet it moves
on to the next member; once submitted it may still be running there, so the error goes to the caller (who
can re-attach by prompt id). Every other error (validation, execution, OOM, timeout) is the job's fault,
not the server's: it is passed on and the member stays in service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ai_worker.errors import (
    ComfyUIConnectionError,
    ComfyUIServerError,
    ComfyUIUnreachableError,
    GeneratorError,
    GeneratorUnavailableError,
)
from ai_worker.video.generator import ClipRequest, ClipResult, GenerationHooks, ModelVariant, VideoGenerator

if TYPE_CHECKING:
    from config.settings import Settings

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
MemberCall = Callable[[VideoGenerator, GenerationHooks], Awaitable[ClipResult]]

SLOTS_PER_MEMBER = 2
"""One job running on the server plus one queued behind it (whose VIDEO_GEN_TIMEOUT starts only when it runs)."""

SERVER_FAILURES: tuple[type[GeneratorError], ...] = (
    ComfyUIConnectionError,
    ComfyUIUnreachableError,
    ComfyUIServerError,
    GeneratorUnavailableError,
)
"""Errors that say the server, not the job, is the problem: the member is benched."""


@dataclass(eq=False)
class _Member:
    generator: VideoGenerator
    index: int
    in_flight: int = 0
    benched_until: float | None = None
    checked: bool = False
    last_assigned: ModelVariant | None = None
    prompt_ids: set[str] = field(default_factory=set)

    def expected_model(self) -> str | None:
        """The checkpoint the server will hold when our next job reaches it."""
        if self.in_flight > 0 and self.last_assigned is not None:
            return self.last_assigned
        if hasattr(self.generator, "loaded_model"):
            loaded = getattr(self.generator, "loaded_model", None)
            return None if loaded is None else str(loaded)
        return self.last_assigned


class ComfyUIPool:
    """Spreads attempts over several `VideoGenerator` members; implements `VideoGenerator` itself."""

    def __init__(
        self,
        members: Sequence[VideoGenerator],
        *,
        bench_seconds: float = 60.0,
        health_timeout: float = 10.0,
        clock: Clock = time.monotonic,
        slots_per_member: int = SLOTS_PER_MEMBER,
    ) -> None:
        if not members:
            raise GeneratorUnavailableError("a ComfyUI pool needs at least one server (COMFYUI_URL is empty)")
        if slots_per_member < 1:
            raise ValueError("slots_per_member must be at least 1")
        self._members = [_Member(generator=g, index=i) for i, g in enumerate(members)]
        self._bench_seconds = bench_seconds
        self._health_timeout = health_timeout
        self._clock = clock
        self._slots = slots_per_member
        self._changed = asyncio.Condition()
        self._owners: dict[str, _Member] = {}

    @classmethod
    def from_settings(cls, settings: Settings, output_dir: Path) -> ComfyUIPool:
        """One `ComfyUIClient` per COMFYUI_URL entry."""
        from ai_worker.video.comfy_client import ComfyUIClient  # lazy: the pool itself needs no HTTP stack

        clients = [ComfyUIClient(url, output_dir, settings=settings) for url in settings.comfyui_url]
        return cls(
            clients,
            bench_seconds=settings.comfyui_bench_seconds,
            # The client bounds its own check; this is a backstop for members that do not.
            health_timeout=settings.comfyui_health_timeout + 1.0,
        )

    # --- VideoGenerator -------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"pool({len(self._members)})"

    @property
    def members(self) -> tuple[VideoGenerator, ...]:
        return tuple(m.generator for m in self._members)

    async def health_check(self) -> bool:
        """Check every member not on the bench (concurrently); True when at least one is healthy."""
        now = self._clock()
        candidates = [m for m in self._members if not self._is_benched(m, now)]
        if not candidates:
            return False
        results = await asyncio.gather(*(self._check(m) for m in candidates))
        return any(results)

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        return await self._run(request, hooks, lambda g, h: g.generate_t2v(request, h))

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        return await self._run(request, hooks, lambda g, h: g.generate_i2v(request, h))

    async def generate_t2v_with_upscale(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        """Two-stage text-to-video on a member that supports it (the ComfyUI client does)."""

        async def call(generator: VideoGenerator, member_hooks: GenerationHooks) -> ClipResult:
            method = getattr(generator, "generate_t2v_with_upscale", None)
            if method is None:
                raise GeneratorError(f"{generator.name} cannot run the two-stage upscale workflow")
            result: ClipResult = await method(request, member_hooks)
            return result

        return await self._run(request, hooks, call)

    async def cancel(self, prompt_id: str) -> None:
        """Forward to the member running `prompt_id`; if none is known (a prompt from an earlier run), to all."""
        owner = self._owners.get(prompt_id)
        targets = [owner] if owner is not None else self._members
        results = await asyncio.gather(*(m.generator.cancel(prompt_id) for m in targets), return_exceptions=True)
        for member, result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("cancel of %s on %s failed: %r", prompt_id, member.generator.name, result)

    async def aclose(self) -> None:
        results = await asyncio.gather(*(m.generator.aclose() for m in self._members), return_exceptions=True)
        for member, result in zip(self._members, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("closing %s failed: %r", member.generator.name, result)

    # --- beyond the interface ------------------------------------------------------------------------------

    async def free_memory(self) -> None:
        """Ask every member that can (ComfyUI ``POST /free``) to unload its models."""
        for member in self._members:
            method = getattr(member.generator, "free_memory", None)
            if method is None:
                continue
            try:
                await method()
            except GeneratorError as exc:
                logger.warning("could not free memory on %s: %r", member.generator.name, exc)

    def benched(self) -> dict[str, float]:
        """Member name -> seconds until it is tried again, for members on the bench now."""
        now = self._clock()
        return {m.generator.name: (m.benched_until or now) - now for m in self._members if self._is_benched(m, now)}

    # --- scheduling ----------------------------------------------------------------------------------------

    def _is_benched(self, member: _Member, now: float) -> bool:
        return member.benched_until is not None and now < member.benched_until

    def _bench(self, member: _Member, reason: object) -> None:
        member.benched_until = self._clock() + self._bench_seconds
        member.checked = False
        logger.warning("benching %s for %.0f s: %s", member.generator.name, self._bench_seconds, reason)

    async def _check(self, member: _Member) -> bool:
        try:
            ok = await asyncio.wait_for(member.generator.health_check(), timeout=self._health_timeout)
        except TimeoutError:
            ok = False
        except Exception as exc:  # health_check must never raise; a member that does is unhealthy
            logger.warning("health check of %s raised %r", member.generator.name, exc)
            ok = False
        if ok:
            member.checked = True
            member.benched_until = None
        else:
            self._bench(member, "health check failed")
        return ok

    def _rank(self, member: _Member, model: ModelVariant) -> tuple[int, int, int]:
        mismatch = 0 if member.expected_model() == model else 1
        return (member.in_flight, mismatch, member.index)

    async def _acquire(self, model: ModelVariant, exclude: set[int]) -> _Member:
        """Reserve a slot on the best member, health-checking it first if it is new or back from the bench."""
        while True:
            async with self._changed:
                while True:
                    now = self._clock()
                    candidates = [m for m in self._members if m.index not in exclude and not self._is_benched(m, now)]
                    if not candidates:
                        raise GeneratorUnavailableError(self._unavailable_message(now, exclude))
                    free = [m for m in candidates if m.in_flight < self._slots]
                    if free:
                        member = min(free, key=lambda m: self._rank(m, model))
                        member.in_flight += 1
                        member.last_assigned = model
                        break
                    await self._changed.wait()
            if member.checked or await self._check(member):
                return member
            await self._release(member)
            exclude.add(member.index)

    async def _release(self, member: _Member) -> None:
        async with self._changed:
            member.in_flight -= 1
            self._changed.notify_all()

    def _unavailable_message(self, now: float, exclude: set[int]) -> str:
        parts = []
        for m in self._members:
            if self._is_benched(m, now):
                parts.append(f"{m.generator.name} benched for {(m.benched_until or now) - now:.0f} s more")
            elif m.index in exclude:
                parts.append(f"{m.generator.name} failed this attempt")
        return "no ComfyUI server can take the job: " + "; ".join(parts)

    async def _run(self, request: ClipRequest, hooks: GenerationHooks | None, call: MemberCall) -> ClipResult:
        tried: set[int] = set()
        while True:
            member = await self._acquire(request.model, tried)
            tried.add(member.index)
            submitted: list[str] = []

            def on_submitted(server: str, prompt_id: str, member: _Member = member, ids: list[str] = submitted) -> None:
                ids.append(prompt_id)
                member.prompt_ids.add(prompt_id)
                self._owners[prompt_id] = member
                if hooks is not None and hooks.on_submitted is not None:
                    hooks.on_submitted(server, prompt_id)

            member_hooks = GenerationHooks(
                on_progress=hooks.on_progress if hooks is not None else None,
                on_submitted=on_submitted,
            )
            try:
                result = await call(member.generator, member_hooks)
            except SERVER_FAILURES as exc:
                self._bench(member, repr(exc))
                if submitted and not isinstance(exc, ComfyUIUnreachableError):
                    raise
                logger.info("retrying on another server after %s failed before submitting", member.generator.name)
                continue
            finally:
                for prompt_id in submitted:
                    member.prompt_ids.discard(prompt_id)
                    self._owners.pop(prompt_id, None)
                await self._release(member)
            return result
