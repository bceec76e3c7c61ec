"""`run --preview` and `preview` end to end: real post files, real clips, the preview and report on disk."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ai_worker.cli.app import build_app
from ai_worker.video.manifest import ManifestStore
from ai_worker.video.probe import probe_clip

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "posts"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def small_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name, value in {"VIDEO_RESOLUTION": "256x160", "VIDEO_NUM_FRAMES": "17", "VIDEO_FPS": "12",
                        "PREVIEW_SIZE": "270x480", "COMFYUI_URL": f"http://127.0.0.1:{_closed_port()}",
                        "OLLAMA_HOST": f"http://127.0.0.1:{_closed_port()}"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("VIDEO_BACKEND", raising=False)
    return tmp_path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.output


def test_run_writes_a_report_and_with_preview_a_preview_and_counts_reuse(small_env: Path) -> None:
    example = EXAMPLES / "rainy_commute.json"
    post_id = json.loads(example.read_text(encoding="utf-8"))["post_id"]
    out = small_env / "out"
    code, output = _invoke("run", str(example), "--out", str(out), "--backend", "local")
    assert code == 0, output
    folder = out / post_id
    assert (folder / "report.html").is_file() and not (folder / "preview.mp4").exists()
    first = ManifestStore(folder / "manifest.json").load()
    assert first is not None and first.summary is not None
    assert (first.summary.made, first.summary.reused) == (len(first.scenes), 0)

    code, output = _invoke("run", str(example), "--out", str(out), "--backend", "local", "--preview")
    assert code == 0, output
    assert "preview:" in output and "report:" in output
    info = probe_clip(folder / "preview.mp4")
    assert (info.width, info.height, info.fps) == (270, 480, 24.0) and info.has_audio  # the example has a TTS line
    again = ManifestStore(folder / "manifest.json").load()
    assert again is not None and again.summary is not None
    assert (again.summary.made, again.summary.reused) == (0, len(again.scenes))
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert '<video controls preload="metadata" src="preview.mp4">' in page
    assert f"<b>{len(again.scenes)}</b>reused" in page


def test_preview_command_on_a_folder_and_on_a_wrong_one(small_env: Path) -> None:
    code, output = _invoke("preview", str(small_env / "nowhere"))
    assert code == 2 and "no manifest.json" in output
    assert not (small_env / "nowhere").exists()
    example = EXAMPLES / "office_paper_fort.json"
    post_id = json.loads(example.read_text(encoding="utf-8"))["post_id"]
    assert _invoke("run", str(example), "--out", "out", "--backend", "local")[0] == 0
    code, output = _invoke("preview", str(Path("out") / post_id))
    assert code == 0, output
    assert probe_clip(small_env / "out" / post_id / "preview.mp4").frames > 0
    assert (small_env / "out" / post_id / "report.html").is_file()
