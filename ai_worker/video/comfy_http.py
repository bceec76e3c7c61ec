"""Reading a ComfyUI answer with a size limit: a server (or whatever answers at its address) that sends an
endless or huge body must not fill this process's memory. Used for every JSON answer (/queue, /history,
/object_info, /system_stats, /prompt, /upload/image); clip downloads (/view) have their own cap and deadline."""

from __future__ import annotations

from typing import Any

import httpx

from ai_worker.errors import ComfyUIServerError

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
