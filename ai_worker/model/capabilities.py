"""Optional capabilities of a video backend, as `Protocol`s (checked with `isinstance`, typed for mypy): the one
set every layer uses (the orchestration, the GPU manager, the pool).

The required interface is `backend.VideoGenerator`. A backend may also:

* `Reattachable`: collect a prompt submitted earlier (by id), e.g. after a dropped connection or a crash;
* `OutputRecoverable`: find a finished clip whose prompt the server forgot (a restart empties its history);
* `MemoryFreeing`: unload its models (ComfyUI ``POST /free``), after an out-of-memory;
* `VramReporting`: report its devices' memory (ComfyUI ``GET /system_stats``), for the GPU manager;
* `ModelAware`: say which checkpoint it holds now, so the scheduler can avoid a switch;
* `Slotted`: take more than one attempt at once (a ComfyUI server: one running plus one queued);
* `Named`: have a name for logs (every `VideoGenerator` has one);
* `Grouping`: stand for several servers, listed as its members (all the GPU manager needs of a pool);
* `ServerGroup`: a `Named` `Grouping` that is closed as one (a pool), what the orchestration may be given in
  place of one generator; each member is scheduled on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks, ModelVariant, VideoGenerator


@runtime_checkable
class Reattachable(Protocol):
    async def reattach(
        self, prompt_id: str, request: ClipRequest, hooks: GenerationHooks | None = None
    ) -> ClipResult: ...


@runtime_checkable
class PromptLookup(Protocol):
    async def prompt_state(self, prompt_id: str) -> str:
        """Where the server has `prompt_id`: ``finished``, ``running``, ``pending`` or ``absent``; raises a
        `WaggleVideoError` when it cannot be asked (a retried job asks before it submits again)."""
        ...


@runtime_checkable
class OutputRecoverable(Protocol):
    async def recover_output(self, request: ClipRequest) -> ClipResult | None:
        """The clip `request` already wrote on the server, when its prompt was lost (server restarted)."""
        ...


@runtime_checkable
class MemoryFreeing(Protocol):
    async def free_memory(self) -> None: ...


@runtime_checkable
class VramReporting(Protocol):
    async def system_stats(self) -> dict[str, Any]:
        """The server's ``/system_stats`` answer (its ``devices`` carry ``vram_free``)."""
        ...


@runtime_checkable
class ModelAware(Protocol):
    @property
    def loaded_model(self) -> ModelVariant | None: ...


@runtime_checkable
class Slotted(Protocol):
    @property
    def slots(self) -> int: ...


@runtime_checkable
class Named(Protocol):
    @property
    def name(self) -> str: ...


@runtime_checkable
class Grouping(Protocol):
    @property
    def members(self) -> Sequence[VideoGenerator]: ...


@runtime_checkable
class ServerGroup(Named, Grouping, Protocol):
    async def aclose(self) -> None: ...


Backend = VideoGenerator | ServerGroup
"""What the orchestration is given: one generator, or a group of servers."""


def servers_of(backend: Backend) -> list[VideoGenerator]:
    """The generators to schedule one by one: a group's members, else the generator itself."""
    if isinstance(backend, ServerGroup):
        return list(backend.members)
    return [backend]


def slots_of(generator: object) -> int:
    """Attempts a generator takes at once: its declared positive ``slots``, else 1 (nothing is sent
    concurrently to a backend that was not built for it; the local FFmpeg backend is CPU-bound)."""
    if isinstance(generator, Slotted):
        slots = generator.slots
        if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0:
            return slots
    return 1


def loaded_model_of(generator: object) -> ModelVariant | None:
    if isinstance(generator, ModelAware):
        loaded = generator.loaded_model
        if loaded in ("full", "distilled"):
            return loaded
    return None
