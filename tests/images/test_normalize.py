"""One normalisation everywhere: every door a scene's picture goes through (scoring, the init image sent to
ComfyUI, the local backend's zoom, the preview's card) shows the same tricky pictures the same way: upright,
8-bit RGB, transparency on white. Real files on disk, read back from what each door writes."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from ai_worker.comfy.upload import resize_for_upload
from ai_worker.core.errors import ImageError
from ai_worker.images.decode import load_working
from ai_worker.images.normalize import open_upright_rgb, to_rgb, upright_rgb
from ai_worker.media.local_backend import prepare_image
from ai_worker.preview.text import load_image, write_card_png

SIDE = 64
RED = (255, 0, 0)
WHITE = (255, 255, 255)

Pixels = NDArray[np.uint8]
Door = Callable[[Path, Path], Pixels]
"""(picture, a scratch folder) -> the picture as the door passes it on, as an RGB array."""


def _pixels(image: Image.Image) -> Pixels:
    assert image.mode == "RGB"
    return np.asarray(image, dtype=np.uint8)


def _upload(source: Path, scratch: Path) -> Pixels:
    with Image.open(io.BytesIO(resize_for_upload(source, 4 * SIDE, 4 * SIDE))) as sent:  # not shrunk
        return _pixels(sent)


def _local(source: Path, scratch: Path) -> Pixels:
    with Image.open(prepare_image(source, scratch / "staged.png", 4 * SIDE)) as staged:
        return _pixels(staged)


def _preview(source: Path, scratch: Path) -> Pixels:
    picture = load_image(source)
    assert picture is not None
    return _pixels(picture)


def _scoring(source: Path, scratch: Path) -> Pixels:
    return load_working(source, max_pixels=10**7).pixels  # pictures under the working size are left as they are


DOORS: dict[str, Door] = {"comfy upload": _upload, "local backend": _local, "preview card": _preview,
                          "scoring": _scoring}


def _square_on_clear(mode: str) -> Image.Image:
    """An opaque red square in the middle of a fully transparent picture (transparent black underneath)."""
    rgba = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (16, 16, 48, 48))
    return rgba if mode == "RGBA" else rgba.convert(mode)


def _transparent_rgba(path: Path) -> None:
    _square_on_clear("RGBA").save(path)


def _transparent_palette(path: Path) -> None:
    palette = Image.new("P", (SIDE, SIDE), 0)
    palette.putpalette([0, 0, 0, *RED])
    palette.paste(1, (16, 16, 48, 48))
    palette.save(path, transparency=0)


def _transparent_colour_rgb(path: Path) -> None:
    rgb = Image.new("RGB", (SIDE, SIDE), (0, 0, 0))
    rgb.paste(RED, (16, 16, 48, 48))
    rgb.save(path, transparency=(0, 0, 0))  # PNG tRNS: black is the transparent colour


def _transparent_grey(path: Path) -> None:
    grey = Image.new("L", (SIDE, SIDE), 0)
    grey.paste(76, (16, 16, 48, 48))  # 76: red's luma, so the square reads the same grey as the others
    grey.save(path, transparency=0)


TRANSPARENT: dict[str, tuple[Callable[[Path], None], tuple[int, int, int]]] = {
    "rgba": (_transparent_rgba, RED),
    "palette": (_transparent_palette, RED),
    "rgb with a transparent colour": (_transparent_colour_rgb, RED),
    "grey with a transparent level": (_transparent_grey, (76, 76, 76)),
}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("picture", TRANSPARENT)
def test_transparency_is_white_at_every_door(tmp_path: Path, door: str, picture: str) -> None:
    make, square = TRANSPARENT[picture]
    source = tmp_path / "clear.png"
    make(source)
    pixels = DOORS[door](source, tmp_path)
    assert pixels.shape == (SIDE, SIDE, 3)
    assert tuple(pixels[2, 2]) == WHITE, "the transparent part must be white, not the colour under it"
    assert tuple(pixels[SIDE // 2, SIDE // 2]) == square


@pytest.mark.parametrize("door", DOORS)
def test_sixteen_bit_grey_is_scaled_not_clipped_at_every_door(tmp_path: Path, door: str) -> None:
    ramp = np.tile(np.linspace(0, 65535, SIDE), (SIDE, 1)).astype(np.uint16)  # black on the left, white right
    source = tmp_path / "deep.png"
    Image.fromarray(ramp).save(source)
    with Image.open(source) as check:
        assert check.mode == "I;16"
    row = DOORS[door](source, tmp_path)[SIDE // 2, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253
    assert abs(row[SIDE // 2] - 129) <= 3, "the middle of the ramp must be mid grey, not clipped to white"
    assert np.all(np.diff(row) >= 0)


@pytest.mark.parametrize("door", DOORS)
def test_float_grey_is_scaled_at_every_door(tmp_path: Path, door: str) -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, SIDE, dtype=np.float32), (SIDE, 1))
    source = tmp_path / "float.tiff"
    Image.fromarray(ramp).save(source)
    row = DOORS[door](source, tmp_path)[SIDE // 2, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253, "a 0..1 float picture must span black to white, not stay black"


@pytest.mark.parametrize("door", DOORS)
def test_exif_rotated_photo_comes_out_upright_at_every_door(tmp_path: Path, door: str) -> None:
    stored = Image.new("RGB", (2 * SIDE, SIDE), RED)  # stored sideways: red on the left, blue on the right
    stored.paste((0, 0, 255), (SIDE, 0, 2 * SIDE, SIDE))
    exif = stored.getexif()
    exif[0x0112] = 6  # shown turned 90° clockwise: the left (red) half on top
    source = tmp_path / "phone.jpg"
    stored.save(source, quality=95, exif=exif)
    pixels = DOORS[door](source, tmp_path).astype(int)
    assert pixels.shape == (2 * SIDE, SIDE, 3)
    top, bottom = pixels[SIDE // 2, SIDE // 2], pixels[3 * SIDE // 2, SIDE // 2]
    assert top[0] > 200 and top[2] < 50, top
    assert bottom[2] > 200 and bottom[0] < 50, bottom


@pytest.mark.parametrize("door", ["comfy upload", "local backend"])
def test_a_decompression_bomb_is_an_image_error_naming_the_file(
    tmp_path: Path, door: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "bomb.png"
    Image.new("RGB", (SIDE, SIDE)).save(source)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", SIDE * SIDE // 4)  # Pillow refuses over twice this
    with pytest.raises(ImageError, match=r"bomb\.png: cannot decode .*image"):
        DOORS[door](source, tmp_path)


@pytest.mark.parametrize(("door", "named"), [("comfy upload", "init image"), ("local backend", "image")])
def test_a_missing_picture_is_an_image_error_naming_the_file(tmp_path: Path, door: str, named: str) -> None:
    with pytest.raises(ImageError, match=rf"gone\.png: {named} not found"):
        DOORS[door](tmp_path / "gone.png", tmp_path)


def test_the_preview_card_shows_a_transparent_picture_on_white(tmp_path: Path) -> None:
    source = tmp_path / "clear.png"
    _transparent_rgba(source)
    card = tmp_path / "card.png"
    write_card_png(card, (2 * SIDE, SIDE), palette=["#000000", "#000000"], image=source, title="", font_path=None)
    with Image.open(card) as drawn:
        pixels = _pixels(drawn.convert("RGB"))
    # The picture is fitted in the middle (64x64 in 128x64): its transparent corner is white there.
    assert tuple(pixels[2, SIDE // 2 + 2]) == WHITE
    assert tuple(pixels[SIDE // 2, SIDE]) == RED


def test_upright_rgb_is_a_new_image_that_outlives_its_file(tmp_path: Path) -> None:
    source = tmp_path / "plain.png"
    Image.new("RGB", (8, 8), RED).save(source)
    with Image.open(source) as opened:
        result = upright_rgb(opened)
        assert result is not opened
    assert result.getpixel((4, 4)) == RED  # still readable after the file is closed
    assert open_upright_rgb(source).getpixel((4, 4)) == RED


def test_open_upright_rgb_takes_the_first_frame_of_an_animation(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, (0, 0, 255))]
    source = tmp_path / "anim.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=100)
    assert open_upright_rgb(source).getpixel((4, 4)) == RED


@pytest.mark.parametrize("mode", ["1", "L", "P", "CMYK", "LA", "PA", "I", "RGB"])
def test_to_rgb_gives_8_bit_rgb_for_every_mode(mode: str) -> None:
    image = _square_on_clear("RGBA").convert("RGB").convert(mode)
    assert to_rgb(image).mode == "RGB"
