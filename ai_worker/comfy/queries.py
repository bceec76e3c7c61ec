"""Questions and orders to a ComfyUI server outside a run: is it healthy, which models does it list, and take a
prompt back off its queue (or interrupt it). Each is bounded in time and never leaves a job running for nobody."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import httpx

from ai_worker.comfy import protocol as proto
from ai_worker.comfy.http import ComfyHTTP
from ai_worker.core.errors import ComfyUIError
from ai_worker.model.backend import CANCEL_TIMEOUT_S

logger = logging.getLogger(__name__)

PromptState = Literal["finished", "running", "pending", "absent"]


async def prompt_state(api: ComfyHTTP, prompt_id: str) -> PromptState:
    """Where the server has `prompt_id`: its history first (``{}`` while unknown, queued or running), then its
    queue. A restarted server knows neither, so its prompts are ``absent``."""
    if proto.parse_history(await api.get_json(f"/history/{prompt_id}"), prompt_id) is not None:
        return "finished"
    state = proto.queue_state(await api.get_json("/queue"), prompt_id)
    return "absent" if state == "absent" else state


async def health_problem(api: ComfyHTTP, timeout: float) -> str | None:
    """Why the server fails its health check (GET /system_stats within `timeout`), in a few words for the user;
    None when it passes. Never raises."""
    try:
        async with asyncio.timeout(timeout):
            body = await api.get_json("/system_stats")
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except ComfyUIError as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPError):
            return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        return str(exc).removeprefix(f"ComfyUI at {api.server}: ")
    if not isinstance(body.get("system"), dict):
        return "GET /system_stats answered, but not as ComfyUI does (no 'system')"
    return None


async def model_listing(api: ComfyHTTP, folder: str) -> list[Any] | None:
    """GET /experiment/models/{folder}: ``[{name, pathIndex, modified, created, size}]`` (ComfyUI 0.8.0's
    only way to tell file sizes); None when the server has no such route or folder (404)."""
    response = await api.request("GET", f"/experiment/models/{folder}", check=False)
    if response.status_code == 404:
        return None
    api.raise_for_status(response, f"GET /experiment/models/{folder}")
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, list) else None


async def cancel(api: ComfyHTTP, prompt_id: str) -> None:
    """Delete `prompt_id` from the queue if pending, interrupt it if running. Never raises."""
    try:
        async with asyncio.timeout(CANCEL_TIMEOUT_S):
            try:
                state = proto.queue_state(await api.get_json("/queue"), prompt_id)
            except ComfyUIError:
                state = None  # unknown: do both; each is a no-op when it does not apply
            if state in ("pending", None):
                await api.request("POST", "/queue", json={"delete": [prompt_id]})
            # A pending prompt may start between our look and the delete: a targeted interrupt is a
            # no-op unless it is the running one, so send it too.
            if state in ("running", "pending", None):
                await api.request("POST", "/interrupt", json={"prompt_id": prompt_id})
            logger.info("cancelled prompt %s on %s (was %s)", prompt_id, api.server, state or "unknown")
    except (ComfyUIError, TimeoutError) as exc:
        logger.warning("could not cancel prompt %s on %s: %r", prompt_id, api.server, exc)
