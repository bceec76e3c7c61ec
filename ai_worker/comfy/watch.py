"""Watching one submitted prompt until it finishes: its event socket, and polling GET /history and GET /queue.

Events come over ``ws[s]://host/ws?clientId=<run's id>``: ``progress`` goes to ``hooks.on_progress``; completion
is ``executing`` with ``node: null`` and our ``prompt_id``. Until the prompt starts, history and queue are also
polled, so a prompt that vanishes from the queue is noticed (`PromptLostError`); if the socket drops, polling
takes over. `Phase` records the start, which moves the wait's deadline from the queue limit to the run limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ai_worker.comfy import protocol as proto
from ai_worker.comfy.http import ComfyHTTP
from ai_worker.core.errors import ComfyUIConnectionError, ComfyUIError, ComfyUIServerError, PromptLostError
from ai_worker.model.backend import CANCEL_TIMEOUT_S, GenerationHooks, ProgressEvent

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
WS_MAX_MESSAGE = 64 * 1024 * 1024
"""Preview frames and execution_error messages with tensor reprs can be large."""


class SocketLost(Exception):
    """The WebSocket dropped while we waited; switch to polling."""


@dataclass
class Phase:
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


async def open_socket(
    base_url: str, run_client_id: str, *, headers: Mapping[str, str], timeout: float
) -> ClientConnection | None:
    """Connect the event socket; without it the run still completes by polling."""
    try:
        return await connect(
            proto.ws_url(base_url, run_client_id),
            additional_headers=headers,
            open_timeout=timeout,
            close_timeout=timeout,
            max_size=WS_MAX_MESSAGE,
            ping_interval=None,  # the server never pings; a long silent node must not look dead
        )
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        logger.warning("no event socket to %s (%r); will poll /history", base_url, exc)
        return None


async def close_socket(ws: ClientConnection, *, graceful: bool) -> None:
    """Close the event socket. After a failure or cancellation the close handshake is skipped: the job has
    already been cancelled on the server, and waiting up to close_timeout for the reply would only delay
    the error (or a Ctrl-C)."""
    if not graceful:
        ws.transport.abort()
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), timeout=CANCEL_TIMEOUT_S)


class ComfyUIWatcher:
    """Waits for prompts on one server, by its socket and by polling every COMFYUI_POLL_INTERVAL;
    COMFYUI_MAX_POLL_ERRORS failed polls in a row give up."""

    def __init__(self, api: ComfyHTTP, *, sleep: Sleep) -> None:
        self._api = api
        self._sleep = sleep
        self.name = api.server

    async def wait(
        self, prompt_id: str, hooks: GenerationHooks | None, ws: ClientConnection | None, phase: Phase
    ) -> proto.HistoryResult:
        """The prompt's history entry once it has finished (whatever its outcome)."""
        if ws is not None:
            try:
                found = await self._listen_and_watch(ws, prompt_id, hooks, phase)
                if found is not None:
                    return found
            except SocketLost as exc:
                logger.warning("event socket to %s lost (%s); polling /history for %s", self.name, exc, prompt_id)
        # After `executing`/null the history entry is written (the server writes it first), so the first poll
        # normally answers; after a lost socket this is the fallback.
        return await self._poll(prompt_id, phase)

    async def _listen_and_watch(
        self, ws: ClientConnection, prompt_id: str, hooks: GenerationHooks | None, phase: Phase
    ) -> proto.HistoryResult | None:
        """Listen on the socket; until the prompt starts, also poll, because a queued prompt sends no events and
        one deleted from the queue (or lost to a restart that kept the socket) never will.

        Returns the history entry if polling saw the prompt finish first, else None once the socket reported
        completion. Raises `SocketLost`, or `PromptLostError` / `ComfyUIConnectionError` from the poller.
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
        self, ws: ClientConnection, prompt_id: str, hooks: GenerationHooks | None, phase: Phase
    ) -> None:
        """Read events until `executing` with node null for our prompt. The first event for our prompt
        (normally `execution_start`) marks its start; per-prompt events exist only once it executes."""
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as exc:
                raise SocketLost(repr(exc)) from exc
            except OSError as exc:
                raise SocketLost(repr(exc)) from exc
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

    def _started(self, prompt_id: str, phase: Phase) -> None:
        queued = phase.mark_started()
        if queued is not None:
            logger.info("prompt %s started on %s after %.1f s queued; it has %g s", prompt_id, self.name, queued,
                        phase.run_limit)

    async def _poll(self, prompt_id: str, phase: Phase) -> proto.HistoryResult:
        """Poll history (and the queue, to notice a lost prompt and its start) until the prompt is finished."""
        found = await self._poll_until(prompt_id, phase, until_started=False)
        if found is None:  # cannot happen: only until_started polling stops without an entry
            raise ComfyUIError(f"ComfyUI at {self.name}: polling for {prompt_id} stopped early", server=self.name,
                               prompt_id=prompt_id)
        return found

    async def _poll_until(self, prompt_id: str, phase: Phase, *, until_started: bool) -> proto.HistoryResult | None:
        """Check history and queue every COMFYUI_POLL_INTERVAL until the prompt is finished (its entry), or,
        with `until_started`, until it is seen running or started (None)."""
        errors = 0
        interval = self._api.settings.comfyui_poll_interval
        limit = self._api.settings.comfyui_max_poll_errors
        while True:
            if until_started and phase.started:
                return None
            try:
                found = proto.parse_history(await self._api.get_json(f"/history/{prompt_id}"), prompt_id)
                if found is not None:
                    return found
                state = proto.queue_state(await self._api.get_json("/queue"), prompt_id)
                if state == "absent":
                    # It may have finished between the two requests: look once more before calling it lost.
                    found = proto.parse_history(await self._api.get_json(f"/history/{prompt_id}"), prompt_id)
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
