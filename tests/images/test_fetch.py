"""Image downloads against a real HTTP server on 127.0.0.1 (aiohttp): the safety rules, the cache, DCInside."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ai_worker.core.errors import ImageError
from ai_worker.images.fetch import ImageFetcher
from ai_worker.images.urls import address_refusal, ascii_url, image_request_headers
from config.settings import Settings
from tests.fakes.images import photo_like

DC_REFERER = "http://gall.dcinside.test/"


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    photo_like(320, 240).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class Server:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.flaky_left = 2
        self.port = 0
        self.image = jpeg_bytes()
        self.dc_headers: list[dict[str, str]] = []

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        if path == "/":  # the DCInside-like home page: sets the session cookie
            response = web.Response(text="<html>home</html>", content_type="text/html")
            response.set_cookie("PHPSESSID", "warm", domain=".dcinside.test", path="/")
            return response
        if path == "/dc/img.jpg":
            self.dc_headers.append(dict(request.headers))
            ok = (
                request.cookies.get("PHPSESSID") == "warm"
                and request.headers.get("Referer") == DC_REFERER
                and request.headers.get("Sec-Fetch-Dest") == "image"
            )
            if not ok:
                return web.Response(status=403, text="forbidden")
            return web.Response(body=self.image, content_type="image/jpeg")
        if path in ("/good.jpg", "/good"):
            return web.Response(body=self.image, content_type="image/jpeg")
        if path == "/slow-parallel.jpg":
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await asyncio.sleep(0.05)
            self.in_flight -= 1
            return web.Response(body=self.image, content_type="image/jpeg")
        if path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            target = "/good.jpg" if n == 0 else f"/chain/{n - 1}"
            raise web.HTTPFound(target)
        if path == "/to-private":
            raise web.HTTPFound("http://10.0.0.1/x.jpg")
        if path == "/to-ftp":
            raise web.HTTPFound("ftp://example.com/x.jpg")
        if path == "/html.jpg":
            return web.Response(text="<html>nope</html>", content_type="text/html")
        if path == "/lies.jpg":
            return web.Response(body=b"<html>" + b"x" * 500 + b"</html>", content_type="image/jpeg")
        if path == "/tiny.jpg":
            return web.Response(body=self.image[:100], content_type="image/jpeg")
        if path == "/big.jpg":
            return web.Response(body=b"\xff" * 5000, content_type="image/jpeg")
        if path == "/endless.jpg":
            stream = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            await stream.prepare(request)
            while True:
                await stream.write(b"\xff" * 1024)
                await asyncio.sleep(0.001)
        if path == "/trickle.jpg":
            stream = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            await stream.prepare(request)
            while True:
                await stream.write(b"\xff")
                await asyncio.sleep(0.02)
        if path == "/slow.jpg":
            await asyncio.sleep(2)
            return web.Response(body=self.image, content_type="image/jpeg")
        if path == "/flaky.jpg":
            if self.flaky_left > 0:
                self.flaky_left -= 1
                return web.Response(status=503, text="busy")
            return web.Response(body=self.image, content_type="image/jpeg")
        if path == "/always503.jpg":
            return web.Response(status=503, text="busy")
        return web.Response(status=404, text="missing")


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    await runner.cleanup()


async def fake_dns(host: str, port: int) -> list[str]:
    """*.dcinside.test is the local server; anything else is not resolvable in tests."""
    if host.endswith(".dcinside.test"):
        return ["127.0.0.1"]
    raise OSError(f"no such host {host}")


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "image_allow_private_hosts": True,
        "image_download_timeout": 0.5,
        "image_download_deadline": 2.0,
        "image_download_max_bytes": 100_000,
        "image_referer_hosts": ["dcinside.test"],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def no_sleep(_: float) -> None:
    return None


def fetcher(tmp_path: Path, settings: Settings | None = None) -> ImageFetcher:
    return ImageFetcher(
        settings or make_settings(),
        out_dir=tmp_path / "media",
        post_id="dc/post 1",
        base_dir=tmp_path,
        resolve=fake_dns,
        sleep=no_sleep,
    )


async def test_good_image_cached_at_the_seed_path(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path) as f:
        got = await f.fetch(server.url("/good.jpg"))
    assert got.downloaded
    assert got.path.parent.name.startswith("vid_img_cache_dc_post_1")
    assert got.path.parent.parent == tmp_path / "media" / "tmp"
    assert got.path.name.startswith("vid_img_") and got.path.suffix == ".jpg"
    assert got.path.read_bytes() == server.image
    assert not list(got.path.parent.glob("*.part"))
    async with fetcher(tmp_path) as again:
        cached = await again.fetch(server.url("/good.jpg"))
        assert again.requests_made == 0
    assert cached.path == got.path and not cached.downloaded
    assert server.hits["/good.jpg"] == 1


async def test_extension_comes_from_the_bytes(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path) as f:
        got = await f.fetch(server.url("/good"))
    assert got.path.suffix == ".jpg"


async def test_redirects_followed_up_to_the_limit(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path) as f:
        assert (await f.fetch(server.url("/chain/4"))).path.exists()  # 5 redirects
        with pytest.raises(ImageError, match="too_many_redirects"):
            await f.fetch(server.url("/chain/5"))  # 6 redirects


async def test_redirect_to_private_address_refused(server: Server, tmp_path: Path) -> None:
    settings = make_settings(image_allow_private_hosts=False, image_private_host_allowlist=["127.0.0.1"])
    async with fetcher(tmp_path, settings) as f:
        with pytest.raises(ImageError, match=r"blocked_address: 10\.0\.0\.1 resolves to a private address"):
            await f.fetch(server.url("/to-private"))
        assert f.requests_made == 1  # the refused hop was never requested


async def test_redirect_to_other_scheme_refused(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path) as f:
        with pytest.raises(ImageError, match="unsupported_scheme: ftp"):
            await f.fetch(server.url("/to-ftp"))


async def test_loopback_refused_by_default(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path, make_settings(image_allow_private_hosts=False)) as f:
        with pytest.raises(ImageError, match=r"blocked_address: 127\.0\.0\.1 resolves to a loopback"):
            await f.fetch(server.url("/good.jpg"))
        with pytest.raises(ImageError, match=r"blocked_address: .*loopback"):
            await f.fetch(server.url("/good.jpg", host="img.dcinside.test"))
    assert server.hits["/good.jpg"] == 0


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "non-public"),
        ("8.8.8.8", None),
    ],
)
def test_address_refusal(address: str, kind: str | None) -> None:
    refusal = address_refusal(address)
    assert (refusal is None) if kind is None else (refusal is not None and refusal.startswith(kind))


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/big.jpg", "too_large: 5000 bytes declared"),
        ("/endless.jpg", "too_large: more than 4000 bytes"),
        ("/html.jpg", "not_an_image: content type text/html"),
        ("/lies.jpg", "not_an_image"),
        ("/tiny.jpg", "too_small: 100 bytes"),
        ("/missing.jpg", "http_404"),
    ],
)
async def test_bad_answers(server: Server, tmp_path: Path, path: str, reason: str) -> None:
    async with fetcher(tmp_path, make_settings(image_download_max_bytes=4000)) as f:
        with pytest.raises(ImageError, match=reason):
            await f.fetch(server.url(path))
    cache = tmp_path / "media" / "tmp"
    assert not [p for p in cache.rglob("*") if p.is_file()]  # nothing half-written left behind


async def test_slow_answer_times_out_after_retries(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path, make_settings(image_download_timeout=0.1)) as f:
        with pytest.raises(ImageError, match="timeout: ReadTimeout"):
            await f.fetch(server.url("/slow.jpg"))
    assert server.hits["/slow.jpg"] == 3  # one try and two retries


async def test_trickling_body_stopped_by_the_deadline(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path, make_settings(image_download_deadline=0.3)) as f:
        with pytest.raises(ImageError, match=r"timeout: no complete image within 0\.3 s"):
            await f.fetch(server.url("/trickle.jpg"))
    assert server.hits["/trickle.jpg"] == 1  # the deadline is not retried


async def test_transient_5xx_retried(server: Server, tmp_path: Path) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    f = ImageFetcher(make_settings(), out_dir=tmp_path, post_id="p", base_dir=tmp_path, resolve=fake_dns, sleep=record)
    async with f:
        assert (await f.fetch(server.url("/flaky.jpg"))).path.exists()
        with pytest.raises(ImageError, match="http_503"):
            await f.fetch(server.url("/always503.jpg"))
    assert delays == [0.5, 1.0, 0.5, 1.0]


async def test_dcinside_like_host_needs_warmup_cookie_and_referer(server: Server, tmp_path: Path) -> None:
    image_url = server.url("/dc/img.jpg", host="dcimg.dcinside.test")
    plain = make_settings(image_referer_hosts=["elsewhere.example"])
    async with fetcher(tmp_path, plain) as f:
        with pytest.raises(ImageError, match="http_403"):
            await f.fetch(image_url)
    dc = make_settings(image_warmup_url=server.url("/", host="www.dcinside.test"), image_referer=DC_REFERER)
    async with fetcher(tmp_path, dc) as f:
        got = await f.fetch(image_url)
    assert got.path.read_bytes() == server.image
    assert server.hits["/"] == 1
    sent = server.dc_headers[-1]
    assert sent["Sec-Fetch-Mode"] == "no-cors" and sent["Sec-Fetch-Site"] == "cross-site"
    assert sent["Accept"].startswith("image/")


def test_default_headers_follow_the_origin_system() -> None:
    settings = Settings(_env_file=None)
    dc = image_request_headers("https://dcimg5.dcinside.co.kr/viewimage.php?id=1", settings)
    assert dc["Referer"] == "https://gall.dcinside.com/"
    assert dc["Sec-Fetch-Dest"] == "image"
    assert settings.image_warmup_url == "https://www.dcinside.com/"
    other = image_request_headers("https://img.example.com:8443/a/b.jpg?x=1", settings)
    assert other["Referer"] == "https://img.example.com:8443/"
    assert "Sec-Fetch-Dest" not in other


async def test_downloads_run_at_once_but_bounded(server: Server, tmp_path: Path) -> None:
    urls = [server.url(f"/slow-parallel.jpg?n={i}") for i in range(6)]
    async with fetcher(tmp_path, make_settings(image_download_concurrency=2)) as f:
        results = await f.fetch_many(urls)
    assert all(not isinstance(r, ImageError) for r in results)
    assert server.max_in_flight == 2


async def test_fetch_many_returns_errors_in_place(server: Server, tmp_path: Path) -> None:
    async with fetcher(tmp_path) as f:
        results = await f.fetch_many([server.url("/good.jpg"), server.url("/missing.jpg")])
    assert not isinstance(results[0], ImageError)
    assert isinstance(results[1], ImageError)


async def test_local_paths_relative_to_the_post(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    photo_like(64, 64).save(tmp_path / "images" / "a.png")
    async with fetcher(tmp_path) as f:
        got = await f.fetch("images/a.png")
        assert got.path == (tmp_path / "images" / "a.png").resolve()
        assert not got.downloaded
        with pytest.raises(ImageError, match="local_file_missing"):
            await f.fetch("images/none.png")


async def test_hangul_domain_is_fetched_by_its_idna_name(server: Server, tmp_path: Path) -> None:
    asked: list[str] = []

    async def korean_dns(host: str, port: int) -> list[str]:
        asked.append(host)
        if host == "xn--vf4bi0o.xn--3e0b707e":  # 사진.한국
            return ["127.0.0.1"]
        raise OSError(f"no such host {host}")

    settings = make_settings()
    async with ImageFetcher(
        settings, out_dir=tmp_path / "media", post_id="p", base_dir=tmp_path, resolve=korean_dns, sleep=no_sleep
    ) as f:
        got = await f.fetch(server.url("/good.jpg", host="사진.한국"))
    assert got.downloaded and got.path.is_file()
    assert asked == ["xn--vf4bi0o.xn--3e0b707e"]
    headers = image_request_headers(ascii_url(server.url("/a.jpg", host="사진.한국")), settings)
    assert headers["Referer"] == f"http://xn--vf4bi0o.xn--3e0b707e:{server.port}/"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.jpg", "unsupported_scheme"),  # only http and https
        ("file:///etc/passwd", "unsupported_scheme"),
        ("data:image/png;base64,AA", "unsupported_scheme"),
        ("http://[::1/x.jpg", "bad_url"),  # urlsplit: ValueError
        ("http://exa mple.com/x.jpg", "bad_url"),
        ("http://xn--/a.jpg", "bad_url"),  # httpx: IDNAError
        ("http://a..b/x.jpg", "bad_url"),
        ("http://\udcff.com/x.jpg", "bad_url"),  # a lone surrogate from a badly decoded page
        ("http://host:99999/x.jpg", "bad_url"),
        ("https:///no-host.jpg", "bad_url"),
    ],
)
async def test_a_url_we_cannot_fetch_is_an_image_error(tmp_path: Path, url: str, reason: str) -> None:
    async with fetcher(tmp_path) as f:
        with pytest.raises(ImageError, match=reason):
            await f.fetch(url)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("//host/share/a.png", "network"),
        ("~/a.png", "home-folder"),
        ("../outside.png", "outside"),
        ("images/../../outside.png", "outside"),
        ("images/link.png", "outside"),  # a symlink out of the folder
    ],
)
async def test_local_paths_outside_the_post_folder_are_refused(tmp_path: Path, source: str, why: str) -> None:
    post_folder = tmp_path / "post"
    (post_folder / "images").mkdir(parents=True)
    photo_like(64, 64).save(tmp_path / "outside.png")
    (post_folder / "images" / "link.png").symlink_to(tmp_path / "outside.png")
    async with ImageFetcher(
        make_settings(), out_dir=tmp_path / "media", post_id="p", base_dir=post_folder, resolve=fake_dns
    ) as f:
        with pytest.raises(ImageError, match=f"local_path_refused: .*{why}"):
            await f.fetch(source)
