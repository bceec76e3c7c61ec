"""A batch run: each post's books are its own, written under its lock, and the summary reads at 80 columns."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from ai_worker.cli.cmd_run import summary_table
from ai_worker.core.run_lock import LOCK_NAME
from ai_worker.model.manifest import Manifest, ManifestStore
from ai_worker.pipeline.content_processor import VideoStageResult
from tests.cli.test_run import _invoke, _manifest, small_env

__all__ = ["small_env"]  # the fixture, shared with test_run


def _posts(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        data = {"post_id": f"p{n}", "title": "제목", "mood": "daily",
                "scenes": [{"type": "intro", "text_lines": [f"{n}번 시작"]}, {"type": "outro", "text_lines": ["끝"]}]}
        path = folder / f"p{n}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths


def test_every_manifest_write_is_under_the_post_lock(small_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unlocked: list[Path] = []
    saves: list[Path] = []
    save = ManifestStore.save

    def checked_save(self: ManifestStore, manifest: Manifest) -> None:
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # succeeds only when no run holds the post's lock
            unlocked.append(self.path)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
        saves.append(self.path)
        save(self, manifest)

    monkeypatch.setattr(ManifestStore, "save", checked_save)
    out = small_env / "out"
    code, output = _invoke("run", *map(str, _posts(small_env / "posts", 2)), "--out", str(out), "--backend", "local")
    assert code == 0, output
    assert saves and unlocked == []
    assert all(_manifest(out / f"p{n}").summary is not None for n in range(2))


def test_each_posts_total_time_is_its_own(small_env: Path) -> None:
    out = small_env / "out"
    code, output = _invoke("run", *map(str, _posts(small_env / "posts", 2)), "--out", str(out), "--backend", "local")
    assert code == 0, output
    for n in range(2):
        manifest = _manifest(out / f"p{n}")
        summary = manifest.summary
        assert summary is not None and summary.run_started_at is not None
        attempts = [a for scene in manifest.scenes for a in scene.attempts]
        # Times are kept to the millisecond on disk.
        assert attempts and all(a.started_at >= summary.run_started_at - 0.001 for a in attempts)
        ended = max(a.started_at + (a.duration_s or 0.0) for a in attempts)
        assert summary.run_finished_at == pytest.approx(ended, abs=0.002)
    first, second = (_manifest(out / f"p{n}").summary for n in range(2))
    assert first is not None and second is not None and first.run_started_at is not None
    assert second.run_started_at is not None and second.run_started_at >= first.run_started_at


def test_the_summary_never_cuts_post_ids_at_80_columns() -> None:
    ids = [f"dc_community_post_2026_12_06_rainy_commute_version_{tail}" for tail in ("a", "b")]
    console = Console(width=80, record=True)
    console.print(summary_table([VideoStageResult(post_id=i, enabled=True, output_dir=Path("/o") / i) for i in ids]))
    rows: list[str] = []
    for line in console.export_text().splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) < 2:
            continue
        if cells[1]:  # a new row starts where the scenes column has its number
            rows.append("")
        rows[-1] += cells[0]
    assert rows == ids
