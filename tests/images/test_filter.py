"""evaluate_image on generated images of every category and every kind of bad file."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ai_worker.images.filter import ImageSuitability, evaluate_image, score_measures
from ai_worker.images.selection import decide
from tests.fakes.image_set import Labelled, labelled_set, materialise
from tests.fakes.images import flat_meme, photo_like, text_capture


def save(img: Image.Image, path: Path, **kwargs: Any) -> Path:
    img.save(path, **kwargs)
    return path


# --- categories -------------------------------------------------------------------------------------------------


def test_photo_is_suitable(tmp_path: Path) -> None:
    result = evaluate_image(save(photo_like(1600, 1200), tmp_path / "photo.jpg", quality=90))
    assert result.category == "photo"
    assert result.score >= 0.9
    assert (result.width, result.height) == (1600, 1200)


@pytest.mark.parametrize("dark_mode", [False, True])
def test_text_capture(tmp_path: Path, dark_mode: bool) -> None:
    result = evaluate_image(save(text_capture(1080, 1920, dark_mode=dark_mode), tmp_path / "capture.png"))
    assert result.category == "text_capture"
    assert "text_heavy_image" in result.reasons
    assert result.score < 0.6


def test_small_text_as_jpeg_is_still_a_capture(tmp_path: Path) -> None:
    result = evaluate_image(save(text_capture(1080, 1920, font_size=14), tmp_path / "capture.jpg", quality=85))
    assert result.category == "text_capture"


def test_dark_photo_is_not_a_text_capture(tmp_path: Path) -> None:
    path = save(photo_like(1200, 900, 4, dark=True), tmp_path / "dark.jpg", quality=90)
    result = evaluate_image(path)
    assert result.metrics["bimodal"] > 0.7  # the spec's histogram test alone would call it text
    assert result.category == "photo"
    assert "text_heavy_image" not in result.reasons


def test_flat_meme(tmp_path: Path) -> None:
    result = evaluate_image(save(flat_meme(600, 600), tmp_path / "meme.png"))
    assert result.category == "meme"
    assert {"very_low_color_diversity", "flat_image"} <= set(result.reasons)
    assert result.metrics["flat_blocks"] > 0.9


def test_an_icon_too_small_to_measure_earns_only_its_aspect(tmp_path: Path) -> None:
    result = evaluate_image(save(photo_like(8, 8), tmp_path / "icon.png"))
    assert result.score == pytest.approx(0.2)
    assert result.reasons == ["very_low_resolution", "too_small_to_measure"]
    assert result.category == "diagram"


def test_tiny_thumbnail_is_a_screenshot(tmp_path: Path) -> None:
    result = evaluate_image(save(photo_like(240, 120, 5), tmp_path / "thumb.jpg"))
    assert result.category == "screenshot"
    assert "very_low_resolution" in result.reasons


def test_small_square_is_a_diagram(tmp_path: Path) -> None:
    result = evaluate_image(save(photo_like(150, 150, 6), tmp_path / "icon.png"))
    assert result.category == "diagram"


def test_wide_banner(tmp_path: Path) -> None:
    result = evaluate_image(save(photo_like(2400, 600, 7), tmp_path / "banner.jpg"))
    assert "extreme_aspect_ratio" in result.reasons
    assert result.aspect_ratio == 4.0
    middle = evaluate_image(save(photo_like(1500, 600, 7), tmp_path / "wide.jpg"))
    assert "wide_aspect_ratio" in middle.reasons


def test_score_does_not_depend_on_upload_resolution(tmp_path: Path) -> None:
    big = photo_like(3000, 2000, 9)
    large = evaluate_image(save(big, tmp_path / "large.jpg", quality=92))
    small = evaluate_image(save(big.resize((1500, 1000), Image.Resampling.LANCZOS), tmp_path / "small.jpg", quality=92))
    assert (large.score, large.category, large.reason) == (small.score, small.category, small.reason)
    for key in ("bimodal", "color_std"):
        assert large.metrics[key] == pytest.approx(small.metrics[key], abs=0.05 if key == "bimodal" else 2.0)


# --- the scoring table, exactly -----------------------------------------------------------------------------------


def _m(**overrides: float) -> dict[str, float]:
    """Measures of a plain photo: no flat blocks, no text lines."""
    base = {
        "bimodal": 0.2,
        "dark": 0.1,
        "bright": 0.1,
        "edge_density": 0.10,
        "color_std": 50.0,
        "palette": 500.0,
        "flat_blocks": 0.0,
        "top_colour": 0.0,
        "top_colours": 0.0,
        "flat_other": 0.0,
        "ui_touch": 0.0,
        "text_lines": 0.0,
        "page_lines": 0.0,
        "ink": 0.1,
    }
    base.update(overrides)
    return base


CHAT = {
    "flat_blocks": 0.6,
    "top_colour": 0.3,
    "top_colours": 0.6,
    "flat_other": 0.4,
    "ui_touch": 0.8,
    "text_lines": 12.0,
    "palette": 6.0,
}
BOARD = {
    "flat_blocks": 0.6,
    "top_colour": 0.55,
    "top_colours": 0.6,
    "flat_other": 0.1,
    "ui_touch": 0.8,
    "text_lines": 20.0,
    "palette": 12.0,
}
SCAN = {"page_lines": 20.0, "bimodal": 0.9, "color_std": 25.0, "palette": 4.0}
SILHOUETTE = {
    "flat_blocks": 0.9,
    "top_colour": 0.75,
    "top_colours": 0.9,
    "flat_other": 0.6,
    "ui_touch": 0.9,
    "palette": 2.0,
    "edge_density": 0.03,
}
PRODUCT = {
    "flat_blocks": 0.74,
    "top_colour": 0.74,
    "top_colours": 0.74,
    "flat_other": 0.0,
    "ui_touch": 0.36,  # its outline touches the white; nothing else is flat and nothing is written on it
    "palette": 6.0,
}
# The same shot with a second flat colour (a bar, a bubble) is a screen.
WALLPAPER_CHAT = {"flat_blocks": 0.2, "top_colour": 0.1, "top_colours": 0.2, "flat_other": 0.1, "ui_touch": 0.4}


@pytest.mark.parametrize(
    ("size", "measures", "score", "reason", "category"),
    [
        ((1024, 768), _m(), 1.0, "suitable", "photo"),
        ((400, 600), _m(), 0.9, "low_resolution", "photo"),
        ((200, 300), _m(), 0.8, "very_low_resolution", "screenshot"),
        ((150, 150), _m(), 0.8, "very_low_resolution", "diagram"),
        ((20, 20), _m(), 0.2, "very_low_resolution, too_small_to_measure", "diagram"),
        ((1500, 600), _m(), 0.9, "wide_aspect_ratio", "photo"),
        ((2400, 600), _m(), 0.8, "extreme_aspect_ratio", "photo"),
        ((1000, 1000), _m(color_std=20.0), 0.92, "low_color_diversity", "photo"),
        ((1000, 1000), _m(color_std=10.0), 0.85, "very_low_color_diversity", "photo"),
        ((1000, 1000), _m(edge_density=0.03), 0.92, "low_edge_density", "photo"),
        ((1000, 1000), _m(edge_density=0.01), 0.85, "flat_image", "photo"),
        ((1000, 1000), _m(color_std=10.0, edge_density=0.01), 0.7, "very_low_color_diversity, flat_image", "meme"),
        # The spec's bimodal histogram alone no longer makes a text capture (a snowy photo is bimodal).
        ((1000, 1000), _m(bimodal=0.95, palette=6.0), 1.0, "suitable", "photo"),
        ((1080, 1920), _m(**CHAT), 0.55, "text_heavy_image, very_low_color_diversity", "chat_capture"),
        ((1080, 1920), _m(**BOARD), 0.7, "text_heavy_image", "text_capture"),
        ((1240, 1754), _m(**SCAN), 0.62, "text_heavy_image, low_color_diversity", "text_capture"),
        ((1000, 800), _m(**SILHOUETTE), 0.77, "very_low_color_diversity, low_edge_density", "graphic"),
        # A product shot on clipped white: flat, but its subject is not, and does not touch the white much.
        ((1000, 1000), _m(**PRODUCT), 1.0, "suitable", "photo"),
        ((1080, 2220), _m(**WALLPAPER_CHAT), 0.9, "wide_aspect_ratio", "graphic"),
    ],
)
def test_score_table(
    size: tuple[int, int], measures: dict[str, float], score: float, reason: str, category: str
) -> None:
    result = score_measures(size[0], size[1], measures)
    assert result.score == pytest.approx(score)
    assert result.reason == reason
    assert result.category == category


def test_an_animated_gif_is_an_animation_unless_it_is_drawn() -> None:
    assert score_measures(800, 600, _m(), animated=True).category == "animation"
    assert score_measures(800, 600, _m(**SILHOUETTE), animated=True).category == "graphic"


def test_reasons_property() -> None:
    assert ImageSuitability(1.0, "suitable", "photo", 1, 1).reasons == []
    assert ImageSuitability(0.5, "a, b", "photo", 1, 1).reasons == ["a", "b"]


# --- every kind of image a user can throw at it -------------------------------------------------------------------


def test_exif_rotation_swaps_the_size(tmp_path: Path) -> None:
    img = photo_like(1000, 600)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: shown as 600x1000
    path = save(img, tmp_path / "rotated.jpg", exif=exif.tobytes())
    result = evaluate_image(path)
    assert (result.width, result.height) == (600, 1000)
    assert result.category == "photo"


@pytest.mark.parametrize(
    ("name", "convert"),
    [
        ("cmyk.jpg", lambda im: im.convert("CMYK")),
        ("palette.png", lambda im: im.convert("P", palette=Image.Palette.ADAPTIVE)),
        ("grey.png", lambda im: im.convert("L")),
        ("grey.jpg", lambda im: im.convert("L")),
        ("rgba.png", lambda im: im.convert("RGBA")),
        ("rgba.webp", lambda im: im.convert("RGBA")),
        ("photo.bmp", lambda im: im),
        ("photo.tiff", lambda im: im),
    ],
)
def test_modes_and_formats(tmp_path: Path, name: str, convert: object) -> None:
    assert callable(convert)
    path = save(convert(photo_like(800, 600)), tmp_path / name)
    result = evaluate_image(path)
    assert result.category not in ("unknown",), result.reason
    assert (result.width, result.height) == (800, 600)
    assert result.score > 0.6


def test_transparent_image_is_composited_on_white(tmp_path: Path) -> None:
    img = Image.new("RGBA", (600, 600), (0, 0, 0, 0))  # fully transparent black: white once composited
    result = evaluate_image(save(img, tmp_path / "clear.png"))
    assert result.metrics["bright"] == 1.0
    assert result.category == "meme"


def test_sixteen_bit_grey(tmp_path: Path) -> None:
    grey = np.asarray(photo_like(640, 480).convert("L")).astype(np.uint16) * 257
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")
    result = evaluate_image(path)
    # Scaled, not clipped: a 16-bit image whose values are mostly > 255 must not come out all white.
    assert result.metrics["bright"] < 0.9
    assert result.category == "photo"


@pytest.mark.parametrize(("ext", "category"), [("gif", "animation"), ("webp", "photo")])
def test_animated_first_frame(tmp_path: Path, ext: str, category: str) -> None:
    frames = [photo_like(400, 300, seed) for seed in (1, 2, 3)]
    path = tmp_path / f"anim.{ext}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as check:
        assert getattr(check, "n_frames", 1) == 3
    result = evaluate_image(path)
    # A full-colour animated WebP is judged by its first frame; a 256-colour animated GIF is a clip already.
    assert result.category == category
    assert (result.width, result.height) == (400, 300)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    photo_like(800, 600).save(buffer, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    result = evaluate_image(path)
    assert (result.score, result.category, result.reason) == (0.0, "unknown", "truncated_image")


def test_truncated_png(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    photo_like(800, 600).save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    result = evaluate_image(path)
    assert (result.score, result.category, result.reason) == (0.0, "unknown", "truncated_image")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert evaluate_image(path) == ImageSuitability(0.0, "empty_file", "unknown", 0, 0)


def test_html_saved_as_jpg(tmp_path: Path) -> None:
    path = tmp_path / "error.jpg"
    path.write_text("<!DOCTYPE html><html><body>403 Forbidden</body></html>", encoding="utf-8")
    result = evaluate_image(path)
    assert (result.score, result.category, result.reason) == (0.0, "unknown", "not_an_image: html")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    result = evaluate_image(path)
    assert result.score == 0.0
    assert result.category == "unknown"
    assert result.reason.startswith("not_an_image")


def test_missing_file(tmp_path: Path) -> None:
    result = evaluate_image(tmp_path / "nope.jpg")
    assert result.reason == "unreadable_image: file not found"


def _png(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    """A PNG written byte by byte: its header may declare what Pillow's encoder would never write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size: a bomb is refused from this header, before any decoding."""
    return _png(width, height, 8, 2, b"\x00" * 64)


@pytest.mark.parametrize("side", [9000, 20000])  # under and over Pillow's own hard limit
def test_decompression_bomb_refused_from_header(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(side, side))
    result = evaluate_image(path)
    assert result.score == 0.0
    assert result.category == "unknown"
    assert result.reason == f"decompression_bomb: {side}x{side}"


def test_max_pixels_parameter(tmp_path: Path) -> None:
    path = save(photo_like(1000, 1000), tmp_path / "photo.png")
    assert evaluate_image(path, max_pixels=999_999).reason == "decompression_bomb: 1000x1000"
    assert evaluate_image(path, max_pixels=1_000_000).category == "photo"


def test_real_example_images() -> None:
    folder = Path(__file__).resolve().parents[2] / "examples" / "posts" / "images"
    expected = {
        "night_alley.jpg": "photo",  # portrait, 720x960
        "rainy_street.jpg": "photo",
        "birthday_cake.jpg": "photo",  # square
        "chat_capture.png": "text_capture",
        "kakao_dark_chat.png": "chat_capture",
        "flat_meme.png": "meme",
    }
    for name, category in expected.items():
        assert evaluate_image(folder / name).category == category, name
    assert "extreme_aspect_ratio" in evaluate_image(folder / "event_banner.jpg").reasons


# --- odd files never raise ------------------------------------------------------------------------------------------


def test_sixteen_bit_rgb_png(tmp_path: Path) -> None:
    rgb = np.asarray(photo_like(640, 520, 3)).astype(">u2") * 257
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(rgb.shape[0]))
    path = tmp_path / "deep_rgb.png"
    path.write_bytes(_png(640, 520, 16, 2, rows))
    result = evaluate_image(path)
    assert result.category == "photo", result.reason
    assert (result.width, result.height) == (640, 520)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("bilevel.png", lambda: photo_like(400, 300).convert("1")),
        ("grey_alpha.png", lambda: photo_like(400, 300).convert("LA")),
        ("float.tiff", lambda: Image.fromarray(np.asarray(photo_like(400, 300).convert("L"), np.float32) / 255.0)),
        ("int16.tiff", lambda: Image.fromarray(np.asarray(photo_like(400, 300).convert("L")).astype(np.uint16) * 200)),
        ("cmyk.tiff", lambda: photo_like(400, 300).convert("CMYK")),
        ("palette_alpha.png", lambda: photo_like(400, 300).convert("RGBA").convert("P")),
    ],
)
def test_every_pixel_format_scores(tmp_path: Path, name: str, make: Any) -> None:
    path = save(make(), tmp_path / name)
    result = evaluate_image(path)
    assert result.category != "unknown", result.reason
    assert (result.width, result.height) == (400, 300)
    assert 0.0 < result.score <= 1.0


def test_corrupt_tiff_is_unusable_not_an_exception(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    photo_like(400, 300).save(buffer, "TIFF", compression="tiff_deflate")
    data = bytearray(buffer.getvalue())
    data[8:4000] = bytes(range(256)) * 15 + bytes(152)  # the first strip's deflate stream is now garbage
    path = tmp_path / "corrupt.tiff"
    path.write_bytes(bytes(data))
    result = evaluate_image(path)
    assert (result.score, result.category, result.width, result.height) == (0.0, "unknown", 400, 300)
    assert result.reason.startswith("unreadable_image: corrupt TIFF data"), result.reason


def test_truncated_gif(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    photo_like(400, 300).save(buffer, "GIF")
    path = tmp_path / "cut.gif"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    result = evaluate_image(path)
    assert (result.score, result.category) == (0.0, "unknown")
    assert result.reason in ("truncated_image", "unreadable_image: corrupt GIF data (OSError)"), result.reason


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    result = evaluate_image(tmp_path)
    assert (result.score, result.category, result.reason) == (0.0, "unknown", "unreadable_image: not a regular file")


@pytest.mark.parametrize("fmt", ["WEBP", "BMP"])
def test_truncated_webp_and_bmp_known_from_their_declared_size(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    photo_like(800, 600).save(buffer, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    result = evaluate_image(path)
    assert (result.score, result.category, result.reason) == (0.0, "unknown", "truncated_image")


# --- the labelled set: every family where it belongs ----------------------------------------------------------------

EXPECTED_CATEGORIES = {
    "chat": {"chat_capture", "text_capture"},
    # A photo as the room's background may leave too few clean rows for text lines: drawn all the same.
    "chat:kakao_light_wallpaper": {"chat_capture", "text_capture", "graphic"},
    "chat:line_wallpaper": {"chat_capture", "text_capture", "graphic"},
    "board": {"text_capture", "chat_capture"},
    "tweet_dark": {"text_capture", "chat_capture"},
    "scan": {"text_capture"},
    "silhouette": {"graphic", "meme"},
    "clipart": {"graphic", "meme"},
    "meme": {"graphic", "meme"},
    "tiny": {"screenshot", "diagram"},
    "gif": {"graphic", "animation"},
    "photo": {"photo"},
}


@pytest.fixture(scope="module")
def labelled() -> dict[str, tuple[Path, Labelled]]:
    return {item.name: (path, item) for path, item in materialise()}


@pytest.mark.parametrize("name", [item.name for item in labelled_set()])
def test_labelled_image(labelled: dict[str, tuple[Path, Labelled]], name: str) -> None:
    path, item = labelled[name]
    result = evaluate_image(path)
    expected = EXPECTED_CATEGORIES.get(item.family) or EXPECTED_CATEGORIES[item.family.split(":")[0]]
    assert result.category in expected, (result.category, result.reason, result.metrics)
    assert (decide(result, 0.6).mode == "i2v") == item.is_photo


def test_labelled_set_covers_every_family_the_issue_names() -> None:
    families = {item.family for item in labelled_set()}
    themes = {"chat:kakao_light", "chat:kakao_dark", "chat:line", "chat:sms", "photo:night", "photo:snow", "photo:sky"}
    assert themes <= families
    assert {"board", "tweet_dark", "scan", "silhouette", "clipart", "meme", "tiny", "gif"} <= families


@pytest.mark.parametrize("size", [(1, 1), (1, 900), (900, 1), (3, 5)])
def test_degenerate_sizes_score_without_raising(tmp_path: Path, size: tuple[int, int]) -> None:
    result = evaluate_image(save(photo_like(*size), tmp_path / "odd.png"))
    assert (result.width, result.height) == size
    assert "very_low_resolution" in result.reasons
    assert result.category in ("diagram", "screenshot", "meme")
