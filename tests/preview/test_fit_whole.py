"""Every clip is shown whole in the preview: a portrait photo's clip keeps the coloured bands at its top and
bottom (real FFmpeg, frames decoded and read), on the blurred and the colour background and in `full`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from ai_worker.model.manifest import MANIFEST_NAME, FinalScene, Manifest, ManifestStore, SceneRecord
from ai_worker.model.styles import VideoStyles, load_video_styles
from ai_worker.preview.plan import make_layout
from ai_worker.preview.render import build_preview, describe_fit
from ai_worker.preview.text import find_korean_font
from config.settings import Settings
from tests.fakes.settings import tiny_clip_settings

RED = np.array([230, 20, 20])
BLUE = np.array([20, 20, 230])


@pytest.fixture
def styles() -> VideoStyles:
    return load_video_styles(Settings(_env_file=None).video_styles_path)


def _banded_clip(path: Path, size: tuple[int, int]) -> Path:
    """A green clip with a red band over its top eighth and a blue one over its bottom eighth."""
    width, height = size
    band = height // 8
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = (
        f"color=c=0x20C020:s={width}x{height}:r=12,"
        f"drawbox=x=0:y=0:w=iw:h={band}:color=0xE61414:t=fill,"
        f"drawbox=x=0:y=ih-{band}:w=iw:h={band}:color=0x1414E6:t=fill"
    )
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", graph,
         "-frames:v", "12", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def _post(tmp_path: Path, clip_size: tuple[int, int], title: str = "세로 사진") -> Path:
    folder = tmp_path / "out" / "portrait"
    clip = _banded_clip(folder / "clips" / "scene_00.mp4", clip_size)
    lines: list[str | dict[str, str]] = ["세로로 찍은 사진입니다"]
    record = SceneRecord(index=0, fingerprint="p", type="img_text", text_lines=lines, mode="i2v", status="done",
                         clip_path=str(clip))
    final = FinalScene(clip_path=str(clip), text_lines=lines, source_indices=[0], type="img_text")
    manifest = Manifest(post_id="portrait", title=title, mood="daily", backend="local", scenes=[record],
                        final_scenes=[final])
    ManifestStore(folder / MANIFEST_NAME).save(manifest)
    return folder


def _middle_frame(path: Path) -> np.ndarray[Any, Any]:
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    middle: np.ndarray[Any, Any] = frames[len(frames) // 2]
    return middle


def _mood_colour(styles: VideoStyles) -> np.ndarray[Any, Any]:
    colour = styles.get("daily").color_palette[0].lstrip("#")
    return np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)])


def _rows(column: np.ndarray[Any, Any], colour: np.ndarray[Any, Any]) -> list[int]:
    return [y for y in range(len(column)) if _close(column[y], colour)]


def _close(pixel: np.ndarray[Any, Any], colour: np.ndarray[Any, Any]) -> bool:
    return bool(np.abs(pixel.astype(int) - colour).max() < 60)


@pytest.mark.parametrize(
    ("area", "background"), [("box", "blur"), ("box", "color"), ("full", "blur"), ("full", "color")]
)
async def test_a_portrait_clip_keeps_the_bands_at_its_top_and_bottom(
    tmp_path: Path, styles: VideoStyles, area: str, background: str
) -> None:
    folder = _post(tmp_path, (384, 512), title="")
    settings = tiny_clip_settings(
        ffmpeg_timeout=120.0, preview_size=(540, 960), preview_area=area, preview_background=background
    )
    # Without subtitles: in `full` they sit over the lower part of the picture.
    result = await build_preview(folder, settings, styles, subtitles=False)
    frame = _middle_frame(result.path)
    box = make_layout((540, 960), 24, area=area, background=background).area
    column = frame[box.y : box.y + box.height, box.x + box.width // 2]
    red, blue = _rows(column, RED), _rows(column, BLUE)
    # Both bands are there whole (each an eighth of the picture as shown), red above blue.
    shown_height = 512 * min(box.width / 384, box.height / 512)
    assert len(red) >= 0.8 * shown_height / 8, f"only {len(red)} red rows: the clip was cropped"
    assert len(blue) >= 0.8 * shown_height / 8, f"only {len(blue)} blue rows: the clip was cropped"
    assert max(red) < min(blue)
    if background == "color":
        # Where the picture leaves room, the area shows the mood's colour.
        edge = frame[box.y + box.height // 2, box.x + 2] if area == "box" else frame[box.y + 2, box.width // 2]
        assert _close(edge, _mood_colour(styles)), f"{edge} is not the mood colour"
    fit = result.pictures[0].fit or ""
    assert fit.startswith("whole: 384x512 portrait clip shown"), fit
    assert ("bands left and right" if area == "box" else "bands above and below") in fit


async def test_a_landscape_clip_in_the_full_frame_is_shown_whole_too(tmp_path: Path, styles: VideoStyles) -> None:
    folder = _post(tmp_path, (512, 288), title="")
    settings = tiny_clip_settings(
        ffmpeg_timeout=120.0, preview_size=(270, 480), preview_area="full", preview_background="color"
    )
    result = await build_preview(folder, settings, styles, subtitles=False)
    frame = _middle_frame(result.path)
    red, blue = _rows(frame[:, 135], RED), _rows(frame[:, 135], BLUE)
    assert len(red) >= 0.8 * 152 / 8 and len(blue) >= 0.8 * 152 / 8 and max(red) < min(blue)
    assert _close(frame[2, 135], _mood_colour(styles)), "above the picture: the mood's colour"
    assert "above and below" in (result.pictures[0].fit or "")


@pytest.mark.skipif(find_korean_font(None) is None, reason="no font with Hangul installed")
async def test_the_full_area_shows_the_title(tmp_path: Path, styles: VideoStyles) -> None:
    settings = tiny_clip_settings(ffmpeg_timeout=120.0, preview_size=(270, 480), preview_area="full")
    titled = await build_preview(_post(tmp_path / "a", (160, 288), title="제목이 보여야 합니다"), settings, styles)
    bare = await build_preview(_post(tmp_path / "b", (160, 288), title=""), settings, styles)
    layout = make_layout((270, 480), 24, area="full")
    assert layout.title is not None
    band = slice(layout.title.y, layout.title.y + layout.title.height)
    diff = np.abs(_middle_frame(titled.path)[band].astype(int) - _middle_frame(bare.path)[band].astype(int)).mean()
    assert diff > 5, f"the title band differs by only {diff:.2f}"


def test_describe_fit_names_the_shape_size_and_bands() -> None:
    assert describe_fit((1280, 720), (820, 462), "blurred") == (
        "whole: 1280x720 landscape clip scaled to fill the 820x462 area"
    )
    assert describe_fit((512, 512), (820, 462), "mood-colour") == (
        "whole: 512x512 square clip shown 462x462 in the 820x462 area, mood-colour bands left and right"
    )
    assert describe_fit((1280, 720), (1280, 720), "blurred") == (
        "whole: 1280x720 landscape clip scaled to fill the 1280x720 area"
    )


@pytest.mark.skipif(find_korean_font(None) is None, reason="no font with Hangul installed")
async def test_an_all_failed_post_shows_its_title_once_over_a_plain_card(tmp_path: Path, styles: VideoStyles) -> None:
    folder = tmp_path / "out" / "failed"
    lines: list[str | dict[str, str]] = ["아무 클립도 없는 장면"]
    record = SceneRecord(index=0, fingerprint="f", type="text_only", text_lines=lines, mode="t2v", status="failed",
                         failure_reason="every rung failed")
    final = FinalScene(clip_path=None, text_lines=lines, source_indices=[0], type="text_only")
    manifest = Manifest(post_id="failed", title="모두 실패한 글의 제목", mood="daily", scenes=[record],
                        final_scenes=[final])
    ManifestStore(folder / MANIFEST_NAME).save(manifest)
    settings = tiny_clip_settings(ffmpeg_timeout=120.0, preview_size=(540, 960))
    result = await build_preview(folder, settings, styles)
    assert result.pictures[0].how == "card"
    # The layout draws the title above the area; the card itself is the mood's gradient, no second title
    # (which the blurred background then smeared around it).
    with Image.open(folder / "preview" / "stills" / "card_00.png") as card:
        rows = np.asarray(card.convert("L"), dtype=float)
    assert rows.std(axis=1).max() < 2.0, "the card has something drawn on it"
