"""A fake ComfyUI server over real sockets (aiohttp: HTTP and WebSocket on one random port on 127.0.0.1).

It speaks what a real ComfyUI 0.8.0 was captured saying (docs/design.md, 'ComfyUI protocol'), message for message,
and writes REAL mp4 files (FFmpeg) of the size, frame count and rate the graph asks for.

Use::

    async with FakeComfyUI(tmp_path) as server:
        server.url            # "http://127.0.0.1:<port>"
        server.faults.push("oom")          # the next POST /prompt's job fails with a CUDA OOM
        ...
        server.submitted      # exact JSON bodies POSTed to /prompt
        server.interrupts     # bodies of POST /interrupt (None for a global one)
        server.deletes        # prompt ids from POST /queue {"delete": [...]}
        server.frees          # bodies of POST /free
        server.jobs_run       # prompt ids that finished executing (any outcome)
        server.checkpoint_switches   # times a job's checkpoint differed from the previous job's

Constructor: ``FakeComfyUI(root, *, models=None, seconds_per_unit=0.0, checkpoint_switch_seconds=0.0,
required_header=None, send_previews=False, cache=True)``. ``root`` holds ``output/``, ``input/``, ``temp/``
(``server.output_dir`` is what a client would see as the shared output folder). ``models`` are the model files
the server has (default: the project's default checkpoints, text encoder and upscaler plus those in the
captured object_info); ``server.models`` is a mutable set. Simulated GPU time per job is
``seconds_per_unit * width * height * frames * steps`` plus ``checkpoint_switch_seconds`` when the
checkpoint differs from the previous job's (both 0 by default, so tests take no time). ``required_header``
("Name: value") makes every HTTP route and the WS handshake answer 401 without that header.

Real-server behaviours it keeps (each seen on ComfyUI 0.8.0):

* **Origin check**: a request (or WS handshake) whose ``Origin`` host differs from its ``Host`` on a loopback
  address answers 403 with an empty body (``server.py``'s origin-only middleware).
* **Cache**: the same graph again (``cache=True``, the default) runs nothing: ``execution_cached`` lists every
  node, no ``executing`` per node, ``executed`` repeats the first run's file reference, and no new file is
  written. ``POST /free`` with ``free_memory`` and a restart empty the cache.
* **Restart with downtime**: ``await server.restart(up=event)`` (or the ``restart`` fault with ``up=event``)
  cuts every socket and HTTP connection, refuses connections until ``event`` is set, then listens again on the
  same port with an empty queue, history and cache, and the prompt counter back at 0.
* **Cooperative interrupt**: honoured at the next node start or progress update, never in the middle.
* **Large execution_error**: ``current_inputs`` holds the failing node's inputs, links as tensor reprs
  (over 12 kB for a sampler), as the real server sends.
* **Model sizes**: ``GET /experiment/models/{folder}`` lists the models with ``size`` from
  ``server.model_sizes`` (default `DEFAULT_MODEL_SIZE`).

Faults (``server.faults.push(kind, **params)``; each is consumed by the next POST /prompt, in order):

=================  =========================================================================================
``"http_500"``     POST /prompt answers 500 text/plain (as the server does on an internal error)
``"slow"``         POST /prompt answers after ``delay`` seconds (default 0.2), then works normally
``"missing_model"`` validation fails as if ``model`` (default: the graph's checkpoint) were not installed
``"oom"``          the sampler node fails: ``torch.OutOfMemoryError`` "Allocation on device ..."
``"error"``        a node fails with ``exception_type`` / ``message`` given (default RuntimeError): the sampler,
                   or the first node of class ``at`` (e.g. ``at="CheckpointLoaderSimple"``)
``"ws_drop"``      every WebSocket is cut (no close frame) when the sampler starts; the job still completes
``"restart"``      when the sampler starts: sockets cut, queue and history lost, the job vanishes; with
                   ``up=event`` the server also refuses connections until the event is set
``"hang"``         the sampler never finishes until the prompt is interrupted
``"hold"``         the sampler waits for ``until`` (an ``asyncio.Event``) to be set, then runs normally
``"zero_byte"``    the video is written as a 0-byte file and reported as success (captured VHS behaviour)
``"script"``       replay ``messages`` (raw captured frames; ``prompt_id`` = the captured id, replaced by the
                   real one) instead of generating the events; the output file is still really written
=================  =========================================================================================
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import hashlib
import io
import json
import logging
import math
import shutil
import socket
import tempfile
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from PIL import Image

from ai_worker.comfy.workflow_sets import all_sets
from ai_worker.media.ffmpeg_runner import run_ffmpeg
from ai_worker.media.local_backend import build_t2v_args
from ai_worker.model.backend import ClipRequest

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
OBJECT_INFO_FILE = DATA_DIR / "object_info.json"
MODEL_INPUTS = frozenset({"ckpt_name", "gemma_path", "ltxv_path", "text_encoder", "model_name", "lora_name",
                          "vae_name", "clip_name", "unet_name"})
SAMPLER_CLASSES = frozenset({"SamplerCustomAdvanced", "KSampler", "KSamplerAdvanced"})
VIDEO_OUTPUT_CLASSES = frozenset({"VHS_VideoCombine", "SaveVideo"})
DEFAULT_MODEL_SIZE = 27_127_589_812
"""What GET /experiment/models reports for a model without an entry in ``server.model_sizes`` (the real
distilled fp8 checkpoint's size)."""
MODEL_FOLDERS = frozenset({"checkpoints", "text_encoders", "latent_upscale_models", "loras", "vae", "clip",
                           "diffusion_models", "upscale_models", "embeddings"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OOM_MESSAGE = (
    "Allocation on device 0 would exceed allowed memory. (out of memory)\n"
    "Currently allocated     : 22.51 GiB\nRequested               : 1.25 GiB\n"
    "Device limit            : 23.57 GiB\nFree (according to CUDA): 12.00 MiB\n"
    "PyTorch limit (set by user-supplied memory fraction)\n                        : 17179869184.00 GiB"
)


def _default_models() -> set[str]:
    # Every bundled workflow set's default files, so a fake server can run any set.
    return {model.default for wset in all_sets().values() for model in wset.models}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _now_ms() -> int:
    return int(time.time() * 1000)


def _is_link(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)


@dataclass
class Fault:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


class FaultPlan:
    """A queue of faults; each POST /prompt takes the next one (or none)."""

    KINDS = frozenset({"http_500", "slow", "missing_model", "oom", "error", "ws_drop", "restart", "hang",
                       "zero_byte", "script", "hold"})

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()

    def push(self, kind: str, **params: Any) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {sorted(self.KINDS)}")
        self._queue.append(Fault(kind, params))

    def pop(self) -> Fault | None:
        return self._queue.popleft() if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)


@dataclass
class Job:
    number: int
    prompt_id: str
    graph: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]
    fault: Fault | None = None
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    current_node: str | None = None

    def item(self) -> list[Any]:
        return [self.number, self.prompt_id, self.graph, self.extra_data, self.outputs]

    @property
    def client_id(self) -> str | None:
        value = self.extra_data.get("client_id")
        return value if isinstance(value, str) else None


class _Vanished(Exception):
    """The job was lost to a simulated restart."""


class FakeComfyUI:
    """See the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        models: set[str] | None = None,
        seconds_per_unit: float = 0.0,
        checkpoint_switch_seconds: float = 0.0,
        required_header: str | None = None,
        send_previews: bool = False,
        cache: bool = True,
    ) -> None:
        self.root = Path(root)
        self.output_dir = self.root / "output"
        self.input_dir = self.root / "input"
        self.temp_dir = self.root / "temp"
        self.object_info: dict[str, Any] = json.loads(OBJECT_INFO_FILE.read_text(encoding="utf-8"))
        self.models: set[str] = set(models) if models is not None else self._captured_models() | _default_models()
        self.seconds_per_unit = seconds_per_unit
        self.checkpoint_switch_seconds = checkpoint_switch_seconds
        self.required_header = required_header
        self.send_previews = send_previews
        self.cache_enabled = cache
        self.model_sizes: dict[str, int] = {}
        self.faults = FaultPlan()
        self.port = 0
        # what the server saw
        self.submitted: list[dict[str, Any]] = []
        self.interrupts: list[dict[str, Any] | None] = []
        self.deletes: list[str] = []
        self.frees: list[dict[str, Any]] = []
        self.jobs_run: list[str] = []
        self.checkpoint_switches = 0
        self.request_headers: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        # (method, path) of every HTTP request, in order
        self.ws_handshake_headers: list[dict[str, str]] = []
        # state
        self.history: dict[str, dict[str, Any]] = {}
        self.pending: list[Job] = []
        self.running: Job | None = None
        self._number = 0
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._all_sockets: list[web.WebSocketResponse] = []
        self._transports: dict[int, asyncio.BaseTransport] = {}
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._job_task: asyncio.Task[None] | None = None
        self._last_checkpoint: str | None = None
        self._global_interrupt = False
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._http_transports: set[asyncio.Transport] = set()
        self._cache_key: str | None = None
        self._cache_outputs: dict[str, Any] = {}
        self.cache_hits: list[str] = []
        """Prompt ids answered entirely from the cache."""
        self.restarts = 0

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        for folder in (self.output_dir, self.input_dir, self.temp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        app = web.Application(middlewares=[self._auth_middleware], client_max_size=100 * 1024 * 1024)
        for prefix in ("", "/api"):
            app.router.add_get(f"{prefix}/ws", self._ws)
            app.router.add_get(f"{prefix}/system_stats", self._system_stats)
            app.router.add_get(f"{prefix}/object_info", self._object_info_all)
            app.router.add_get(prefix + "/object_info/{cls}", self._object_info_one)
            app.router.add_post(f"{prefix}/prompt", self._post_prompt)
            app.router.add_get(f"{prefix}/prompt", self._get_prompt)
            app.router.add_get(f"{prefix}/queue", self._get_queue)
            app.router.add_post(f"{prefix}/queue", self._post_queue)
            app.router.add_get(f"{prefix}/history", self._get_history_all)
            app.router.add_get(prefix + "/history/{prompt_id}", self._get_history)
            app.router.add_post(f"{prefix}/interrupt", self._post_interrupt)
            app.router.add_post(f"{prefix}/free", self._post_free)
            app.router.add_post(f"{prefix}/upload/image", self._upload_image)
            app.router.add_get(f"{prefix}/view", self._view)
            app.router.add_get(prefix + "/experiment/models/{folder}", self._model_listing)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        self.port = _free_port()
        await self._listen()
        self._worker = asyncio.create_task(self._work())

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()

    async def restart(self, *, up: asyncio.Event | None = None) -> None:
        """A server restart: every socket and connection cut, connections refused until `up` is set (at once
        without it), then an empty queue, history and cache on the same port. The running job vanishes."""
        self.restarts += 1
        await self._restart()
        if self._site is not None:
            await self._site.stop()
        for transport in list(self._http_transports):
            transport.abort()
        self._http_transports.clear()
        if self._job_task is not None and self._job_task is not asyncio.current_task():
            self._job_task.cancel()
        if up is not None:
            await up.wait()
        await self._listen()

    async def stop(self) -> None:
        for task in (self._job_task, self._worker):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for ws in list(self._all_sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeComfyUI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _captured_models(self) -> set[str]:
        found: set[str] = set()
        for spec in self.object_info.values():
            for section in ("required", "optional"):
                for name, config in spec.get("input", {}).get(section, {}).items():
                    if name in MODEL_INPUTS:
                        found.update(self._options(config))
        return found

    @staticmethod
    def _options(config: Any) -> list[Any]:
        if isinstance(config, list) and config and isinstance(config[0], list):
            return list(config[0])
        if isinstance(config, list) and config and config[0] == "COMBO" and len(config) > 1:
            return list(config[1].get("options", []))
        return []

    # --- HTTP helpers ---------------------------------------------------------------------------------

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.request_headers.append(dict(request.headers))
        self.requests.append((request.method, request.path))
        if isinstance(request.transport, asyncio.Transport):
            self._http_transports.add(request.transport)
        if self._foreign_origin(request):
            return web.Response(status=403)
        if self.required_header:
            name, _, value = self.required_header.partition(":")
            if request.headers.get(name.strip()) != value.strip():
                return web.Response(status=401, text="401: Unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    @staticmethod
    def _foreign_origin(request: web.Request) -> bool:
        """ComfyUI 0.8.0's origin-only middleware: on a loopback Host, an Origin naming another host is refused.
        Without a port on one side, only host names are compared."""
        host, origin = request.headers.get("Host"), request.headers.get("Origin")
        if not host or not origin:
            return False
        parsed = urlsplit(origin)
        host_parsed = urlsplit("//" + host.lower())
        if host_parsed.hostname not in LOOPBACK_HOSTS:
            return False
        host_domain, origin_domain = host.lower(), parsed.netloc.lower()
        if parsed.port is None:
            host_domain = host_parsed.hostname or ""
        if host_parsed.port is None:
            origin_domain = parsed.hostname or ""
        return bool(host_domain and origin_domain and host_domain != origin_domain)

    @staticmethod
    def _empty() -> web.Response:
        return web.Response(status=200)

    def _queue_remaining(self) -> int:
        return len(self.pending) + (1 if self.running else 0)

    def _status_message(self, sid: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"status": {"exec_info": {"queue_remaining": self._queue_remaining()}}}
        if sid is not None:
            data["sid"] = sid
        return {"type": "status", "data": data}

    # --- WebSocket ------------------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        self.ws_handshake_headers.append(dict(request.headers))
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client_id = request.query.get("clientId") or uuid.uuid4().hex
        # A second socket with the same id takes it over; the old one stays open but hears nothing.
        self._sockets[client_id] = ws
        self._all_sockets.append(ws)
        if request.transport is not None:
            self._transports[id(ws)] = request.transport
        try:
            await ws.send_str(json.dumps(self._status_message(sid=client_id)))
            job = self.running
            if job is not None and job.client_id == client_id and job.current_node is not None:
                # The reconnect-time message carries no prompt_id (captured in 11_reconnect_same_client_id).
                await ws.send_str(json.dumps({"type": "executing", "data": {"node": job.current_node}}))
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            if self._sockets.get(client_id) is ws:
                del self._sockets[client_id]
            with contextlib.suppress(ValueError):
                self._all_sockets.remove(ws)
            self._transports.pop(id(ws), None)
        return ws

    async def _send(self, ws: web.WebSocketResponse, payload: str | bytes) -> None:
        if ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            if isinstance(payload, bytes):
                await ws.send_bytes(payload)
            else:
                await ws.send_str(payload)

    async def _broadcast(self, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        for ws in list(self._sockets.values()):
            await self._send(ws, text)

    async def _to_client(self, job: Job, message: dict[str, Any] | str | bytes) -> None:
        """Per-prompt events go only to the socket registered under the prompt's client_id; without one,
        only progress / progress_state / execution_interrupted are broadcast (captured routing)."""
        if isinstance(message, dict):
            kind = message.get("type")
            payload: str | bytes = json.dumps(message)
        else:
            kind = json.loads(message).get("type") if isinstance(message, str) else "binary"
            payload = message
        if job.client_id is None:
            if kind in ("progress", "progress_state", "execution_interrupted"):
                for ws in list(self._sockets.values()):
                    await self._send(ws, payload)
            return
        target = self._sockets.get(job.client_id)
        if target is not None:
            await self._send(target, payload)

    async def drop_sockets(self) -> None:
        """Cut every WebSocket without a close frame (as a killed server does)."""
        for ws in list(self._all_sockets):
            transport = self._transports.get(id(ws))
            if isinstance(transport, asyncio.Transport):
                transport.abort()
        self._sockets.clear()
        self._all_sockets.clear()
        self._transports.clear()

    # --- simple routes --------------------------------------------------------------------------------

    async def _system_stats(self, request: web.Request) -> web.Response:
        return web.json_response({
            "system": {"os": "posix", "ram_total": 137438953472, "ram_free": 120000000000,
                       "comfyui_version": "0.8.0", "required_frontend_version": "1.35.9",
                       "installed_templates_version": "0.7.67", "required_templates_version": "0.7.67",
                       "python_version": "3.11.7", "pytorch_version": "2.7.0+cu128", "embedded_python": False,
                       "argv": ["main.py", "--listen", "0.0.0.0", "--port", "8188"]},
            "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 3090 : cudaMallocAsync", "type": "cuda", "index": 0,
                         "vram_total": 25769279488, "vram_free": 24023466188, "torch_vram_total": 0,
                         "torch_vram_free": 0}],
        })

    def _served_info(self, cls: str) -> dict[str, Any]:
        spec: dict[str, Any] = copy.deepcopy(self.object_info[cls])
        for section in ("required", "optional"):
            for name, config in spec.get("input", {}).get(section, {}).items():
                if name in MODEL_INPUTS and isinstance(config, list) and config:
                    models = sorted(self.models)
                    if isinstance(config[0], list):
                        config[0] = models
                    elif config[0] == "COMBO" and len(config) > 1:
                        config[1]["options"] = models
                if cls == "LoadImage" and name == "image" and isinstance(config, list) and config:
                    config[0] = sorted(p.name for p in self.input_dir.iterdir() if p.is_file())
        return spec

    async def _object_info_all(self, request: web.Request) -> web.Response:
        return web.json_response({cls: self._served_info(cls) for cls in self.object_info})

    async def _object_info_one(self, request: web.Request) -> web.Response:
        cls = request.match_info["cls"]
        if cls not in self.object_info:
            return web.json_response({})
        return web.json_response({cls: self._served_info(cls)})

    async def _model_listing(self, request: web.Request) -> web.Response:
        if request.match_info["folder"] not in MODEL_FOLDERS:
            return web.Response(status=404)
        now = time.time()
        return web.json_response([
            {"name": name, "pathIndex": 0, "modified": now, "created": now,
             "size": self.model_sizes.get(name, DEFAULT_MODEL_SIZE)} for name in sorted(self.models)])

    async def _get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response({"exec_info": {"queue_remaining": self._queue_remaining()}})

    async def _get_queue(self, request: web.Request) -> web.Response:
        return web.json_response({
            "queue_running": [self.running.item()] if self.running else [],
            "queue_pending": [job.item() for job in self.pending],
        })

    async def _post_queue(self, request: web.Request) -> web.Response:
        body = await request.json()
        if isinstance(body, dict) and body.get("clear"):
            self.pending.clear()
            await self._broadcast(self._status_message())
        if isinstance(body, dict) and isinstance(body.get("delete"), list):
            ids = [str(i) for i in body["delete"]]
            self.deletes.extend(ids)
            before = len(self.pending)
            self.pending = [job for job in self.pending if job.prompt_id not in ids]
            if len(self.pending) != before:
                await self._broadcast(self._status_message())
        return self._empty()

    async def _get_history_all(self, request: web.Request) -> web.Response:
        return web.json_response(self.history)

    async def _get_history(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry is not None else {})

    async def _post_interrupt(self, request: web.Request) -> web.Response:
        body: dict[str, Any] | None = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                parsed = await request.json()
                body = parsed if isinstance(parsed, dict) else None
        self.interrupts.append(body)
        target = body.get("prompt_id") if body else None
        job = self.running
        if job is not None and (target is None or target == job.prompt_id):
            job.interrupted.set()  # cooperative: honoured at the next node or progress update
        return self._empty()

    async def _post_free(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.frees.append(body if isinstance(body, dict) else {})
        if isinstance(body, dict) and body.get("unload_models"):
            self._last_checkpoint = None
        if isinstance(body, dict) and body.get("free_memory"):
            self._cache_key = None  # main.py resets the executor's caches on free_memory
        return self._empty()

    # --- upload / view --------------------------------------------------------------------------------

    async def _upload_image(self, request: web.Request) -> web.Response:
        try:
            form = await request.post()
        except ValueError:
            return web.Response(status=400)
        part = form.get("image")
        if not isinstance(part, web.FileField):
            return web.Response(status=400)
        kind = str(form.get("type", "input"))
        base = {"input": self.input_dir, "temp": self.temp_dir, "output": self.output_dir}.get(kind)
        if base is None:
            return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
        subfolder = str(form.get("subfolder", ""))
        folder = (base / subfolder).resolve()
        if not folder.is_relative_to(base.resolve()):
            return web.Response(status=400)
        filename = part.filename or ""
        if filename.startswith("/"):
            return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
        if not filename or ".." in filename or "/" in filename or "\\" in filename:
            return web.Response(status=400)
        data = part.file.read()
        overwrite = str(form.get("overwrite", "")).lower() in ("true", "1")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / filename
        if target.exists() and not overwrite:
            stem, suffix = target.stem, target.suffix
            counter = 1
            while target.exists():
                if hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
                    break  # identical bytes: no new file, same name
                target = folder / f"{stem} ({counter}){suffix}"
                counter += 1
        if not target.exists() or overwrite:
            target.write_bytes(data)
        return web.json_response({"name": target.name, "subfolder": subfolder, "type": kind})

    async def _view(self, request: web.Request) -> web.StreamResponse:
        filename = request.query.get("filename")
        if not filename:
            return web.Response(status=404)
        kind = request.query.get("type", "output")
        base = {"input": self.input_dir, "temp": self.temp_dir, "output": self.output_dir}.get(kind)
        if base is None or filename.startswith("/") or ".." in filename:
            return web.Response(status=400)
        filename = Path(filename).name
        subfolder = request.query.get("subfolder", "")
        folder = (base / subfolder).resolve() if subfolder else base.resolve()
        if not folder.is_relative_to(base.resolve()):
            return web.Response(status=403)
        path = folder / filename
        if not path.is_file():
            return web.Response(status=404)
        headers = {"Content-Disposition": f'filename="{filename}"'}
        return web.FileResponse(path, headers=headers)

    # --- POST /prompt and validation ----------------------------------------------------------------

    async def _post_prompt(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
        self.submitted.append(body)
        number = self._number
        self._number += 1
        fault = self.faults.pop()
        if fault is not None and fault.kind == "http_500":
            return web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(float(fault.params.get("delay", 0.2)))
        if not isinstance(body, dict) or "prompt" not in body:
            return self._error(400, "no_prompt", "No prompt provided", "")
        graph = body["prompt"]
        if not isinstance(graph, dict):
            return self._error(400, "prompt_no_outputs", "Prompt has no outputs", "")
        removed: set[str] = set()
        if fault is not None and fault.kind == "missing_model":
            removed.add(str(fault.params.get("model") or self._checkpoint_of(graph) or ""))
        early = self._check_classes(graph)
        if early is not None:
            return early
        outputs = [nid for nid, node in graph.items() if self.object_info[node["class_type"]].get("output_node")]
        if not outputs:
            return self._error(400, "prompt_no_outputs", "Prompt has no outputs", "")
        node_errors: dict[str, Any] = {}
        good: list[str] = []
        for output in outputs:
            errors = self._validate_output(graph, output, removed)
            if not errors:
                good.append(output)
            for node_id, errs in errors.items():
                entry = node_errors.setdefault(node_id, {"errors": errs, "dependent_outputs": [],
                                                         "class_type": graph[node_id]["class_type"]})
                entry["dependent_outputs"].append(output)
        if not good:
            first = next(iter(node_errors.values()))["errors"][0]
            details = f"{first['message']}: {first['details']}" if first["type"] == "value_not_in_list" else ""
            return web.json_response({"error": {"type": "prompt_outputs_failed_validation",
                                                 "message": "Prompt outputs failed validation",
                                                 "details": details, "extra_info": {}},
                                      "node_errors": node_errors}, status=400)
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        extra = dict(body.get("extra_data") or {})
        if body.get("client_id") is not None:
            extra["client_id"] = body["client_id"]
        extra["create_time"] = _now_ms()
        job = Job(number=number, prompt_id=prompt_id, graph=graph, extra_data=extra, outputs=good, fault=fault)
        self.pending.append(job)
        if fault is None or fault.kind != "script":  # a script replays the captured status frames itself
            await self._broadcast(self._status_message())
        self._wake.set()
        return web.json_response({"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    @staticmethod
    def _error(status: int, kind: str, message: str, details: str) -> web.Response:
        return web.json_response({"error": {"type": kind, "message": message, "details": details,
                                            "extra_info": {}}, "node_errors": {}}, status=status)

    def _check_classes(self, graph: dict[str, Any]) -> web.Response | None:
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return self._error(400, "invalid_prompt",
                                   "Cannot execute because a node is missing the class_type property.",
                                   f"Node ID '#{node_id}'")
            if node["class_type"] not in self.object_info:
                return self._error(400, "invalid_prompt",
                                   f"Cannot execute because node {node['class_type']} does not exist.",
                                   f"Node ID '#{node_id}'")
        return None

    def _validate_output(self, graph: dict[str, Any], output: str, removed: set[str]) -> dict[str, list[Any]]:
        errors: dict[str, list[Any]] = {}
        seen: set[str] = set()
        stack = [output]
        while stack:
            node_id = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            node = graph[node_id]
            spec = self.object_info[node["class_type"]]["input"]
            inputs = node.get("inputs", {})
            node_errs: list[Any] = []
            for name in spec.get("required", {}):
                if name not in inputs:
                    node_errs.append({"type": "required_input_missing", "message": "Required input is missing",
                                      "details": name, "extra_info": {"input_name": name}})
            for name, value in inputs.items():
                config = spec.get("required", {}).get(name) or spec.get("optional", {}).get(name)
                if _is_link(value):
                    if value[0] not in graph:
                        node_errs.append({"type": "exception_during_validation",
                                          "message": "Exception when validating node", "details": f"'{value[0]}'",
                                          "extra_info": {"exception_type": "KeyError", "traceback": []}})
                    else:
                        stack.append(value[0])
                    continue
                if config is None:
                    continue
                error = self._check_value(node["class_type"], name, value, config, removed)
                if error is not None:
                    node_errs.append(error)
            if node_errs:
                errors[node_id] = node_errs
        return errors

    def _check_value(self, cls: str, name: str, value: Any, config: Any, removed: set[str]) -> dict[str, Any] | None:
        options = self._options(config)
        if name in MODEL_INPUTS:
            options = sorted(self.models - removed)
        if cls == "LoadImage" and name == "image":
            path = self.input_dir / str(value)
            if not path.resolve().is_relative_to(self.input_dir.resolve()) or not path.is_file():
                return {"type": "custom_validation_failed", "message": "Custom validation failed for node",
                        "details": f"image - Invalid image file: {value}", "extra_info": {"input_name": name}}
            return None
        if options or name in MODEL_INPUTS:
            if value not in options:
                return {"type": "value_not_in_list", "message": "Value not in list",
                        "details": f"{name}: '{value}' not in {options!r}",
                        "extra_info": {"input_name": name, "input_config": [options], "received_value": value}}
            return None
        kind = config[0] if isinstance(config, list) and config else None
        limits = config[1] if isinstance(config, list) and len(config) > 1 and isinstance(config[1], dict) else {}
        if kind in ("INT", "FLOAT"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                return {"type": "invalid_input_type",
                        "message": f"Failed to convert an input value to a {kind} value",
                        "details": f"{name}, {value}, could not convert", "extra_info": {"input_name": name,
                                                                                        "received_value": value}}
            if "max" in limits and number > limits["max"]:
                return {"type": "value_bigger_than_max",
                        "message": f"Value {value} bigger than max of {limits['max']}",
                        "details": name, "extra_info": {"input_name": name, "received_value": value}}
            if "min" in limits and number < limits["min"]:
                return {"type": "value_smaller_than_min",
                        "message": f"Value {value} smaller than min of {limits['min']}",
                        "details": name, "extra_info": {"input_name": name, "received_value": value}}
        return None

    @staticmethod
    def _checkpoint_of(graph: dict[str, Any]) -> str | None:
        for node in graph.values():
            value = node.get("inputs", {}).get("ckpt_name") if isinstance(node, dict) else None
            if isinstance(value, str):
                return value
        return None

    # --- the executor ---------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            while not self.pending:
                self._wake.clear()
                await self._wake.wait()
            job = min(self.pending, key=lambda j: j.number)
            self.pending.remove(job)
            self.running = job
            self._job_task = task = asyncio.create_task(self._execute(job))
            try:
                await task
            except _Vanished:
                pass
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the server is stopping
                # else: restart() cancelled the job; it vanished
            finally:
                if self.running is job:
                    self.running = None
                self._job_task = None

    async def _execute(self, job: Job) -> None:
        if job.fault is not None and job.fault.kind == "script":
            await self._replay(job)
            return
        await self._broadcast(self._status_message())
        pid = job.prompt_id
        start = {"prompt_id": pid, "timestamp": _now_ms()}
        cached = {"nodes": [], "prompt_id": pid, "timestamp": _now_ms()}
        messages: list[list[Any]] = [["execution_start", start], ["execution_cached", cached]]
        await self._to_client(job, {"type": "execution_start", "data": start})
        key = json.dumps(job.graph, sort_keys=True)
        if self.cache_enabled and job.fault is None and key == self._cache_key:
            await self._from_cache(job, cached, messages)
            return
        await self._to_client(job, {"type": "execution_cached", "data": cached})
        outputs: dict[str, Any] = {}
        executed: list[str] = []
        states: dict[str, Any] = {}
        for node_id in self._order(job.graph, job.outputs):
            cls = job.graph[node_id]["class_type"]
            if job.interrupted.is_set():
                await self._finish_interrupted(job, node_id, cls, executed, messages, outputs)
                return
            job.current_node = node_id
            states[node_id] = self._state(pid, node_id, 0.0, 1.0, "running")
            await self._to_client(job, {"type": "progress_state", "data": {"prompt_id": pid, "nodes": dict(states)}})
            await self._to_client(job, {"type": "executing",
                                        "data": {"node": node_id, "display_node": node_id, "prompt_id": pid}})
            try:
                steps = await self._run_node(job, node_id, cls, states)
            except _Interrupted:
                await self._finish_interrupted(job, node_id, cls, executed, messages, outputs)
                return
            except _NodeFailed as failure:
                await self._finish_error(job, node_id, cls, executed, messages, outputs, failure)
                return
            if cls in VIDEO_OUTPUT_CLASSES:
                output = await self._write_video(job, node_id)
                outputs[node_id] = output
                await self._to_client(job, {"type": "executed", "data": {
                    "node": node_id, "display_node": node_id, "output": output, "prompt_id": pid}})
            states[node_id] = self._state(pid, node_id, float(steps), float(steps), "finished")
            await self._to_client(job, {"type": "progress_state", "data": {"prompt_id": pid, "nodes": dict(states)}})
            executed.append(node_id)
        success = {"prompt_id": pid, "timestamp": _now_ms()}
        messages.append(["execution_success", success])
        await self._to_client(job, {"type": "execution_success", "data": success})
        self._cache_key, self._cache_outputs = key, copy.deepcopy(outputs)
        self._record(job, outputs, messages, "success")
        await self._finish(job)

    async def _from_cache(self, job: Job, cached: dict[str, Any], messages: list[list[Any]]) -> None:
        """Every node cached: no node runs, the output nodes' UI output is re-sent, no file is written."""
        pid = job.prompt_id
        cached["nodes"] = list(self._order(job.graph, job.outputs))
        await self._to_client(job, {"type": "execution_cached", "data": cached})
        outputs = copy.deepcopy(self._cache_outputs)
        for node_id, output in outputs.items():
            await self._to_client(job, {"type": "executed", "data": {
                "node": node_id, "display_node": node_id, "output": output, "prompt_id": pid}})
        success = {"prompt_id": pid, "timestamp": _now_ms()}
        messages.append(["execution_success", success])
        await self._to_client(job, {"type": "execution_success", "data": success})
        self.cache_hits.append(pid)
        self._record(job, outputs, messages, "success")
        await self._finish(job)

    async def _run_node(self, job: Job, node_id: str, cls: str, states: dict[str, Any]) -> int:
        """Simulate one node; returns its progress maximum. Raises _Interrupted / _NodeFailed / _Vanished."""
        pid = job.prompt_id
        fault = job.fault
        if fault is not None and fault.kind == "error" and fault.params.get("at") == cls:
            raise _NodeFailed(str(fault.params.get("exception_type", "RuntimeError")),
                              str(fault.params.get("message", "simulated failure")))
        if cls in SAMPLER_CLASSES:
            if fault is not None and fault.kind == "ws_drop":
                await self.drop_sockets()
            if fault is not None and fault.kind == "restart":
                up = fault.params.get("up")
                if isinstance(up, asyncio.Event):
                    await self.restart(up=up)
                else:
                    await self._restart()
                raise _Vanished
            if fault is not None and fault.kind == "oom":
                raise _NodeFailed("torch.OutOfMemoryError", OOM_MESSAGE)
            if fault is not None and fault.kind == "error" and "at" not in fault.params:
                raise _NodeFailed(str(fault.params.get("exception_type", "RuntimeError")),
                                  str(fault.params.get("message", "simulated failure")))
            if fault is not None and fault.kind == "hang":
                await job.interrupted.wait()
                raise _Interrupted
            if fault is not None and fault.kind == "hold":
                await fault.params["until"].wait()
            checkpoint = self._checkpoint_of(job.graph)
            switch = 0.0
            if checkpoint != self._last_checkpoint:
                if self._last_checkpoint is not None:
                    self.checkpoint_switches += 1
                switch = self.checkpoint_switch_seconds
                self._last_checkpoint = checkpoint
            width, height, frames, _fps = self.clip_shape(job.graph)
            steps = self._steps(job.graph)
            per_step = self.seconds_per_unit * width * height * frames
            if switch:
                await asyncio.sleep(switch)
            for step in range(1, steps + 1):
                if per_step:
                    await asyncio.sleep(per_step)
                if job.interrupted.is_set():
                    raise _Interrupted
                states[node_id] = self._state(pid, node_id, float(step), float(steps), "running")
                await self._to_client(job, {"type": "progress_state", "data": {"prompt_id": pid,
                                                                               "nodes": dict(states)}})
                await self._to_client(job, {"type": "progress", "data": {"value": step, "max": steps,
                                                                         "prompt_id": pid, "node": node_id}})
                if self.send_previews:
                    await self._to_client(job, b"\x00\x00\x00\x01\x00\x00\x00\x02" + _tiny_png())
            return steps
        if cls in VIDEO_OUTPUT_CLASSES:
            _w, _h, frames, _fps = self.clip_shape(job.graph)
            for frame in range(1, frames + 1):
                if job.interrupted.is_set():
                    raise _Interrupted
                states[node_id] = self._state(pid, node_id, float(frame), float(frames), "running")
                await self._to_client(job, {"type": "progress_state", "data": {"prompt_id": pid,
                                                                               "nodes": dict(states)}})
                await self._to_client(job, {"type": "progress", "data": {"value": frame, "max": frames,
                                                                         "prompt_id": pid, "node": node_id}})
            return frames
        return 1

    @staticmethod
    def _state(pid: str, node_id: str, value: float, maximum: float, state: str) -> dict[str, Any]:
        return {"value": value, "max": maximum, "state": state, "node_id": node_id, "prompt_id": pid,
                "display_node_id": node_id, "parent_node_id": None, "real_node_id": node_id}

    async def _finish_interrupted(self, job: Job, node_id: str, cls: str, executed: list[str],
                                  messages: list[list[Any]], outputs: dict[str, Any]) -> None:
        data = {"prompt_id": job.prompt_id, "node_id": node_id, "node_type": cls,
                "executed": list(reversed(executed)), "timestamp": _now_ms()}
        messages.append(["execution_interrupted", data])
        await self._to_client(job, {"type": "execution_interrupted", "data": data})
        self._record(job, outputs, messages, "error")
        await self._finish(job)

    async def _finish_error(self, job: Job, node_id: str, cls: str, executed: list[str],
                            messages: list[list[Any]], outputs: dict[str, Any], failure: _NodeFailed) -> None:
        data = {"prompt_id": job.prompt_id, "node_id": node_id, "node_type": cls, "executed": list(executed),
                "exception_message": failure.message, "exception_type": failure.exception_type,
                "traceback": ['  File "/opt/ComfyUI/execution.py", line 518, in execute\n    <source line elided>\n'],
                "current_inputs": self._current_inputs(job.graph[node_id]), "current_outputs": list(executed),
                "timestamp": _now_ms()}
        messages.append(["execution_error", data])
        await self._to_client(job, {"type": "execution_error", "data": data})
        self._record(job, outputs, messages, "error")
        await self._finish(job)

    @staticmethod
    def _current_inputs(node: dict[str, Any]) -> dict[str, list[Any]]:
        """The failing node's inputs as the server reports them: literals as they are, linked values as the
        objects' reprs; a tensor repr is long, so a sampler's error message is well over 12 kB."""
        found: dict[str, list[str]] = {}
        for name, value in node.get("inputs", {}).items():
            if _is_link(value):
                row = ", ".join(f"{0.0123 * (i % 97):.4f}" for i in range(160))
                found[name] = ["tensor([" + ",\n        ".join(f"[{row}]" for _ in range(12)) + "])"]
            else:
                found[name] = [value]  # execution.py passes str/int/float/bool/None through as they are
        return found

    def _record(self, job: Job, outputs: dict[str, Any], messages: list[list[Any]], status: str) -> None:
        # Written after execution_success/error is sent and before the final executing/null (from source).
        self.history[job.prompt_id] = {
            "prompt": job.item(),
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success", "messages": messages},
            "meta": {nid: {"node_id": nid, "display_node": nid, "parent_node": None, "real_node_id": nid}
                     for nid in outputs},
        }

    async def _finish(self, job: Job) -> None:
        self.jobs_run.append(job.prompt_id)
        self.running = None
        job.current_node = None
        await self._broadcast(self._status_message())
        await self._to_client(job, {"type": "executing", "data": {"node": None, "prompt_id": job.prompt_id}})

    async def _restart(self) -> None:
        """A simulated server restart: sockets cut, queue and history gone, counter reset."""
        await self.drop_sockets()
        self.pending.clear()
        self.history.clear()
        self.running = None
        self._number = 0
        self._last_checkpoint = None
        self._cache_key = None

    async def _replay(self, job: Job) -> None:
        """Send captured frames, with the captured prompt id replaced by this job's, then the real outputs."""
        assert job.fault is not None
        captured_id = str(job.fault.params["prompt_id"])
        frames: list[str] = list(job.fault.params["messages"])
        outputs: dict[str, Any] = {}
        messages: list[list[Any]] = []
        for node_id in job.outputs:
            outputs[node_id] = await self._write_video(job, node_id)
        for raw in frames:
            text = raw.replace(captured_id, job.prompt_id).replace("/opt/ComfyUI/output", str(self.output_dir))
            message = json.loads(text)
            kind, data = message["type"], message["data"]
            if kind == "status" and "sid" in data:
                continue  # the connect-time status was sent when the socket connected
            if kind in ("execution_start", "execution_cached", "execution_success", "execution_error"):
                messages.append([kind, data])
            if kind == "executing" and data.get("node") is None:
                self._record(job, outputs, messages, "success")
                self.jobs_run.append(job.prompt_id)
                self.running = None
            if kind == "status":
                await self._broadcast(message)
            else:
                await self._to_client(job, text)

    # --- graph evaluation (just enough to know the clip's shape) -----------------------------------

    @staticmethod
    def _order(graph: dict[str, Any], outputs: list[str]) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()

        def visit(node_id: str) -> None:
            if node_id in seen:
                return
            seen.add(node_id)
            for value in graph[node_id].get("inputs", {}).values():
                if _is_link(value):
                    visit(value[0])
            order.append(node_id)

        for output in outputs:
            visit(output)
        return order

    def _steps(self, graph: dict[str, Any]) -> int:
        for node in graph.values():
            inputs = node.get("inputs", {})
            if node.get("class_type") in ("LTXVScheduler", "BasicScheduler") and isinstance(inputs.get("steps"), int):
                return max(1, int(inputs["steps"]))
            if node.get("class_type") == "ManualSigmas" and isinstance(inputs.get("sigmas"), str):
                return max(1, len([s for s in inputs["sigmas"].split(",") if s.strip()]) - 1)
        return 1

    def _image_size(self, graph: dict[str, Any], link: Any) -> tuple[int, int]:
        if not _is_link(link) or link[0] not in graph:
            return 64, 64
        node = graph[link[0]]
        cls, inputs = node.get("class_type"), node.get("inputs", {})
        if cls == "EmptyImage":
            return self._int(graph, inputs.get("width"), 64), self._int(graph, inputs.get("height"), 64)
        if cls == "ImageScaleBy":
            width, height = self._image_size(graph, inputs.get("image"))
            scale = float(inputs.get("scale_by", 1.0))
            return round(width * scale), round(height * scale)
        if cls == "ImageScale":
            return self._int(graph, inputs.get("width"), 64), self._int(graph, inputs.get("height"), 64)
        if cls == "LoadImage":
            with contextlib.suppress(OSError), Image.open(self.input_dir / str(inputs.get("image"))) as image:
                return image.size
            return 64, 64
        for value in inputs.values():
            if _is_link(value):
                return self._image_size(graph, value)
        return 64, 64

    def _int(self, graph: dict[str, Any], value: Any, default: int) -> int:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(float(value))
        if _is_link(value) and value[0] in graph and graph[value[0]].get("class_type") == "GetImageSize":
            width, height = self._image_size(graph, graph[value[0]]["inputs"].get("image"))
            return (width, height, 1)[min(int(value[1]), 2)]
        return default

    def clip_shape(self, graph: dict[str, Any]) -> tuple[int, int, int, float]:
        """(width, height, frames, fps) the graph would render."""
        width = height = 64
        frames = 9
        fps = 24.0
        classes = {node.get("class_type") for node in graph.values()}
        for node in graph.values():
            cls, inputs = node.get("class_type"), node.get("inputs", {})
            if cls == "EmptyLTXVLatentVideo":
                width = self._int(graph, inputs.get("width"), 64)
                height = self._int(graph, inputs.get("height"), 64)
                frames = self._int(graph, inputs.get("length"), 9)
                if "LTXVLatentUpsampler" in classes:
                    width, height = width * 2, height * 2
                break
            if cls == "EmptyImage" and "EmptyLTXVLatentVideo" not in classes:
                width = self._int(graph, inputs.get("width"), 64)
                height = self._int(graph, inputs.get("height"), 64)
                frames = self._int(graph, inputs.get("batch_size"), 9)
        if not classes & {"EmptyLTXVLatentVideo", "EmptyImage"}:
            # An image-only graph (LoadImage -> ImageScale -> RepeatImageBatch -> VHS): follow the images.
            for node in graph.values():
                cls, inputs = node.get("class_type"), node.get("inputs", {})
                if cls in VIDEO_OUTPUT_CLASSES and _is_link(inputs.get("images")):
                    width, height = self._image_size(graph, inputs["images"])
                if cls == "RepeatImageBatch":
                    frames = self._int(graph, inputs.get("amount"), 1)
        for node in graph.values():
            cls, inputs = node.get("class_type"), node.get("inputs", {})
            if cls == "VHS_VideoCombine":
                fps = float(inputs.get("frame_rate", fps))
            elif cls == "CreateVideo":
                fps = float(inputs.get("fps", fps))
        # VHS pads odd sizes to even ones (captured: 63x63 -> 64x64).
        return width + width % 2, height + height % 2, max(1, frames), fps

    async def _write_video(self, job: Job, node_id: str) -> dict[str, Any]:
        node = job.graph[node_id]
        inputs = node.get("inputs", {})
        vhs = node["class_type"] == "VHS_VideoCombine"
        prefix = str(inputs.get("filename_prefix", "AnimateDiff" if vhs else "video/ComfyUI"))
        subfolder, _, base = prefix.rpartition("/")
        folder = self.output_dir / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        tail = "" if vhs else "_"
        counter = 1
        while (folder / f"{base}_{counter:05d}{tail}.mp4").exists():
            counter += 1
        name = f"{base}_{counter:05d}{tail}.mp4"
        target = folder / name
        width, height, frames, fps = self.clip_shape(job.graph)
        if job.fault is not None and job.fault.kind == "zero_byte":
            target.write_bytes(b"")
        else:
            request = ClipRequest(prompt="fake", negative_prompt="", width=width, height=height, num_frames=frames,
                                  fps=max(1, math.ceil(fps)), steps=1, cfg=1.0, seed=len(self.jobs_run),
                                  output_path=target)
            await _encode_or_copy(request, target)
        if not vhs:
            return {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}], "animated": [True]}
        sidecar = f"{base}_{counter:05d}.png"
        (folder / sidecar).write_bytes(_tiny_png())
        return {"gifs": [{"filename": name, "subfolder": subfolder, "type": "output", "format": "video/h264-mp4",
                          "frame_rate": float(fps), "workflow": sidecar, "fullpath": str(target)}]}


class _Interrupted(Exception):
    pass


class _NodeFailed(Exception):
    def __init__(self, exception_type: str, message: str) -> None:
        self.exception_type = exception_type
        self.message = message
        super().__init__(message)


_ENCODED: dict[tuple[int, int, int, int], Path] = {}
"""(width, height, frames, fps) -> a private copy of an mp4 this process already encoded with that shape. The
clip's content does not matter to any test, and a real encode (~60 ms) would otherwise count as server time in
benches. The copies live in one temporary folder, removed when the process exits."""


def _cache_dir() -> Path:
    folder = _CACHE_DIRS[0] if _CACHE_DIRS else None
    if folder is None or not folder.is_dir():
        folder = Path(tempfile.mkdtemp(prefix="fake-comfyui-mp4-"))
        atexit.register(shutil.rmtree, folder, True)
        _CACHE_DIRS[:] = [folder]
        _ENCODED.clear()
    return folder


_CACHE_DIRS: list[Path] = []


async def _encode_or_copy(request: ClipRequest, target: Path) -> None:
    key = (request.width, request.height, request.num_frames, request.fps)
    cached = _ENCODED.get(key)
    if cached is not None and cached.is_file():
        await asyncio.to_thread(shutil.copyfile, cached, target)
        return
    await run_ffmpeg(build_t2v_args(request, ["#203040", "#C08060"]), timeout=120, output=target)
    copy_path = _cache_dir() / f"{key[0]}x{key[1]}_{key[2]}f_{key[3]}fps.mp4"
    await asyncio.to_thread(shutil.copyfile, target, copy_path)
    _ENCODED[key] = copy_path


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (32, 64, 96)).save(buffer, format="PNG")
    return buffer.getvalue()
