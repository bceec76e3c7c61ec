"""`wagglebot-video score`: the decision and its rule per image, exit 2 for unreadable files, --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ai_worker.cli.app import build_app
from tests.fakes.captures import chat_capture
from tests.fakes.images import photo_like


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps table cells at the terminal width
    monkeypatch.delenv("VIDEO_I2V_THRESHOLD", raising=False)


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), ["score", *args])
    return result.exit_code, result.stdout, result.stderr


def _foggy(path: Path) -> Path:
    """A real-looking but poor photo: 900x340 (low resolution, 2.6:1), soft grey gradient, sensor noise."""
    rng = np.random.default_rng(5)
    x = np.linspace(0, 1, 900)[None, :, None]
    arr = 100 + 60 * x + np.zeros((340, 1, 3)) + rng.normal(0, 3, (340, 900, 3))
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "photo": tmp_path / "photo.jpg",
        "chat": tmp_path / "kakao_dark.png",
        "banner": tmp_path / "banner.jpg",
    }
    photo_like(1200, 900).save(paths["photo"], quality=90)
    chat_capture(720, 1480, "kakao_dark", 3).save(paths["chat"])
    photo_like(2400, 600, 7).save(paths["banner"], quality=90)
    paths["foggy"] = _foggy(tmp_path / "foggy.jpg")
    return paths


def test_each_image_shows_its_decision_and_the_rule(images: dict[str, Path]) -> None:
    code, out, err = _invoke(*(str(p) for p in images.values()))
    assert code == 0, err
    rows = {name: next(line for line in out.splitlines() if path.name in line) for name, path in images.items()}
    assert "i2v: photo, score 1.00" in rows["photo"]
    assert "t2v: category chat_capture" in rows["chat"]
    assert "t2v: aspect ratio 4.00 > 3.0" in rows["banner"]
    assert "t2v: score 0.57 < 0.60" in rows["foggy"]
    assert err == ""


def test_missing_and_unreadable_files_exit_2_with_one_line_each(images: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "gone.jpg"
    broken = tmp_path / "page.jpg"
    broken.write_text("<html><body>404</body></html>", encoding="utf-8")
    code, out, err = _invoke(str(images["photo"]), str(missing), str(broken))
    assert code == 2
    assert err.splitlines() == [
        f"error: {missing}: unreadable_image: file not found",
        f"error: {broken}: not_an_image: html",
    ]
    assert "i2v: photo" in out  # the readable image is still scored


def test_json_shape(images: dict[str, Path]) -> None:
    code, out, _ = _invoke("--json", str(images["photo"]), str(images["chat"]))
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"threshold", "images"}
    assert payload["threshold"] == 0.6
    photo, chat = payload["images"]
    keys = {"path", "mode", "rule", "score", "category", "width", "height", "reasons", "metrics"}
    assert set(photo) == keys and set(chat) == keys
    assert (photo["path"], photo["mode"], photo["rule"], photo["category"]) == (
        str(images["photo"]),
        "i2v",
        "photo, score 1.00",
        "photo",
    )
    assert (photo["width"], photo["height"], photo["reasons"]) == (1200, 900, [])
    assert (chat["mode"], chat["rule"], chat["category"]) == ("t2v", "category chat_capture", "chat_capture")
    assert "text_heavy_image" in chat["reasons"]
    assert isinstance(chat["metrics"]["flat_blocks"], float)


def test_json_for_an_unreadable_file_still_exits_2(tmp_path: Path) -> None:
    code, out, err = _invoke("--json", str(tmp_path / "nope.png"))
    assert code == 2
    (entry,) = json.loads(out)["images"]
    assert (entry["mode"], entry["rule"], entry["category"], entry["score"]) == (
        "t2v",
        "unreadable: unreadable_image: file not found",
        "unknown",
        0.0,
    )
    assert err.strip() == f"error: {tmp_path / 'nope.png'}: unreadable_image: file not found"


def test_file_names_are_not_rich_markup(tmp_path: Path) -> None:
    path = tmp_path / "[bold]cat[red].jpg"
    photo_like(800, 600).save(path, quality=90, format="JPEG")
    code, out, _ = _invoke(str(path))
    assert code == 0
    assert "[bold]cat[red].jpg" in out


def test_metrics_column(images: dict[str, Path]) -> None:
    code, out, _ = _invoke("--metrics", str(images["chat"]))
    assert code == 0
    assert "flat_blocks=" in out and "text_lines=" in out
