"""`run --preview` and `preview` end to end: real post files, real clips, the preview and report on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_worker.media.probe import probe_clip
from ai_worker.model.manifest import ManifestStore
from tests.cli.test_run import EXAMPLES, _invoke, small_env


@pytest.fixture
def preview_env(small_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`run`'s small test environment, with a small preview canvas."""
    monkeypatch.setenv("PREVIEW_SIZE", "270x480")
    return small_env


def test_run_writes_a_report_and_with_preview_a_preview_and_counts_reuse(preview_env: Path) -> None:
    example = EXAMPLES / "rainy_commute.json"
    post_id = json.loads(example.read_text(encoding="utf-8"))["post_id"]
    out = preview_env / "out"
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
    assert '<video controls preload="metadata" src="preview.mp4" poster="data:image/jpeg;base64,' in page
    assert f"<b>{len(again.scenes)}</b>reused" in page


def test_preview_command_on_a_folder_and_on_a_wrong_one(preview_env: Path) -> None:
    code, output = _invoke("preview", str(preview_env / "nowhere"))
    assert code == 2 and "no manifest.json" in output
    assert not (preview_env / "nowhere").exists()
    example = EXAMPLES / "office_paper_fort.json"
    post_id = json.loads(example.read_text(encoding="utf-8"))["post_id"]
    assert _invoke("run", str(example), "--out", "out", "--backend", "local")[0] == 0
    code, output = _invoke("preview", str(Path("out") / post_id))
    assert code == 0, output
    assert probe_clip(preview_env / "out" / post_id / "preview.mp4").frames > 0
    assert (preview_env / "out" / post_id / "report.html").is_file()


__all__ = ["small_env"]  # the fixture `preview_env` builds on
