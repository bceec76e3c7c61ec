"""Everyday options: `--version`, `prompts --json`, `score FOLDER`."""

from __future__ import annotations

import json
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_worker.cli.app import build_app
from tests.cli import test_run
from tests.cli.test_run import EXAMPLES

small_env = test_run.small_env


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version_prints_the_installed_version_and_exits_0() -> None:
    code, out, _ = _invoke("--version")
    assert code == 0 and out.strip() == f"wagglebot-video {version('wagglebot-video')}"


def test_prompts_json_is_one_json_document_with_every_scene(small_env: Path) -> None:
    post = EXAMPLES / "office_paper_fort.json"
    code, out, _ = _invoke("prompts", str(post), "--out", str(small_env / "out"), "--json")
    assert code == 0, out
    data = json.loads(out)
    scenes = json.loads(post.read_text(encoding="utf-8"))["scenes"]
    assert data["post_id"] and len(data["scenes"]) == len(scenes)
    first = data["scenes"][0]
    assert set(first) == {"index", "type", "mode", "prompt", "simplified_prompt", "source"}
    assert all(s["prompt"] for s in data["scenes"] if s["mode"] in ("t2v", "i2v"))
    assert data["negative_prompt"] and data["warnings"] == []


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def test_score_takes_a_folder_of_images(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("rainy_street.jpg", "chat_capture.png", "birthday_cake.jpg"):
        shutil.copy(EXAMPLES / "images" / name, folder / name)
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    (folder / "sub").mkdir()
    code, out, _ = _invoke("score", str(folder), "--json")
    assert code == 0, out
    paths = [Path(item["path"]).name for item in json.loads(out)["images"]]
    assert paths == ["birthday_cake.jpg", "chat_capture.png", "rainy_street.jpg"]


def test_score_names_a_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _invoke("score", str(tmp_path / "empty"), str(EXAMPLES / "images" / "rainy_street.jpg"))
    assert code == 2
    assert "a folder with no image files" in err
