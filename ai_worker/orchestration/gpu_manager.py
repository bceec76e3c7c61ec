"""VRAM accounting and cleanup for the two-act plan (docs/spec.md, 14, with docs/design.md's correction).

The models do not live in this process: LTX-2 runs inside ComfyUI and the LLM inside Ollama. So free VRAM
is read from ComfyUI's ``/system_stats`` first (NVML or torch only when installed, else "unknown"), and
cleanup asks the processes that hold the memory to let go: ComfyUI ``POST /free``, Ollama ``keep_alive: 0``
(an injected callable, so this module does not import the LLM client), and torch's cache in this process
only when torch is installed. Nothing here is required to have a GPU; every probe may answer "unknown".
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ai_worker.model.capabilities import Grouping, MemoryFreeing, Named, VramReporting
from config.settings import Settings

logger = logging.getLogger(__name__)

GIB = 1024**3
PROBE_TIMEOUT_S = 10.0
"""Upper bound on any one VRAM probe or cleanup call (the clients have their own, shorter, limits)."""


class ModelType(float, enum.Enum):
    """The models of the pipeline; each member's value is the VRAM (GB) it needs (docs/spec.md, 14)."""

    LLM = 14.0
    TTS = 5.0
    VIDEO = 12.0


MODEL_VRAM_REQUIREMENTS: dict[ModelType, float] = {
    ModelType.LLM: 14.0,
    ModelType.TTS: 5.0,
    ModelType.VIDEO: 12.0,
}
"""GB each model needs (the same numbers as the members' values, spelled out as the spec's table)."""
MAX_COEXIST_VRAM_GB = 20.0
"""Upper bound on the VRAM of models meant to be loaded together (one 24 GB GPU, less headroom)."""

OllamaUnload = Callable[[], Awaitable[object]]


def vram_free_gb(stats: object) -> float | None:
    """Free VRAM in GB from a ComfyUI ``/system_stats`` body (the smallest over its devices), or None.

    Accepts the JSON as a mapping, or a model object with ``model_dump()``. CPU devices (``type: cpu``)
    report RAM, not VRAM, so they do not count.
    """
    if isinstance(stats, BaseModel):
        stats = stats.model_dump()
    if not isinstance(stats, Mapping):
        return None
    devices = stats.get("devices")
    if not isinstance(devices, list):
        return None
    free: list[float] = []
    for device in devices:
        if not isinstance(device, Mapping) or device.get("type") == "cpu":
            continue
        # ComfyUI's `vram_free` already includes what its torch allocator holds but has not handed out
        # (`torch_vram_free` is that part), so it alone is the figure.
        value = device.get("vram_free")
        if isinstance(value, int | float) and not isinstance(value, bool):
            free.append(float(value) / GIB)
    return min(free) if free else None


def _nvml_free_gb() -> float | None:
    """Free VRAM of GPU 0 from NVML, when `pynvml` is installed and a driver answers; else None."""
    if importlib.util.find_spec("pynvml") is None:
        return None
    try:
        nvml: Any = importlib.import_module("pynvml")
        nvml.nvmlInit()
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(0)
            return float(nvml.nvmlDeviceGetMemoryInfo(handle).free) / GIB
        finally:
            nvml.nvmlShutdown()
    except Exception as exc:  # NVML raises its own error classes; any of them means "unknown"
        logger.debug("NVML could not report VRAM: %s", exc)
        return None


def _torch_module() -> Any | None:
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        return importlib.import_module("torch")
    except Exception as exc:  # a broken torch install must not stop the pipeline
        logger.debug("torch is installed but cannot be imported: %s", exc)
        return None


def _torch_free_gb() -> float | None:
    torch = _torch_module()
    if torch is None:
        return None
    try:
        if not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info()
        return float(free) / GIB
    except Exception as exc:  # CUDA errors come in many types; all mean "unknown"
        logger.debug("torch could not report VRAM: %s", exc)
        return None


def _torch_empty_cache() -> bool:
    torch = _torch_module()
    if torch is None:
        return False
    try:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            return True
    except Exception as exc:  # see _torch_free_gb
        logger.debug("torch could not empty its cache: %s", exc)
    return False


def _expand(servers: Sequence[object]) -> list[object]:
    """The servers themselves: a pool stands for its members when it lists them."""
    out: list[object] = []
    for server in servers:
        if isinstance(server, Grouping) and server.members:
            out.extend(server.members)
        else:
            out.append(server)
    return out


def _server_name(server: object) -> str:
    return server.name if isinstance(server, Named) else type(server).__name__


class GPUManager:
    """Reads free VRAM and frees it, across the ComfyUI servers, Ollama and (if present) torch."""

    MODEL_VRAM_REQUIREMENTS = MODEL_VRAM_REQUIREMENTS
    MAX_COEXIST_VRAM_GB = MAX_COEXIST_VRAM_GB

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        servers: Sequence[object] = (),
        ollama_unload: OllamaUnload | None = None,
        use_local_probes: bool = True,
    ) -> None:
        """`servers`: ComfyUI clients or pools (anything with ``system_stats()`` / ``free_memory()``).
        `use_local_probes`: also ask NVML and torch in this process (off in tests that must not see a GPU)."""
        self.settings = settings
        self._servers = _expand(servers)
        self._ollama_unload = ollama_unload
        self._use_local_probes = use_local_probes
        self._active: dict[ModelType, int] = {}
        self.cleanups = 0

    @property
    def servers(self) -> list[object]:
        return list(self._servers)

    async def get_available_vram(self) -> float | None:
        """Free VRAM in GB: ComfyUI ``/system_stats`` first (the tightest server), then NVML, then torch;
        None when nothing can say."""
        readings: list[float] = []
        for server in self._servers:
            if not isinstance(server, VramReporting):
                continue
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    stats = await server.system_stats()
            except Exception as exc:  # an unreachable server only means it cannot tell us
                logger.debug("no VRAM reading from %s: %s", _server_name(server), exc)
                continue
            value = vram_free_gb(stats)
            if value is not None:
                readings.append(value)
        if readings:
            return min(readings)
        if not self._use_local_probes:
            return None
        for probe_fn in (_nvml_free_gb, _torch_free_gb):
            value = await asyncio.to_thread(probe_fn)
            if value is not None:
                return value
        return None

    async def free_vram(self, server: str | None = None) -> int:
        """``POST /free`` on the named server (all servers when None); returns how many answered."""
        freed = 0
        for member in self._servers:
            if server is not None and _server_name(member) != server:
                continue
            if not isinstance(member, MemoryFreeing):
                continue
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    await member.free_memory()
                freed += 1
            except Exception as exc:  # cleanup is best effort: a dead server holds no memory of ours
                logger.warning("could not free VRAM on %s: %s", _server_name(member), exc)
        return freed

    async def emergency_cleanup(self) -> None:
        """Free everything reachable: every ComfyUI server's models, Ollama's model, torch's cache here."""
        self.cleanups += 1
        freed = await self.free_vram()
        unloaded = False
        if self._ollama_unload is not None:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    await self._ollama_unload()
                unloaded = True
            except Exception as exc:  # Ollama may be down; then it holds no VRAM either
                logger.warning("could not unload the Ollama model: %s", exc)
        torch_freed = await asyncio.to_thread(_torch_empty_cache) if self._use_local_probes else False
        gc.collect()
        logger.info(
            "emergency VRAM cleanup: %d ComfyUI server(s) freed, Ollama unloaded: %s, torch cache emptied: %s",
            freed, unloaded, torch_freed,
        )

    def active_vram_gb(self) -> float:
        """VRAM the models inside `managed_inference` blocks need together."""
        return sum(MODEL_VRAM_REQUIREMENTS[model] * count for model, count in self._active.items())

    @contextlib.asynccontextmanager
    async def managed_inference(self, model_type: ModelType) -> AsyncIterator[GPUManager]:
        """Hold `model_type` for the block. Before it starts, clean up when the models held together would
        pass `MAX_COEXIST_VRAM_GB` or when the GPU has less free than the model needs."""
        need = MODEL_VRAM_REQUIREMENTS[model_type]
        available = await self.get_available_vram()
        if self.active_vram_gb() + need > MAX_COEXIST_VRAM_GB or (available is not None and available < need):
            logger.info(
                "%s needs %.1f GB (held: %.1f GB, free: %s): cleaning up first",
                model_type.name, need, self.active_vram_gb(), "unknown" if available is None else f"{available:.1f} GB",
            )
            await self.emergency_cleanup()
        self._active[model_type] = self._active.get(model_type, 0) + 1
        try:
            yield self
        finally:
            self._active[model_type] -= 1
            if self._active[model_type] <= 0:
                del self._active[model_type]


async def prepare_vram_for_video(gm: GPUManager) -> float | None:
    """Phase 7's entry check (docs/spec.md, 14): when free VRAM is under half of what the video model
    needs, clean up everything. Unknown VRAM is left alone. Returns the reading taken before cleanup."""
    need = gm.MODEL_VRAM_REQUIREMENTS.get(ModelType.VIDEO, 12.0)
    available = await gm.get_available_vram()
    if available is None:
        logger.info("free VRAM unknown; no cleanup before Phase 7")
        return None
    if available < need * 0.5:
        logger.warning("free VRAM %.1f GB < half of the video model's %.1f GB: emergency cleanup", available, need)
        await gm.emergency_cleanup()
    return available
