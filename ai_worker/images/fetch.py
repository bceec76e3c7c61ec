"""Getting a scene's image onto local disk, safely: the widest door of the stage, since URLs come from strangers.

A URL is downloaded into the spec's cache, ``<out>/tmp/vid_img_cache_{post_id}/vid_img_{hash}.{ext}``; a cached
file is reused without a request. A local path (relative to the post file, and only inside its folder) is used
in place. Hosts go on the wire IDNA-encoded (``image_urls.ascii_url``), so Korean domain names work.

What a download must get past, each failure an `ImageError` whose message starts with a reason token:

* http and https only, at every hop; at most ``image_download_max_redirects`` redirects, followed by hand;
* the host is resolved and every address must be public (no loopback, private, link-local, reserved,
  multicast or unspecified) unless ``image_allow_private_hosts``; the connection then goes to the very address
  that was checked (see `image_transport.PinnedBackend`), so DNS cannot answer differently between check and connect;
* a Content-Length over ``image_download_max_bytes`` is refused up front, and the cap is enforced while
  streaming; per-operation timeouts plus an overall deadline per download (an endless trickle stops);
* the content type must be ``image/*``, the body at least 200 bytes (the origin's rule) and Pillow must be
  able to identify and verify it; the file is written to ``.part`` and renamed, so no half file is ever cached.

DCInside hosts (``image_referer_hosts``) refuse images without a session cookie and their own Referer: one
warm-up GET of ``image_warmup_url`` fills the shared cookie jar, and image requests carry ``image_referer``
and the browser's ``Sec-Fetch-*`` headers. Other hosts get their own origin as Referer.

Transient failures (connect errors, timeouts, 5xx, 429) are retried twice with a short back-off.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx
from PIL import Image, UnidentifiedImageError

from ai_worker.core.atomic import atomic_file
from ai_worker.core.errors import ImageError, ImagePathRefused
from ai_worker.images.transport import PinnedTransport, system_resolve
from ai_worker.images.urls import (
    address_refusal,
    ascii_url,
    host_matches,
    image_request_headers,
    warmup_headers,
)
from ai_worker.model.paths import image_cache_dir, is_url, local_path_refusal
from config.settings import Settings

logger = logging.getLogger(__name__)

MIN_IMAGE_BYTES = 200
"""Bodies smaller than this are error placeholders, not images (the origin system's rule)."""

RETRIES = 2
BACKOFF_SECONDS = 0.5
CHUNK_SIZE = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

# Pillow format name -> file extension of the cached copy.
_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}

Resolver = Callable[[str, int], Awaitable[list[str]]]
Sleep = Callable[[float], Awaitable[None]]


class _Transient(Exception):
    """Internal: a failure worth another try; `reason` is what the user sees if the tries run out."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class FetchedImage:
    """A scene's image on local disk."""

    source: str
    path: Path
    downloaded: bool
    """True when bytes came over the network in this call (False: cache hit or local file)."""


def cache_path_stem(out_dir: Path, post_id: str, url: str) -> Path:
    """The cached file's path without its extension (the extension comes from the detected format)."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return image_cache_dir(out_dir, post_id) / f"vid_img_{digest}"


def find_cached(stem: Path) -> Path | None:
    """A finished cached file for this stem: any extension but ``.part``, and not tiny."""
    if not stem.parent.is_dir():
        return None
    for candidate in sorted(stem.parent.glob(stem.name + ".*")):
        if candidate.suffix == ".part" or not candidate.is_file():
            continue
        if candidate.stat().st_size >= MIN_IMAGE_BYTES:
            return candidate
    return None


def _identify(path: Path) -> str:
    """The Pillow format of a downloaded file, after `verify()`; raises `ImageError` when it is no image."""
    try:
        with Image.open(path) as im:
            fmt = im.format or ""
            im.verify()
    except Image.DecompressionBombError as exc:
        raise ImageError(f"decompression_bomb: {path.name} declares too many pixels") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not_an_image: the body is not a known image format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"unreadable_image: the body does not decode ({type(exc).__name__})") from exc
    if fmt not in _EXTENSIONS:
        raise ImageError(f"unsupported_image_format: {fmt or 'unknown'}")
    return fmt


class ImageFetcher:
    """Downloads (or finds) the images of one post. Use as ``async with ImageFetcher(...) as fetcher``."""

    def __init__(
        self,
        settings: Settings,
        *,
        out_dir: Path,
        post_id: str,
        base_dir: Path,
        resolve: Resolver | None = None,
        sleep: Sleep | None = None,
    ):
        self._settings = settings
        self._out_dir = out_dir
        self._post_id = post_id
        self._base_dir = base_dir
        self._resolve = resolve or system_resolve
        self._sleep = sleep or asyncio.sleep
        self._pins: dict[str, str] = {}
        self._semaphore = asyncio.Semaphore(settings.image_download_concurrency)
        self._url_locks: dict[str, asyncio.Lock] = {}
        self._warmup_lock = asyncio.Lock()
        self._warmed_up = False
        self._client: httpx.AsyncClient | None = None
        self.requests_made = 0
        """Requests sent (warm-up included); lets callers and tests see that the cache saved a trip."""

    async def __aenter__(self) -> ImageFetcher:
        timeout = httpx.Timeout(self._settings.image_download_timeout)
        self._client = httpx.AsyncClient(
            transport=PinnedTransport(self._pins), timeout=timeout, follow_redirects=False, trust_env=False
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- public --------------------------------------------------------------------------------------------

    async def fetch(self, source: str) -> FetchedImage:
        """The local file of `source` (a URL or a path relative to the post file); raises `ImageError` only.

        Whatever goes wrong with one image (a malformed URL, an unwritable cache, a surprise from a library)
        is that image's `ImageError`, never an exception that would stop the other scenes of the post.
        """
        try:
            return await self._fetch(source.strip())
        except ImageError:
            raise
        except Exception as exc:
            logger.debug("image %s: unexpected failure", source[:200], exc_info=True)
            raise ImageError(f"image_failed: {type(exc).__name__}: {exc} ({source[:200]})") from exc

    async def _fetch(self, source: str) -> FetchedImage:
        if not source:
            raise ImageError("empty image reference")
        if not is_url(source):
            return FetchedImage(source=source, path=self._local(source), downloaded=False)
        scheme = source.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ImageError(f"unsupported_scheme: {scheme} ({source[:200]})")
        url = ascii_url(source)
        stem = cache_path_stem(self._out_dir, self._post_id, source)
        lock = self._url_locks.setdefault(source, asyncio.Lock())
        async with lock:  # two scenes with one URL download it once
            cached = find_cached(stem)
            if cached is not None:
                logger.debug("image %s: cached at %s", source, cached)
                return FetchedImage(source=source, path=cached, downloaded=False)
            async with self._semaphore:
                path = await self._download_with_retries(url, stem)
        return FetchedImage(source=source, path=path, downloaded=True)

    async def fetch_many(self, sources: Sequence[str]) -> list[FetchedImage | ImageError]:
        """Every source at once (bounded by the semaphore); each result is the image or its `ImageError`."""
        results = await asyncio.gather(*(self.fetch(source) for source in sources), return_exceptions=True)
        out: list[FetchedImage | ImageError] = []
        for result in results:
            if isinstance(result, FetchedImage | ImageError):
                out.append(result)
            elif isinstance(result, BaseException):
                raise result
        return out

    # --- local files -------------------------------------------------------------------------------------------

    def _local(self, source: str) -> Path:
        refusal = local_path_refusal(self._base_dir, source)
        if refusal is not None:
            raise ImagePathRefused(f"local_path_refused: {source}: {refusal}")
        resolved = (self._base_dir / source).resolve()
        if not resolved.exists():
            raise ImageError(f"local_file_missing: {source} (looked for {resolved})")
        if not resolved.is_file():
            raise ImageError(f"local_file_not_a_file: {source}")
        return resolved

    # --- downloads ---------------------------------------------------------------------------------------------

    async def _download_with_retries(self, url: str, stem: Path) -> Path:
        for attempt in range(RETRIES + 1):
            try:
                async with asyncio.timeout(self._settings.image_download_deadline):
                    return await self._download_once(url, stem)
            except TimeoutError as exc:
                # The overall deadline: an endless or trickling body. Trying again would only repeat it.
                raise ImageError(
                    f"timeout: no complete image within {self._settings.image_download_deadline:g} s ({url[:200]})"
                ) from exc
            except _Transient as exc:
                if attempt == RETRIES:
                    raise ImageError(f"{exc.reason} ({url[:200]})") from exc
                delay = BACKOFF_SECONDS * (2**attempt)
                logger.info("image %s: %s, retrying in %.1f s", url, exc.reason, delay)
                await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _check_host(self, url: str) -> None:
        """Resolve the URL's host, refuse it unless every address is allowed, and pin the first one."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ImageError(f"unsupported_scheme: {scheme} ({url[:200]})")
        host = (parts.hostname or "").lower()
        if not host:
            raise ImageError(f"bad_url: no host ({url[:200]})")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise ImageError(f"bad_url: bad port ({url[:200]})") from exc
        try:
            ipaddress.ip_address(host)
            addresses = [host]
        except ValueError:
            try:
                async with asyncio.timeout(self._settings.image_download_timeout):
                    addresses = await self._resolve(host, port)
            except (OSError, TimeoutError) as exc:
                raise _Transient(f"dns_failed: {host} ({type(exc).__name__})") from exc
        if not addresses:
            raise ImageError(f"dns_failed: {host} has no address")
        allowlist = {name.lower() for name in self._settings.image_private_host_allowlist}
        if not self._settings.image_allow_private_hosts and host not in allowlist:
            for address in addresses:
                refusal = address_refusal(address)
                if refusal is not None:
                    raise ImageError(f"blocked_address: {host} resolves to a {refusal} ({url[:200]})")
        self._pins[host] = addresses[0]

    async def _warm_up(self) -> None:
        """One GET of the warm-up page per fetcher, for its cookies; a failure is logged, not fatal."""
        async with self._warmup_lock:
            if self._warmed_up:
                return
            self._warmed_up = True
            url = self._settings.image_warmup_url
            assert self._client is not None
            try:
                url = ascii_url(url)
                await self._check_host(url)
                self.requests_made += 1
                response = await self._client.get(url, headers=warmup_headers())
                await response.aclose()
                logger.debug("warm-up %s: %s, %d cookies", url, response.status_code, len(self._client.cookies))
            except (ImageError, _Transient, httpx.HTTPError) as exc:
                logger.warning("cookie warm-up at %s failed (%s); fetching images without it", url, exc)

    async def _download_once(self, url: str, stem: Path) -> Path:
        assert self._client is not None
        current = url
        for hop in range(self._settings.image_download_max_redirects + 1):
            await self._check_host(current)
            host = urlsplit(current).hostname or ""
            if host_matches(host, self._settings.image_referer_hosts):
                await self._warm_up()
            self.requests_made += 1
            try:
                async with self._client.stream(
                    "GET", current, headers=image_request_headers(current, self._settings)
                ) as response:
                    if response.status_code in REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise ImageError(f"bad_redirect: {response.status_code} without Location ({current[:200]})")
                        current = ascii_url(urljoin(current, location))
                        logger.debug("image %s: hop %d redirected to %s", url, hop + 1, current)
                        continue
                    return await self._save(response, current, stem)
            except httpx.TimeoutException as exc:
                raise _Transient(f"timeout: {type(exc).__name__}") from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise _Transient(f"connection_failed: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise ImageError(f"http_error: {type(exc).__name__} ({current[:200]})") from exc
        raise ImageError(f"too_many_redirects: more than {self._settings.image_download_max_redirects} ({url[:200]})")

    async def _save(self, response: httpx.Response, url: str, stem: Path) -> Path:
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise _Transient(f"http_{status}")
        if status != 200:
            raise ImageError(f"http_{status} ({url[:200]})")
        content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if not content_type.startswith("image/"):
            raise ImageError(f"not_an_image: content type {content_type or 'missing'} ({url[:200]})")
        cap = self._settings.image_download_max_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > cap:
            raise ImageError(f"too_large: {int(declared)} bytes declared, the cap is {cap} ({url[:200]})")

        received = 0
        with atomic_file(stem) as part:
            with part.path.open("wb") as fh:
                async for chunk in response.aiter_bytes(CHUNK_SIZE):
                    received += len(chunk)
                    if received > cap:
                        raise ImageError(f"too_large: more than {cap} bytes ({url[:200]})")
                    fh.write(chunk)
            if received < MIN_IMAGE_BYTES:
                raise ImageError(f"too_small: {received} bytes ({url[:200]})")
            fmt = await asyncio.to_thread(_identify, part.path)
            # The extension comes from the detected format, so the name is known only now.
            part.retarget(stem.with_name(f"{stem.name}.{_EXTENSIONS[fmt]}"))
        final = part.dest
        logger.info("image %s: %d bytes -> %s", url, received, final)
        return final
