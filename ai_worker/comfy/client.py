"""`ComfyUIClient`: one ComfyUI server, one clip at a time, following what a real server does.

The run sequence (docs/spec.md, 'ComfyUI run sequence', corrected by docs/design.md, 'ComfyUI protocol'):

1. Open the WebSocket ``ws[s]://host/ws?clientId=<our id>`` *first*: events can follow the POST answer by
   under a millisecond, and only the socket registered under the prompt's client id receives them.
2. POST /prompt ``{"prompt": graph, "client_id": our id}``. A 400 (or a 200 whose ``node_errors`` touch our
   output node) is a `ComfyUIValidationError` naming node, class, input and missing model or node type.
3. Read events: ``progress`` goes to ``hooks.on_progress``; completion is ``executing`` with ``node: null``
   and our ``prompt_id``. An ``executing`` without ``prompt_id`` (a socket re-registration) and binary
   preview frames are ignored. Until the prompt starts, GET /history/{id} and GET /queue are also checked
   every COMFYUI_POLL_INTERVAL, so a prompt that vanishes from the queue is noticed (`PromptLostError`).
4. If the socket drops, poll GET /history/{id} every COMFYUI_POLL_INTERVAL; COMFYUI_MAX_POLL_ERRORS failures
   in a row give up; a prompt in neither the queue nor the history (server restarted) is `PromptLostError`.
5. The history entry is the source of truth for the outcome and the output files (``gifs`` from VHS,
   ``images`` + ``animated`` from core SaveVideo). The clip is copied from the shared output folder when it is
   there, else downloaded with /view, validated with PyAV, and placed at ``request.output_path``.

Every wait is bounded, in two phases, because a pool keeps a second job queued behind the running one (the
server's queue may also hold other clients' jobs): while the prompt waits in the queue, by
COMFYUI_QUEUE_TIMEOUT counted from submission; once it starts executing (``execution_start`` or any other
event for it on the socket, or GET /queue listing it in ``queue_running``), by VIDEO_GEN_TIMEOUT counted from
that start. Time spent behind someone else's job therefore never eats into a clip's own budget. On either
timeout, and when the task is cancelled (Ctrl-C), the prompt is deleted from the queue or interrupted on the
server before the error propagates, so no job keeps a GPU busy for nobody.

Its parts, one job each: ``comfy_http`` (requests, errors translated once), ``comfy_watch`` (the socket, the
polling and the start of a prompt), ``comfy_queries`` (health, model listing, cancel), ``comfy_upload`` (the
init image), ``comfy_outputs`` (fetching the clip) and ``comfy_protocol`` (what the server's answers mean).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from ai_worker.comfy import protocol as proto
from ai_worker.comfy import queries as comfy_queries
from ai_worker.comfy import workflows
from ai_worker.comfy.http import ComfyHTTP
from ai_worker.comfy.outputs import DownloadLimits, fetch_output
from ai_worker.comfy.upload import upload_image
from ai_worker.comfy.watch import ComfyUIWatcher, Phase, close_socket, open_socket
from ai_worker.core.errors import (
    ComfyUIConnectionError,
    ComfyUIError,
    ComfyUINotSubmittedError,
    ComfyUITimeoutError,
    InvalidOutputError,
    WaggleVideoError,
    WorkflowError,
)
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks, ModelVariant
from config.settings import Settings

logger = logging.getLogger(__name__)


class ComfyUIClient:
    """A client for one ComfyUI server; implements `VideoGenerator`.

    ``slots = 2``: one job running on the server and one queued behind it, so the GPU never waits for our
    download and validation. Each run has its own client id and socket, and its VIDEO_GEN_TIMEOUT starts when
    it starts executing, so the queued one neither misses its events nor times out while it waits.

    `output_dir` is the folder relative ``request.output_path`` values are placed under (the spec's
    ``media/tmp/videos``). The server's own output folder, when this machine can see it, is
    ``settings.comfyui_shared_output_dir``.
    """

    def __init__(
        self,
        base_url: str,
        output_dir: Path,
        *,
        settings: Settings,
        client_id: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self.output_dir = Path(output_dir)
        self.settings = settings
        self.client_id = client_id or str(uuid.uuid4())
        self._headers = proto.parse_auth_header(settings.comfyui_auth_header)
        self._api = ComfyHTTP(self._base_url, settings=settings, headers=self._headers)
        self._watcher = ComfyUIWatcher(self._api, sleep=sleep)
        self.slots = 2
        self.loaded_model: ModelVariant | None = None
        """The checkpoint variant this client last ran successfully (a pool prefers a server holding it)."""

    # --- small public API ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._base_url

    async def aclose(self) -> None:
        await self._api.aclose()

    async def __aenter__(self) -> ComfyUIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def health_check(self) -> bool:
        """GET /system_stats within COMFYUI_HEALTH_TIMEOUT. Never raises."""
        problem = await self.health_problem()
        if problem is not None:
            logger.warning("ComfyUI at %s is not healthy: %s", self.name, problem)
        return problem is None

    async def health_problem(self) -> str | None:
        """Why the server fails its health check (GET /system_stats within COMFYUI_HEALTH_TIMEOUT), in a few
        words for the user; None when it passes. Never raises."""
        return await comfy_queries.health_problem(self._api, self.settings.comfyui_health_timeout)

    async def system_stats(self) -> dict[str, Any]:
        return await self._api.get_json("/system_stats")

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """GET /object_info[/class]; an unknown class answers ``{}`` (that is what the server does)."""
        return await self._api.get_json("/object_info" if node_class is None else f"/object_info/{node_class}")

    async def model_listing(self, folder: str) -> list[Any] | None:
        """GET /experiment/models/{folder} (file sizes); None when the server has no such route or folder."""
        return await comfy_queries.model_listing(self._api, folder)

    async def free_memory(self, unload_models: bool = True, free_memory: bool = True) -> None:
        """POST /free: ask the server to unload models and/or free cached memory."""
        await self._api.request("POST", "/free", json={"unload_models": unload_models, "free_memory": free_memory})
        if unload_models:
            self.loaded_model = None

    async def cancel(self, prompt_id: str) -> None:
        """Delete `prompt_id` from the queue if pending, interrupt it if running. Never raises."""
        await comfy_queries.cancel(self._api, prompt_id)

    async def prompt_state(self, prompt_id: str) -> comfy_queries.PromptState:
        """Where the server has `prompt_id`: ``finished`` (in its history), ``running``, ``pending`` or
        ``absent``. Raises `ComfyUIError` when the server cannot be asked."""
        return await comfy_queries.prompt_state(self._api, prompt_id)

    # --- generation -----------------------------------------------------------------------------------------

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        """Text-to-video with the request's recipe: one pass, or two around the x2 latent upscaler (the
        request's width and height are then the final size)."""
        return await self._generate(request, hooks)

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        if request.init_image is None:
            raise WorkflowError("image-to-video needs request.init_image")
        image_name = await upload_image(self._api, request.init_image, request.width, request.height)
        return await self._generate(request, hooks, init_image_name=image_name)

    async def reattach(
        self, prompt_id: str, request: ClipRequest, hooks: GenerationHooks | None = None
    ) -> ClipResult:
        """Wait for a prompt submitted earlier (by this or another process) and collect its clip.

        Its events go to the socket of the client id it was submitted with, so this polls history and queue;
        a prompt the server no longer knows is `PromptLostError`. VIDEO_GEN_TIMEOUT counts from the first poll
        that finds it running (its real start time is not known here); while pending, COMFYUI_QUEUE_TIMEOUT
        counts from this call.
        """
        return await self._bounded(prompt_id, request, hooks, ws=None)

    def _download_limits(self) -> DownloadLimits:
        return DownloadLimits(self.settings.comfyui_download_max_bytes, self.settings.comfyui_download_deadline)

    async def recover_output(self, request: ClipRequest) -> ClipResult | None:
        """The clip `request` wrote before the server lost its prompt (a restart empties history, not the
        output folder), or None. The file name is ours (`workflows.filename_prefix_for`: the request's own
        stem, which carries its scene, rung and try, hence its seed), so a file under it is this request's
        clip; it is validated like any other before it counts."""
        subfolder, _, base = workflows.filename_prefix_for(request).rpartition("/")
        dest = self.output_dir / request.output_path  # an absolute output_path stays as it is
        for name in (f"{base}_00001.mp4", f"{base}_00001_.mp4"):  # VHS_VideoCombine, SaveVideo
            output = proto.OutputFile(filename=name, subfolder=subfolder, type="output")
            try:
                await fetch_output(self._api.client, output, dest, shared_dir=self.settings.comfyui_shared_output_dir,
                                   limits=self._download_limits(), server=self.name, prompt_id="recovered")
            except WaggleVideoError as exc:
                logger.debug("no %s to recover on %s: %s", name, self.name, exc)
                continue
            logger.info("recovered %s from %s after its prompt was lost", name, self.name)
            return ClipResult(path=dest, server=self.name, prompt_id=None)
        return None

    async def _generate(
        self, request: ClipRequest, hooks: GenerationHooks | None, *, init_image_name: str | None = None
    ) -> ClipResult:
        graph = await asyncio.to_thread(workflows.build_graph, request, self.settings,
                                        init_image_name=init_image_name)
        result = await self.run_graph(graph, request, hooks)
        self.loaded_model = request.model
        return result

    async def run_graph(
        self, graph: dict[str, Any], request: ClipRequest, hooks: GenerationHooks | None = None
    ) -> ClipResult:
        """Queue an already-patched API graph, wait for it, and place its clip at ``request.output_path``."""
        # One client id per run: ComfyUI sends a client id's events only to its newest socket, so two runs
        # sharing an id (one running, one queued behind it) would leave the first one deaf.
        run_client_id = f"{self.client_id}-{uuid.uuid4().hex[:8]}"
        prompt_id = request.prompt_id or str(uuid.uuid4())
        ws = await open_socket(self._base_url, run_client_id, headers=self._headers,
                               timeout=self.settings.comfyui_health_timeout)
        finished = False
        try:
            # Recorded before the POST: if we die while it is in flight, a later run finds the job by this id.
            if hooks and hooks.on_submitted:
                hooks.on_submitted(self.name, prompt_id)
            try:
                await self._submit(graph, run_client_id, prompt_id)
            except asyncio.CancelledError:
                await asyncio.shield(self.cancel(prompt_id))
                raise
            result = await self._bounded(prompt_id, request, hooks, ws=ws)
            finished = True
            return result
        finally:
            if ws is not None:
                await close_socket(ws, graceful=finished)

    # --- steps of a run ---------------------------------------------------------------------------------

    async def _submit(self, graph: dict[str, Any], run_client_id: str, prompt_id: str) -> None:
        body = proto.prompt_body(graph, run_client_id, prompt_id)
        try:
            response = await self._api.request("POST", "/prompt", json=body, check=False)
        except ComfyUIConnectionError as exc:
            if isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout):
                # No connection, so no request: the prompt id we already recorded names nothing.
                raise ComfyUINotSubmittedError(str(exc), server=self.name, prompt_id=prompt_id) from exc.__cause__
            raise
        if response.status_code == 400:
            raise proto.validation_error(self._api.json_of(response), graph, server=self.name)
        self._api.raise_for_status(response, "POST /prompt")
        answer = self._api.json_of(response)
        if answer.get("prompt_id") != prompt_id:
            # A server that ignores client-chosen ids would leave us waiting on the wrong one.
            raise ComfyUIError(
                f"ComfyUI at {self.name}: POST /prompt answered prompt_id {answer.get('prompt_id')!r}, "
                f"not the {prompt_id!r} we sent",
                server=self.name,
            )
        if proto.blocking_node_errors(answer.get("node_errors"), graph):
            # Queued, but our output node will not run: take it back off the GPU.
            await self.cancel(prompt_id)
            raise proto.validation_error(answer, graph, server=self.name)
        logger.info("queued prompt %s on %s", prompt_id, self.name)

    async def _bounded(
        self, prompt_id: str, request: ClipRequest, hooks: GenerationHooks | None, *, ws: ClientConnection | None
    ) -> ClipResult:
        """Wait for `prompt_id` (at most COMFYUI_QUEUE_TIMEOUT queued, then VIDEO_GEN_TIMEOUT from its start)
        and collect its clip; cancel it on the server on timeout or cancellation."""
        queue_limit = self.settings.comfyui_queue_timeout
        run_limit = self.settings.video_gen_timeout
        phase: Phase | None = None
        try:
            async with asyncio.timeout(queue_limit) as deadline:
                phase = Phase(deadline=deadline, run_limit=run_limit)
                history = await self._watcher.wait(prompt_id, hooks, ws, phase)
        except TimeoutError:
            await self.cancel(prompt_id)
            if phase is not None and phase.started:
                message = f"prompt {prompt_id} ran past {run_limit:g} s after it started and was cancelled"
            else:
                message = (f"prompt {prompt_id} never started: it waited {queue_limit:g} s in the queue "
                           "(COMFYUI_QUEUE_TIMEOUT) and was cancelled")
            raise ComfyUITimeoutError(f"ComfyUI at {self.name}: {message}", server=self.name,
                                      prompt_id=prompt_id) from None
        except asyncio.CancelledError:
            await asyncio.shield(self.cancel(prompt_id))
            raise
        proto.raise_for_outcome(history, server=self.name, prompt_id=prompt_id)
        return await self._collect(prompt_id, history, request)

    async def _collect(self, prompt_id: str, history: proto.HistoryResult, request: ClipRequest) -> ClipResult:
        outputs = proto.video_outputs(history.outputs, server=self.name, prompt_id=prompt_id)
        if not outputs:
            raise InvalidOutputError(
                f"ComfyUI at {self.name}: prompt {prompt_id} succeeded but reported no video output",
                server=self.name, prompt_id=prompt_id)
        dest = self.output_dir / request.output_path  # an absolute output_path stays as it is
        limits = self._download_limits()
        await fetch_output(self._api.client, outputs[-1], dest, shared_dir=self.settings.comfyui_shared_output_dir,
                           limits=limits, server=self.name, prompt_id=prompt_id)
        return ClipResult(path=dest, server=self.name, prompt_id=prompt_id)

    async def _get_json(self, path: str) -> dict[str, Any]:
        """A raw JSON answer (the real-server tests read /queue and /history through it)."""
        return await self._api.get_json(path)
