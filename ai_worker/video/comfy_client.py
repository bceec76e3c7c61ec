"""`ComfyUIClient`: one ComfyUI server, one clip at a time, following what a real server does.

The run sequence (seed section 6, corrected by the captures in ``comfyui-protocol/NOTES.md``):

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
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ai_worker.errors import (
    ComfyUIConnectionError,
    ComfyUIError,
    ComfyUINotSubmittedError,
    ComfyUIServerError,
    ComfyUITimeoutError,
    ImageError,
    InvalidOutputError,
    PromptLostError,
    WaggleVideoError,
    WorkflowError,
)
from ai_worker.video import comfy_protocol as proto
from ai_worker.video import workflows
from ai_worker.video.comfy_http import request_bounded
from ai_worker.video.comfy_outputs import DownloadLimits, fetch_output
from ai_worker.video.generator import ClipRequest, ClipResult, GenerationHooks, ModelVariant, ProgressEvent
from config.settings import Settings

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
CANCEL_TIMEOUT = 10.0
"""Seconds the server-side cancel (queue delete / interrupt) may take; it must not hang a shutdown."""
WS_MAX_MESSAGE = 64 * 1024 * 1024
"""Preview frames and execution_error messages with tensor reprs can be large."""


class _SocketLost(Exception):
    """Internal: the WebSocket dropped while we waited; switch to polling."""


@dataclass
class _Phase:
    """Which limit bounds a wait: the queue limit until the prompt starts, then VIDEO_GEN_TIMEOUT from the start.

    `deadline` is the one `asyncio.Timeout` around the whole wait; starting moves it instead of nesting a second
    timeout, so both the socket listener and the poller can report the start from their own tasks.
    """

    deadline: asyncio.Timeout
    run_limit: float
    started: bool = False
    submitted_at: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def mark_started(self) -> float | None:
        """Record the start and move the deadline; the seconds spent queued, or None if already started."""
        if self.started or self.deadline.expired():
            return None  # an expired deadline is already cancelling the wait; it cannot be moved any more
        self.started = True
        now = asyncio.get_running_loop().time()
        self.deadline.reschedule(now + self.run_limit)
        return now - self.submitted_at


def resize_for_upload(source: Path, width: int, height: int) -> bytes:
    """The init image as PNG bytes: upright, RGB, shrunk with LANCZOS (ratio kept) only when it is larger
    than needed to cover `width` x `height`; a smaller image is sent as is."""
    try:
        with Image.open(source) as opened:
            image = ImageOps.exif_transpose(opened)
            image = image.convert("RGB")
            scale = max(width / image.width, height / image.height)
            if scale < 1:
                size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                image = image.resize(size, Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except FileNotFoundError as exc:
        raise ImageError(f"{source}: init image not found") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{source}: cannot decode init image ({exc})") from exc
    return buffer.getvalue()


def upload_name(data: bytes) -> str:
    """A name derived from the content, so two workers never overwrite each other's image."""
    return f"wagglebot_{hashlib.sha256(data).hexdigest()[:16]}.png"


class ComfyUIClient:
    """A client for one ComfyUI server; implements `VideoGenerator`.

    ``slots = 2``: one job running on the server and one queued behind it, so the GPU never waits for our
    download and validation. Each run has its own client id and socket, and its VIDEO_GEN_TIMEOUT starts when
    it starts executing, so the queued one neither misses its events nor times out while it waits.

    `output_dir` is the folder relative ``request.output_path`` values are placed under (the seed's
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
        self._sleep = sleep
        self._headers = proto.parse_auth_header(settings.comfyui_auth_header)
        timeout = settings.comfyui_http_timeout
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            headers=self._headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        self.slots = 2
        self.loaded_model: ModelVariant | None = None
        """The checkpoint variant this client last ran successfully (a pool prefers a server holding it)."""

    # --- small public API ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._base_url

    async def aclose(self) -> None:
        await self._http.aclose()

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
        timeout = self.settings.comfyui_health_timeout
        try:
            async with asyncio.timeout(timeout):
                body = await self._get_json("/system_stats")
        except TimeoutError:
            return f"no answer within {timeout:g} s"
        except ComfyUIError as exc:
            cause = exc.__cause__
            if isinstance(cause, httpx.HTTPError):
                return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
            return str(exc).removeprefix(f"ComfyUI at {self.name}: ")
        if not isinstance(body.get("system"), dict):
            return "GET /system_stats answered, but not as ComfyUI does (no 'system')"
        return None

    async def system_stats(self) -> dict[str, Any]:
        return await self._get_json("/system_stats")

    async def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        """GET /object_info[/class]; an unknown class answers ``{}`` (that is what the server does)."""
        return await self._get_json("/object_info" if node_class is None else f"/object_info/{node_class}")

    async def model_listing(self, folder: str) -> list[Any] | None:
        """GET /experiment/models/{folder}: ``[{name, pathIndex, modified, created, size}]`` (ComfyUI 0.8.0's
        only way to tell file sizes); None when the server has no such route or folder (404)."""
        response = await self._request("GET", f"/experiment/models/{folder}", check=False)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, f"GET /experiment/models/{folder}")
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, list) else None

    async def free_memory(self, unload_models: bool = True, free_memory: bool = True) -> None:
        """POST /free: ask the server to unload models and/or free cached memory."""
        await self._request("POST", "/free", json={"unload_models": unload_models, "free_memory": free_memory})
        if unload_models:
            self.loaded_model = None

    async def cancel(self, prompt_id: str) -> None:
        """Delete `prompt_id` from the queue if pending, interrupt it if running. Never raises."""
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT):
                try:
                    state = proto.queue_state(await self._get_json("/queue"), prompt_id)
                except ComfyUIError:
                    state = None  # unknown: do both; each is a no-op when it does not apply
                if state in ("pending", None):
                    await self._request("POST", "/queue", json={"delete": [prompt_id]})
                # A pending prompt may start between our look and the delete: a targeted interrupt is a
                # no-op unless it is the running one, so send it too.
                if state in ("running", "pending", None):
                    await self._request("POST", "/interrupt", json={"prompt_id": prompt_id})
                logger.info("cancelled prompt %s on %s (was %s)", prompt_id, self.name, state or "unknown")
        except (ComfyUIError, TimeoutError) as exc:
            logger.warning("could not cancel prompt %s on %s: %r", prompt_id, self.name, exc)

    # --- generation -----------------------------------------------------------------------------------------

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        name = workflows.workflow_name_for("t2v", request.model)
        return await self._generate(name, request, hooks)

    async def generate_t2v_with_upscale(
        self, request: ClipRequest, hooks: GenerationHooks | None = None
    ) -> ClipResult:
        """Two-stage T2V: sample at half size, upscale the latent x2 (request width/height are the final size)."""
        name = workflows.workflow_name_for("t2v", request.model, upscale=True)
        return await self._generate(name, request, hooks)

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        if request.init_image is None:
            raise WorkflowError("image-to-video needs request.init_image")
        image_name = await self._upload_image(request.init_image, request.width, request.height)
        name = workflows.workflow_name_for("i2v", request.model)
        return await self._generate(name, request, hooks, init_image_name=image_name)

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
        dest = request.output_path if request.output_path.is_absolute() else self.output_dir / request.output_path
        for name in (f"{base}_00001.mp4", f"{base}_00001_.mp4"):  # VHS_VideoCombine, SaveVideo
            output = proto.OutputFile(filename=name, subfolder=subfolder, type="output")
            try:
                await fetch_output(self._http, output, dest, shared_dir=self.settings.comfyui_shared_output_dir,
                                   limits=self._download_limits(), server=self.name, prompt_id="recovered")
            except WaggleVideoError as exc:
                logger.debug("no %s to recover on %s: %s", name, self.name, exc)
                continue
            logger.info("recovered %s from %s after its prompt was lost", name, self.name)
            return ClipResult(path=dest, server=self.name, prompt_id=None)
        return None

    def _load_workflow(self, name: str) -> workflows.Workflow:
        return workflows.load_workflow(name, self.settings.comfyui_workflow_dir, self.settings.comfyui_workflow_set)

    def _patch_workflow(self, workflow: workflows.Workflow, params: Mapping[str, object]) -> dict[str, Any]:
        """Patch only what the workflow declares (e.g. distilled graphs take no `steps`)."""
        return workflows.patch_workflow(workflow, workflows.params_for(workflow, params))

    async def _generate(
        self, name: str, request: ClipRequest, hooks: GenerationHooks | None, *, init_image_name: str | None = None
    ) -> ClipResult:
        workflow = await asyncio.to_thread(self._load_workflow, name)
        params = workflows.build_params(request, self.settings, init_image_name=init_image_name)
        graph = self._patch_workflow(workflow, params)
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
        prompt_id = str(uuid.uuid4())
        ws = await self._open_socket(run_client_id)
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
                await self._close_socket(ws, graceful=finished)

    @staticmethod
    async def _close_socket(ws: ClientConnection, *, graceful: bool) -> None:
        """Close the event socket. After a failure or cancellation the close handshake is skipped: the job has
        already been cancelled on the server, and waiting up to close_timeout for the reply would only delay
        the error (or a Ctrl-C)."""
        if not graceful:
            ws.transport.abort()
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), timeout=CANCEL_TIMEOUT)

    # --- steps of a run ---------------------------------------------------------------------------------

    async def _open_socket(self, run_client_id: str) -> ClientConnection | None:
        """Connect the event socket; without it the run still completes by polling."""
        timeout = self.settings.comfyui_health_timeout
        try:
            return await connect(
                proto.ws_url(self._base_url, run_client_id),
                additional_headers=self._headers,
                open_timeout=timeout,
                close_timeout=timeout,
                max_size=WS_MAX_MESSAGE,
                ping_interval=None,  # the server never pings; a long silent node must not look dead
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            logger.warning("no event socket to %s (%r); will poll /history", self.name, exc)
            return None

    async def _submit(self, graph: dict[str, Any], run_client_id: str, prompt_id: str) -> None:
        body = proto.prompt_body(graph, run_client_id, prompt_id)
        try:
            response = await self._request("POST", "/prompt", json=body, check=False)
        except ComfyUIConnectionError as exc:
            if isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout):
                # No connection, so no request: the prompt id we already recorded names nothing.
                raise ComfyUINotSubmittedError(str(exc), server=self.name, prompt_id=prompt_id) from exc.__cause__
            raise
        if response.status_code == 400:
            raise proto.validation_error(self._json_of(response), graph, server=self.name)
        self._raise_for_status(response, "POST /prompt")
        answer = self._json_of(response)
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
        phase: _Phase | None = None
        try:
            async with asyncio.timeout(queue_limit) as deadline:
                phase = _Phase(deadline=deadline, run_limit=run_limit)
                history = await self._wait(prompt_id, hooks, ws, phase)
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

    async def _wait(
        self, prompt_id: str, hooks: GenerationHooks | None, ws: ClientConnection | None, phase: _Phase
    ) -> proto.HistoryResult:
        if ws is not None:
            try:
                found = await self._listen_and_watch(ws, prompt_id, hooks, phase)
                if found is not None:
                    return found
            except _SocketLost as exc:
                logger.warning("event socket to %s lost (%s); polling /history for %s", self.name, exc, prompt_id)
        # After `executing`/null the history entry is written (the server writes it first), so the first poll
        # normally answers; after a lost socket this is the fallback.
        return await self._poll(prompt_id, phase)

    async def _listen_and_watch(
        self, ws: ClientConnection, prompt_id: str, hooks: GenerationHooks | None, phase: _Phase
    ) -> proto.HistoryResult | None:
        """Listen on the socket; until the prompt starts, also poll, because a queued prompt sends no events and
        one deleted from the queue (or lost to a restart that kept the socket) never will.

        Returns the history entry if polling saw the prompt finish first, else None once the socket reported
        completion. Raises `_SocketLost`, or `PromptLostError` / `ComfyUIConnectionError` from the poller.
        """
        listener = asyncio.create_task(self._listen(ws, prompt_id, hooks, phase))
        watcher = asyncio.create_task(self._poll_until(prompt_id, phase, until_started=True))
        try:
            await asyncio.wait((listener, watcher), return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                found = watcher.result()
                if found is not None:
                    return found  # finished while the socket said nothing for it
            await listener
            return None
        finally:
            for task in (listener, watcher):
                task.cancel()
            # Collect both so neither's exception goes unretrieved; they end at once, being cancelled.
            await asyncio.gather(listener, watcher, return_exceptions=True)

    async def _listen(
        self, ws: ClientConnection, prompt_id: str, hooks: GenerationHooks | None, phase: _Phase
    ) -> None:
        """Read events until `executing` with node null for our prompt. The first event for our prompt
        (normally `execution_start`) marks its start; per-prompt events exist only once it executes."""
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                raise _SocketLost(repr(exc)) from exc
            except OSError as exc:
                raise _SocketLost(repr(exc)) from exc
            if not isinstance(frame, str):
                continue  # binary preview frame
            try:
                message = json.loads(frame)
            except ValueError:
                logger.debug("non-JSON text frame from %s ignored", self.name)
                continue
            if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
                continue
            kind, data = message.get("type"), message["data"]
            if data.get("prompt_id") != prompt_id:
                continue  # status broadcasts, other prompts, and `executing` without prompt_id (reconnect)
            self._started(prompt_id, phase)
            if kind == "progress" and hooks and hooks.on_progress:
                hooks.on_progress(ProgressEvent(
                    server=self.name, prompt_id=prompt_id, value=int(data.get("value", 0)),
                    maximum=int(data.get("max", 0)), node=None if data.get("node") is None else str(data["node"])))
            elif kind == "executing" and data.get("node") is None:
                return
            elif kind in ("execution_error", "execution_interrupted"):
                logger.info("prompt %s on %s: %s", prompt_id, self.name, kind)

    def _started(self, prompt_id: str, phase: _Phase) -> None:
        queued = phase.mark_started()
        if queued is not None:
            logger.info("prompt %s started on %s after %.1f s queued; it has %g s", prompt_id, self.name, queued,
                        phase.run_limit)

    async def _poll(self, prompt_id: str, phase: _Phase) -> proto.HistoryResult:
        """Poll history (and the queue, to notice a lost prompt and its start) until the prompt is finished."""
        found = await self._poll_until(prompt_id, phase, until_started=False)
        if found is None:  # cannot happen: only until_started polling stops without an entry
            raise ComfyUIError(f"ComfyUI at {self.name}: polling for {prompt_id} stopped early", server=self.name,
                               prompt_id=prompt_id)
        return found

    async def _poll_until(self, prompt_id: str, phase: _Phase, *, until_started: bool) -> proto.HistoryResult | None:
        """Check history and queue every COMFYUI_POLL_INTERVAL until the prompt is finished (its entry), or,
        with `until_started`, until it is seen running or started (None)."""
        errors = 0
        interval = self.settings.comfyui_poll_interval
        limit = self.settings.comfyui_max_poll_errors
        while True:
            if until_started and phase.started:
                return None
            try:
                found = proto.parse_history(await self._get_json(f"/history/{prompt_id}"), prompt_id)
                if found is not None:
                    return found
                state = proto.queue_state(await self._get_json("/queue"), prompt_id)
                if state == "absent":
                    # It may have finished between the two requests: look once more before calling it lost.
                    found = proto.parse_history(await self._get_json(f"/history/{prompt_id}"), prompt_id)
                    if found is not None:
                        return found
                    raise PromptLostError(
                        f"ComfyUI at {self.name} no longer knows prompt {prompt_id} (not queued, no history): "
                        "the server restarted or the prompt was deleted", server=self.name, prompt_id=prompt_id)
                if state == "running":
                    self._started(prompt_id, phase)
                    if until_started:
                        return None
                errors = 0
            except (ComfyUIConnectionError, ComfyUIServerError) as exc:
                errors += 1
                logger.warning("polling %s for %s failed (%d/%d): %s", self.name, prompt_id, errors, limit, exc)
                if errors >= limit:
                    raise ComfyUIConnectionError(
                        f"ComfyUI at {self.name}: {errors} polls in a row failed for prompt {prompt_id}: {exc}",
                        server=self.name, prompt_id=prompt_id) from exc
            await self._sleep(interval)

    async def _collect(self, prompt_id: str, history: proto.HistoryResult, request: ClipRequest) -> ClipResult:
        outputs = proto.video_outputs(history.outputs, server=self.name, prompt_id=prompt_id)
        if not outputs:
            raise InvalidOutputError(
                f"ComfyUI at {self.name}: prompt {prompt_id} succeeded but reported no video output",
                server=self.name, prompt_id=prompt_id)
        dest = request.output_path if request.output_path.is_absolute() else self.output_dir / request.output_path
        limits = self._download_limits()
        await fetch_output(self._http, outputs[-1], dest, shared_dir=self.settings.comfyui_shared_output_dir,
                           limits=limits, server=self.name, prompt_id=prompt_id)
        return ClipResult(path=dest, server=self.name, prompt_id=prompt_id)

    async def _upload_image(self, source: Path, width: int, height: int) -> str:
        """Upload the (resized) init image under a content-derived name; return the name the server chose."""
        data = await asyncio.to_thread(resize_for_upload, source, width, height)
        files = {"image": (upload_name(data), data, "image/png")}
        response = await self._request("POST", "/upload/image", files=files, check=False)
        self._raise_for_status(response, "POST /upload/image")
        answer = self._json_of(response)
        name = answer.get("name")
        if not isinstance(name, str) or not name:
            raise ComfyUIError(f"ComfyUI at {self.name}: upload answered without a name: {answer!r}",
                               server=self.name)
        subfolder = answer.get("subfolder") or ""
        return f"{subfolder}/{name}" if subfolder else name

    # --- HTTP, translated once -------------------------------------------------------------------------

    async def _request(self, method: str, path: str, *, check: bool = True, **kwargs: Any) -> httpx.Response:
        try:
            response = await request_bounded(
                self._http, method, path, limit=self.settings.comfyui_max_response_bytes, server=self.name, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ComfyUIConnectionError(f"ComfyUI at {self.name}: {method} {path} failed: {exc!r}",
                                         server=self.name) from exc
        if check:
            self._raise_for_status(response, f"{method} {path}")
        return response

    def _raise_for_status(self, response: httpx.Response, what: str) -> None:
        if response.status_code >= 500:
            # A server-side failure: the request may succeed later or elsewhere.
            raise ComfyUIServerError(f"ComfyUI at {self.name}: {what} answered {response.status_code}: "
                             f"{response.text[:200]}", server=self.name)
        if response.status_code >= 400:
            raise ComfyUIError(f"ComfyUI at {self.name}: {what} answered {response.status_code}: "
                               f"{response.text[:200]}", server=self.name)

    def _json_of(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ComfyUIServerError(f"ComfyUI at {self.name}: answer is not JSON: {response.text[:200]!r}",
                             server=self.name) from exc
        if not isinstance(body, dict):
            raise ComfyUIServerError(f"ComfyUI at {self.name}: expected a JSON object, got {body!r:.200}",
                                     server=self.name)
        return body

    async def _get_json(self, path: str) -> dict[str, Any]:
        return self._json_of(await self._request("GET", path))
