from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from ai_worker.core.errors import GeneratorError, ImageError
from ai_worker.media.local_backend import LocalBackend, build_i2v_args, build_t2v_args, prepare_image
from ai_worker.media.video_utils import fitted_box
from ai_worker.model.backend import ClipRequest, GenerationHooks, ProgressEvent, VideoGenerator
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.clip_plan import plan_clip
from ai_worker.orchestration.ladder import build_ladder
from config.settings import PROJECT_ROOT, Settings

EXAMPLE_IMAGES = PROJECT_ROOT / "examples" / "posts" / "images"


def _request(tmp_path: Path, **overrides: object) -> ClipRequest:
    values: dict[str, object] = {
        "prompt": "a rainy street",
        "negative_prompt": "blurry",
        "width": 96,
        "height": 64,
        "num_frames": 17,
        "fps": 24,
        "steps": 20,
        "cfg": 3.5,
        "seed": 7,
        "output_path": tmp_path / "clip.mp4",
    }
    values.update(overrides)
    return ClipRequest(**values)  # type: ignore[arg-type]


def _probe(path: Path) -> tuple[int, int, int, float, str]:
    frames = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for _ in container.decode(stream):
            frames += 1
        assert not container.streams.audio
        rate = stream.average_rate
        assert rate is not None
        return stream.width, stream.height, frames, float(rate), stream.codec_context.name


def _frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.int16)
    raise AssertionError(f"{path} has no frame {index}")


def test_t2v_arguments_are_exact() -> None:
    request = _request(Path("/out"), width=128, height=64, num_frames=9, fps=25, seed=5)
    args = build_t2v_args(request, ["#FF0000", "#00ff00"], preset="veryfast", crf=20)
    assert args == [
        "-f", "lavfi", "-i",
        "gradients=s=128x64:r=25:n=2:c0=0xFF0000:c1=0x00FF00:seed=5:speed=0.005:type=linear",
        "-frames:v", "9", "-r", "25",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-an",
        "-movflags", "+faststart",
    ]


def test_i2v_arguments_are_exact() -> None:
    request = _request(Path("/out"), width=64, height=32, num_frames=9, fps=24)
    args = build_i2v_args(request, Path("/in/img.png"))
    assert args == [
        "-loop", "1", "-framerate", "24", "-i", "/in/img.png",
        "-vf",
        "scale=128:64:force_original_aspect_ratio=decrease:flags=lanczos,pad=128:64:(ow-iw)/2:(oh-ih)/2:color=black,"
        "zoompan=z='1+0.100*on/8':x='(iw-iw/zoom)*(0.35+0.3*on/8)':y='(ih-ih/zoom)/2':d=1:s=64x32:fps=24,"
        "setsar=1,format=yuv420p",
        "-frames:v", "9", "-r", "24",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p", "-an",
        "-movflags", "+faststart",
    ]


def test_bad_palette_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="not a #RRGGBB colour"):
        build_t2v_args(_request(Path("/out")), ["red"])


def test_backend_satisfies_the_generator_interface() -> None:
    assert isinstance(LocalBackend(), VideoGenerator)


async def test_t2v_makes_a_moving_clip_of_the_asked_shape(tmp_path: Path) -> None:
    backend = LocalBackend(palettes={"humor": ["#FFD166", "#EF476F", "#06D6A0", "#118AB2"]})
    events: list[ProgressEvent] = []
    submitted: list[tuple[str, str]] = []
    hooks = GenerationHooks(on_progress=events.append, on_submitted=lambda s, p: submitted.append((s, p)))
    result = await backend.generate_t2v(_request(tmp_path, mood="humor", num_frames=25, fps=12), hooks)
    assert result.path == tmp_path / "clip.mp4"
    assert result.server == "local"
    assert _probe(result.path) == (96, 64, 25, 12.0, "h264")
    first, last = _frame(result.path, 0), _frame(result.path, 24)
    assert np.abs(first - last).mean() > 1.0, "the gradient should move"
    assert first.std() > 5.0, "the frame should not be flat"
    assert [(e.value, e.maximum) for e in events] == [(0, 25), (25, 25)]
    assert submitted == [("local", result.prompt_id)]
    assert list(tmp_path.iterdir()) == [result.path], "no part files left behind"


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "CMYK", "I;16"])
async def test_i2v_zooms_over_any_image_mode(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8))
    if mode == "I;16":
        grey = np.asarray(base.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(grey)
    else:
        image = base.convert(mode)
    source = tmp_path / ("src.tif" if mode in ("CMYK", "I;16") else "src.png")
    image.save(source)
    out = tmp_path / "out"
    result = await LocalBackend().generate_i2v(
        _request(out, init_image=source, width=64, height=96, num_frames=17)
    )
    assert _probe(result.path) == (64, 96, 17, 24.0, "h264")
    assert np.abs(_frame(result.path, 0) - _frame(result.path, 16)).mean() > 1.0, "zoom should change the frame"
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"], "the staged image is removed"


async def test_portrait_photo_first_frame_shows_the_whole_image(tmp_path: Path) -> None:
    # The example post's 720x960 photo (a person under an umbrella): the plan gives a portrait size, and the
    # local clip's first frame is the whole photo, fitted into it, not a landscape centre crop.
    photo = EXAMPLE_IMAGES / "night_alley.jpg"
    with Image.open(photo) as opened:
        source = opened.convert("RGB")
    scene = SceneDecision(type="img_text", text_lines=["아저씨 우산도 똑같은 빨간색이었던 거임"])
    scene.video_mode, scene.video_init_image = "i2v", str(photo)
    settings = Settings(_env_file=None, video_resolution=(1280, 720), video_resolution_fallback=(768, 512))
    shape = plan_clip(scene, build_ladder(settings)[2], settings)
    assert shape.height > shape.width, shape
    assert "portrait image 720x960" in shape.size_reason
    result = await LocalBackend().generate_i2v(
        _request(tmp_path, init_image=photo, width=shape.width, height=shape.height, num_frames=9)
    )
    assert _probe(result.path)[:2] == (shape.width, shape.height)
    first = _frame(result.path, 0)
    box_w, box_h = fitted_box(source.size, (shape.width, shape.height))
    left, top = (shape.width - box_w) // 2, (shape.height - box_h) // 2
    picture = first[top + 2 : top + box_h - 2, left + 2 : left + box_w - 2]
    expected = np.asarray(source.resize((picture.shape[1], picture.shape[0]), Image.Resampling.LANCZOS))
    frame_small = _small(picture.astype(np.uint8))
    diff = np.abs(frame_small - _small(expected)).mean()
    assert diff < 6.0, diff
    # A landscape crop of the same photo (what the old cover-and-crop showed) is far from the first frame.
    crop = np.asarray(source.crop((0, 270, 720, 690)))
    assert np.abs(frame_small - _small(crop)).mean() > 3 * diff


def _small(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((48, 64), Image.Resampling.BOX), dtype=np.int16)


async def test_i2v_without_image_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="init_image"):
        await LocalBackend().generate_i2v(_request(tmp_path))


async def test_i2v_with_a_broken_image_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"<html>not an image</html>")
    with pytest.raises(ImageError, match=r"broken\.jpg: cannot decode image"):
        await LocalBackend().generate_i2v(_request(tmp_path, init_image=broken))
    assert not (tmp_path / "clip.mp4").exists()


def test_prepare_image_flattens_alpha_on_white(tmp_path: Path) -> None:
    transparent = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    transparent.save(tmp_path / "a.png")
    out = prepare_image(tmp_path / "a.png", tmp_path / "b.png", 64)
    with Image.open(out) as image:
        assert image.mode == "RGB"
        assert image.getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize("transparency", ["alpha", "colour key"])
async def test_i2v_of_a_transparent_picture_starts_on_white(tmp_path: Path, transparency: str) -> None:
    source = tmp_path / "sticker.png"
    if transparency == "alpha":
        clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
        clear.paste((255, 0, 0, 255), (16, 16, 48, 48))
        clear.save(source)
    else:  # an RGB PNG whose black is transparent (tRNS)
        keyed = Image.new("RGB", (64, 64), (0, 0, 0))
        keyed.paste((255, 0, 0), (16, 16, 48, 48))
        keyed.save(source, transparency=(0, 0, 0))
    out = tmp_path / "out"
    result = await LocalBackend().generate_i2v(_request(out, init_image=source, width=64, height=64, num_frames=9))
    first = _frame(result.path, 0)
    assert first[3, 3].min() > 235, first[3, 3]  # the transparent corner is white, not black
    assert first[32, 32, 0] > 200 and first[32, 32, 1:].max() < 60, first[32, 32]


def test_prepare_image_applies_exif_rotation(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    image.save(tmp_path / "r.jpg", exif=exif)
    out = prepare_image(tmp_path / "r.jpg", tmp_path / "r.png", 64)
    with Image.open(out) as upright:
        assert upright.size == (20, 40)


async def test_cancel_stops_a_running_job_and_leaves_no_file(tmp_path: Path) -> None:
    backend = LocalBackend()
    submitted: list[str] = []
    request = _request(tmp_path, width=1280, height=704, num_frames=2401)
    task = asyncio.create_task(
        backend.generate_t2v(request, GenerationHooks(on_submitted=lambda _s, p: submitted.append(p)))
    )
    for _ in range(200):
        if submitted:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    await backend.cancel(submitted[0])
    with pytest.raises((asyncio.CancelledError, GeneratorError)):
        await task
    assert list(tmp_path.iterdir()) == []


async def test_health_check_fails_for_a_missing_binary(tmp_path: Path) -> None:
    assert await LocalBackend(ffmpeg_binary=tmp_path / "no-ffmpeg").health_check() is False
    assert await LocalBackend().health_check() is True
