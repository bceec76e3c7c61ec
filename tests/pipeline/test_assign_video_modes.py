"""Phase 4.5: modes by scene type, the 0.6 threshold, the 3:1 rule, and failures that fall back to T2V."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from ai_worker.images.filter import ImageSuitability
from ai_worker.images.selection import decide
from ai_worker.model.scene import SceneDecision
from ai_worker.pipeline.video_modes import assign_video_modes
from config.settings import Settings
from tests.fakes.images import flat_meme, photo_like, text_capture


@pytest.fixture
async def image_server() -> AsyncIterator[str]:
    buffer = io.BytesIO()
    photo_like(800, 600).save(buffer, "JPEG", quality=88)
    body = buffer.getvalue()

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/photo.jpg":
            return web.Response(body=body, content_type="image/jpeg")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, image_download_timeout=1.0, **overrides)  # type: ignore[arg-type]


async def test_modes_for_a_whole_post(tmp_path: Path, image_server: str) -> None:
    images = tmp_path / "images"
    images.mkdir()
    photo_like(1200, 900).save(images / "photo.jpg", quality=90)
    text_capture(720, 1280).save(images / "chat.png")
    flat_meme(600, 600).save(images / "meme.png")
    photo_like(2400, 600, 7).save(images / "banner.jpg", quality=90)
    (images / "broken.jpg").write_text("<html>gone</html>", encoding="utf-8")
    scenes = [
        SceneDecision(type="intro", text_lines=["시작"]),
        SceneDecision(type="text_only", text_lines=["글만"]),
        SceneDecision(type="img_text", text_lines=["사진"], image_url="images/photo.jpg"),
        SceneDecision(type="img_text", text_lines=["캡처"], image_url="images/chat.png"),
        SceneDecision(type="img_only", text_lines=["짤"], image_url="images/meme.png"),
        SceneDecision(type="img_only", text_lines=["배너"], image_url="images/banner.jpg"),
        SceneDecision(type="img_text", text_lines=["깨짐"], image_url="images/broken.jpg"),
        SceneDecision(type="img_text", text_lines=["없음"], image_url="images/missing.jpg"),
        SceneDecision(type="img_text", text_lines=["웹"], image_url=f"{image_server}/photo.jpg"),
        SceneDecision(type="img_text", text_lines=["404"], image_url=f"{image_server}/gone.jpg"),
        SceneDecision(type="outro", text_lines=["끝"]),
    ]
    out = tmp_path / "media"
    await assign_video_modes(
        scenes, post_id="p1", settings=settings(image_allow_private_hosts=True), out_dir=out, base_dir=tmp_path
    )
    modes = [s.video_mode for s in scenes]
    assert modes == ["t2v", "t2v", "i2v", "t2v", "t2v", "t2v", "t2v", "t2v", "i2v", "t2v", "t2v"]

    photo, chat, meme, banner, broken, missing, web_photo, gone = scenes[2:10]
    assert photo.video_init_image == str((images / "photo.jpg").resolve())
    assert photo.image_category == "photo" and photo.image_score is not None and photo.image_score >= 0.6
    assert chat.image_category == "text_capture" and "text_heavy_image" in chat.image_reasons
    assert chat.video_init_image is None and chat.image_path is not None
    assert meme.image_category == "meme"
    # 0.8 by score, but wider than 3:1
    assert banner.image_score is not None and banner.image_score >= 0.6
    assert "extreme_aspect_ratio" in banner.image_reasons
    assert broken.image_score == 0.0 and broken.image_reasons[0] == "not_an_image: html"
    assert missing.image_reasons[0].startswith("download_failed: local_file_missing")
    assert web_photo.video_init_image is not None
    cached = Path(web_photo.video_init_image)
    assert cached.parent == out / "tmp" / "vid_img_cache_p1" and cached.exists()
    assert gone.image_reasons[0].startswith("download_failed: http_404")
    assert gone.image_score == 0.0 and gone.image_category == "unknown"
    for scene in (scenes[0], scenes[1], scenes[-1]):
        assert scene.image_score is None and scene.video_init_image is None


async def test_private_addresses_refused_by_default(tmp_path: Path, image_server: str) -> None:
    scene = SceneDecision(type="img_only", text_lines=["x"], image_url=f"{image_server}/photo.jpg")
    await assign_video_modes([scene], post_id="p", settings=settings(), out_dir=tmp_path, base_dir=tmp_path)
    assert scene.video_mode == "t2v"
    assert scene.image_reasons[0].startswith("download_failed: blocked_address")


async def test_threshold_is_a_setting(tmp_path: Path) -> None:
    photo_like(1200, 900).save(tmp_path / "photo.jpg", quality=90)
    scene = SceneDecision(type="img_only", text_lines=["x"], image_url="photo.jpg")
    strict = settings(video_i2v_threshold=1.0)
    photo_like(600, 400).save(tmp_path / "photo.jpg", quality=90)  # low_resolution: 0.9 at best
    await assign_video_modes([scene], post_id="p", settings=strict, out_dir=tmp_path, base_dir=tmp_path)
    assert scene.video_mode == "t2v"
    assert any(reason.startswith("below_threshold") for reason in scene.image_reasons)


@pytest.mark.parametrize(
    ("result", "mode"),
    [
        (ImageSuitability(0.6, "x", "photo", 1000, 1000), "i2v"),
        (ImageSuitability(0.59, "x", "photo", 1000, 1000), "t2v"),
        (ImageSuitability(0.8, "extreme_aspect_ratio", "photo", 3100, 1000), "t2v"),
        (ImageSuitability(0.9, "wide_aspect_ratio", "photo", 3000, 1000), "i2v"),
        (ImageSuitability(0.7, "very_low_color_diversity, flat_image", "meme", 800, 800), "t2v"),
        (ImageSuitability(0.0, "empty_file", "unknown", 0, 0), "t2v"),
    ],
)
def test_decide(result: ImageSuitability, mode: str) -> None:
    assert decide(result, 0.6).mode == mode


def loop_ifd_tiff(path: Path) -> None:
    """A TIFF that Pillow opens and verifies, but whose next-IFD pointer aims into its own first IFD: the
    scorer's decode then raises TypeError ('Missing dimensions'), past every check a download makes."""
    buffer = io.BytesIO()
    photo_like(64, 64).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    (entries,) = struct.unpack_from("<H", data, 8)
    struct.pack_into("<I", data, 10 + 12 * entries, 90)
    path.write_bytes(bytes(data))


async def test_one_bad_image_never_stops_the_post(tmp_path: Path) -> None:
    loop_ifd_tiff(tmp_path / "corrupt.tif")
    photo_like(1200, 900).save(tmp_path / "photo.jpg", quality=90)
    scenes = [
        SceneDecision(type="img_text", text_lines=["깨진 티프"], image_url="corrupt.tif"),
        SceneDecision(type="img_text", text_lines=["잘못된 주소"], image_url="http://[::1/x.jpg"),
        SceneDecision(type="img_text", text_lines=["남의 파일"], image_url="/etc/passwd"),
        SceneDecision(type="img_text", text_lines=["사진"], image_url="photo.jpg"),
    ]
    await assign_video_modes(
        scenes, post_id="p", settings=settings(image_allow_private_hosts=True), out_dir=tmp_path / "m",
        base_dir=tmp_path,
    )
    corrupt, malformed, passwd, photo = scenes
    assert corrupt.video_mode == "t2v" and corrupt.image_reasons == ["image_failed: TypeError: Missing dimensions"]
    assert malformed.video_mode == "t2v" and malformed.image_reasons[0].startswith("download_failed: bad_url")
    assert passwd.video_mode == "t2v" and passwd.image_reasons[0].startswith("download_failed: local_path_refused")
    assert passwd.image_path is None
    assert photo.video_mode == "i2v"
