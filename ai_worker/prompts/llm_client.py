"""The one way this project talks to Ollama: the official `ollama` client, with explicit host and timeout.

Never the `ollama` module-level functions (they read OLLAMA_HOST themselves and have no time limit).
Every third-party error is translated here, once, into the project's LLM errors:

* refused / unreachable / dropped connection -> `LLMConnectionError`
* no answer within `OLLAMA_TIMEOUT`           -> `LLMTimeoutError`
* an HTTP error or a body we cannot read     -> `LLMResponseError`
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx
import ollama
import pydantic

from ai_worker.core.errors import LLMConnectionError, LLMError, LLMResponseError, LLMTimeoutError
from config.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

KeepAlive = str | int | float | None
"""Ollama's `keep_alive`: a duration string ("5m"), seconds, 0 to unload now, or None for the server's default."""


def generate_options(max_tokens: int, temperature: float) -> dict[str, Any]:
    """The `options` object of a generate request (only what this project sets)."""
    return {"num_predict": max_tokens, "temperature": temperature}


def model_is_pulled(wanted: str, names: list[str]) -> bool:
    """Whether `wanted` is among the model names `/api/tags` lists (a name without a tag means `:latest`)."""

    def norm(name: str) -> str:
        return name if ":" in name else f"{name}:latest"

    target = norm(wanted.strip())
    return any(norm(name.strip()) == target for name in names)


class OllamaClient:
    """One `ollama.AsyncClient` bound to the settings' host, model and timeout.

    Use as ``async with OllamaClient(settings) as llm: ...``; the HTTP connection pool is created on entry,
    not at construction, so building one does no I/O.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: ollama.AsyncClient | None = None

    @property
    def host(self) -> str:
        return self._settings.ollama_host

    @property
    def model(self) -> str:
        return self._settings.ollama_model

    async def __aenter__(self) -> OllamaClient:
        self._ensure_client()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _ensure_client(self) -> ollama.AsyncClient:
        if self._client is None:
            self._client = ollama.AsyncClient(host=self._settings.ollama_host, timeout=self._settings.ollama_timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client._client.aclose()  # ollama's AsyncClient.close() is untyped; close the pool directly

    async def _call(self, what: str, make: Callable[[ollama.AsyncClient], Awaitable[T]]) -> T:
        """Run one request under a total time limit and translate every failure into our errors."""
        client = self._ensure_client()
        timeout = self._settings.ollama_timeout
        where = f"Ollama at {self.host}"
        try:
            # httpx's timeout bounds each read; this bounds the whole exchange (a trickling server included).
            async with asyncio.timeout(timeout):
                return await make(client)
        except TimeoutError as exc:
            raise LLMTimeoutError(f"{where} did not answer {what} within {timeout:g} s") from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(f"{where} did not answer {what} within {timeout:g} s") from exc
        except ollama.ResponseError as exc:
            raise LLMResponseError(f"{where} refused {what}: HTTP {exc.status_code}: {exc.error}") from exc
        except (ConnectionError, httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            # The ollama client turns httpx.ConnectError into the builtin ConnectionError with its own text.
            raise LLMConnectionError(f"cannot reach {where} for {what}: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise LLMConnectionError(f"{where} failed during {what}: {type(exc).__name__}: {exc}") from exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            raise LLMResponseError(f"{where} answered {what} with a body that is not Ollama's: {exc}") from exc

    async def generate(
        self,
        prompt: str,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.7,
        *,
        keep_alive: KeepAlive = None,
    ) -> str:
        """One non-streaming `/api/generate` call; returns the answer text as Ollama gave it."""
        options = generate_options(max_tokens, temperature)

        async def make(client: ollama.AsyncClient) -> ollama.GenerateResponse:
            # The client's typing wants `system` as str when given; None means "leave it out of the body".
            if system is None:
                return await client.generate(
                    model=self.model, prompt=prompt, stream=False, options=options, keep_alive=keep_alive
                )
            return await client.generate(
                model=self.model, prompt=prompt, system=system, stream=False, options=options, keep_alive=keep_alive
            )

        response = await self._call("a generate request", make)
        text = response.response
        if not isinstance(text, str):
            raise LLMResponseError(f"Ollama at {self.host} answered without a 'response' text")
        return text

    async def unload(self) -> None:
        """Ask Ollama to drop the model from memory now (`keep_alive: 0`), freeing its VRAM for the video model."""

        async def make(client: ollama.AsyncClient) -> ollama.GenerateResponse:
            return await client.generate(model=self.model, stream=False, keep_alive=0)

        await self._call("the unload request", make)
        logger.info("asked Ollama at %s to unload %s", self.host, self.model)

    async def status(self) -> tuple[bool, bool, str]:
        """(reachable, model pulled, a line saying what was found or what to fix)."""
        try:
            listing = await self._call("the model list", lambda client: client.list())
        except LLMError as exc:
            return False, False, str(exc)
        names = [m.model for m in listing.models if m.model]
        if model_is_pulled(self.model, names):
            return True, True, f"Ollama at {self.host} is up and has {self.model}"
        have = ", ".join(names) if names else "no models"
        return (
            True,
            False,
            f"Ollama at {self.host} is up but {self.model} is not pulled (has {have}); run: ollama pull {self.model}",
        )


async def call_ollama_raw(
    prompt: str,
    system: str | None = None,
    max_tokens: int = 256,
    temperature: float = 0.7,
    *,
    settings: Settings,
    keep_alive: KeepAlive = None,
) -> str:
    """The entry point docs/spec.md names: one generate call with its own short-lived client."""
    async with OllamaClient(settings) as client:
        return await client.generate(prompt, system, max_tokens, temperature, keep_alive=keep_alive)


async def unload_model(settings: Settings) -> None:
    """Ask Ollama to unload the configured model now (`keep_alive: 0`)."""
    async with OllamaClient(settings) as client:
        await client.unload()


async def ollama_status(settings: Settings) -> tuple[bool, bool, str]:
    """For `doctor`: (reachable, model pulled, detail)."""
    async with OllamaClient(settings) as client:
        return await client.status()
