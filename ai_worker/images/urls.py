"""The pure rules of image URLs (no I/O): ASCII form of a URL, host matching, public-address check, headers.

Kept apart from the downloader so the rules can be read and tested on their own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from ai_worker.core.errors import ImageError
from config.settings import Settings

BROWSER_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
IMAGE_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
PAGE_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

_DNS_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$")


def ascii_url(url: str) -> str:
    """`url` with its host in ASCII (IDNA: ``사진.한국`` -> ``xn--...``) and without its fragment.

    Everything downstream (DNS, the pinned connection, the Referer and Host headers) needs the ASCII form; a
    URL that cannot be split, has no host, a bad port or a host that is no valid name is an `ImageError`.
    """
    shown = url[:200]
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ImageError(f"bad_url: {exc} ({shown})") from exc
    if not host:
        raise ImageError(f"bad_url: no host ({shown})")
    ascii_host = _ascii_host(host)
    if ascii_host is None:
        raise ImageError(f"bad_url: host {host!r} is not a valid domain name ({shown})")
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + ascii_host + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))


def _ascii_host(host: str) -> str | None:
    """The host as it goes on the wire (IP literal or IDNA-encoded name); None when it is no valid name."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return name if _DNS_NAME.match(name) else None


def host_matches(host: str, suffixes: Iterable[str]) -> bool:
    """True when `host` is one of `suffixes` or a subdomain of one."""
    host = host.lower().rstrip(".")
    for suffix in suffixes:
        suffix = suffix.lower().strip(".")
        if suffix and (host == suffix or host.endswith("." + suffix)):
            return True
    return False


def origin_of(url: str) -> str:
    """``scheme://host[:port]/`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def address_refusal(address: str) -> str | None:
    """Why an address may not be fetched from (None when it is a public unicast address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"not an IP address: {address}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, name in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
    ):
        if flag:
            return f"{name} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def image_request_headers(url: str, settings: Settings) -> dict[str, str]:
    """The headers of an image request: DCInside's browser-like set for its hosts, own origin as Referer else.

    `url` must be in its ASCII form (`ascii_url`): header values are ASCII only.
    """
    host = urlsplit(url).hostname or ""
    headers = {"User-Agent": BROWSER_USER_AGENT, "Accept": IMAGE_ACCEPT}
    if host_matches(host, settings.image_referer_hosts):
        headers.update(
            {
                "Referer": settings.image_referer,
                "Accept-Language": "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7",
                "Sec-Fetch-Dest": "image",
                "Sec-Fetch-Mode": "no-cors",
                "Sec-Fetch-Site": "cross-site",
            }
        )
    else:
        headers["Referer"] = origin_of(url)
    return headers


def warmup_headers() -> dict[str, str]:
    """The warm-up page request: a browser asking for a Korean page."""
    return {"User-Agent": BROWSER_USER_AGENT, "Accept": PAGE_ACCEPT, "Accept-Language": "ko-KR,ko;q=0.9"}
