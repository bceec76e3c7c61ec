"""The network layer under image downloads: name resolution, and a transport that connects each host only to
the address that was checked for it (no DNS rebinding between the public-address check and the connect)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the event loop's resolver; no blocking call)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects a host only to the address `ImageFetcher` checked for it.

    httpx would otherwise resolve the name again when connecting, and a hostile DNS server could answer with a
    public address for the check and a private one for the connection (DNS rebinding). TLS still uses the
    host name (httpcore passes the URL's host as server_hostname), so certificates are verified as usual.
    """

    def __init__(self, pins: dict[str, str]):
        self._pins = pins
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = self._pins.get(host.lower())
        if address is None:
            raise httpcore.ConnectError(f"{host}: refusing to connect to a host whose address was not checked")
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for images")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool built on `PinnedBackend`.

    httpx takes no network backend argument, so the pool it builds is replaced with an identical one that has
    ours; the request/response mapping and exception translation stay httpx's.
    """

    def __init__(self, pins: dict[str, str]):
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            network_backend=PinnedBackend(pins),
        )
