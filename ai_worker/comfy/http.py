"""Reading a ComfyUI answer with a size limit: a server (or whatever answers at its address) that sends an
endless or huge body must not fill this process's memory. Used for every JSON answer (/queue, /history,
/object_info, /system_stats, /prompt, /upload/image); clip downloads (/view) have their own cap and deadline.
`ComfyHTTP` is one server's API on top of it, with httpx and status errors translated once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ai_worker.core.errors import ComfyUIConnectionError, ComfyUIError, ComfyUIServerError
from config.settings import Settings

# Headers that describe the body as it came over the wire; the rebuilt response holds the decoded body.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def too_large(server: str, what: str, limit: int) -> ComfyUIServerError:
    return ComfyUIServerError(
        f"ComfyUI at {server}: {what} answered more than {limit} bytes (COMFYUI_MAX_RESPONSE_BYTES); refused",
        server=server,
    )


async def request_bounded(
    http: httpx.AsyncClient, method: str, path: str, *, limit: int, server: str, **kwargs: Any
) -> httpx.Response:
    """Send a request and read its (decoded) body, at most `limit` bytes; more is `ComfyUIServerError`.

    Returns a complete response (``.text`` and ``.json()`` work). httpx errors propagate for the caller to
    translate, as a plain request's would.
    """
    what = f"{method} {path}"
    async with http.stream(method, path, **kwargs) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large(server, what, limit)
        if declared.isdigit() and "content-encoding" not in response.headers:
            # The usual answer: framed by its Content-Length (the HTTP parser reads no further), not compressed,
            # so reading it whole is bounded by the check above.
            await response.aread()
            return response
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise too_large(server, what, limit)
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=response.request)


class ComfyHTTP:
    """The HTTP API of one ComfyUI server, its failures translated once into the `ComfyUIError` tree:
    transport errors are `ComfyUIConnectionError`, 5xx and unreadable answers `ComfyUIServerError` (both worth
    another try), other 4xx plain `ComfyUIError`. Every answer is read within COMFYUI_MAX_RESPONSE_BYTES."""

    def __init__(self, base_url: str, *, settings: Settings, headers: Mapping[str, str]) -> None:
        self.server = base_url
        self.settings = settings
        timeout = settings.comfyui_http_timeout
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(self, method: str, path: str, *, check: bool = True, **kwargs: Any) -> httpx.Response:
        try:
            response = await request_bounded(
                self.client, method, path, limit=self.settings.comfyui_max_response_bytes, server=self.server,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ComfyUIConnectionError(f"ComfyUI at {self.server}: {method} {path} failed: {exc!r}",
                                         server=self.server) from exc
        if check:
            self.raise_for_status(response, f"{method} {path}")
        return response

    def raise_for_status(self, response: httpx.Response, what: str) -> None:
        if response.status_code >= 500:
            # A server-side failure: the request may succeed later or elsewhere.
            raise ComfyUIServerError(f"ComfyUI at {self.server}: {what} answered {response.status_code}: "
                                     f"{response.text[:200]}", server=self.server)
        if response.status_code >= 400:
            raise ComfyUIError(f"ComfyUI at {self.server}: {what} answered {response.status_code}: "
                               f"{response.text[:200]}", server=self.server)

    def json_of(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ComfyUIServerError(f"ComfyUI at {self.server}: answer is not JSON: {response.text[:200]!r}",
                                     server=self.server) from exc
        if not isinstance(body, dict):
            raise ComfyUIServerError(f"ComfyUI at {self.server}: expected a JSON object, got {body!r:.200}",
                                     server=self.server)
        return body

    async def get_json(self, path: str) -> dict[str, Any]:
        return self.json_of(await self.request("GET", path))
