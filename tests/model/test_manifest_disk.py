"""The manifest on disk: paths relative to its folder, ISO 8601 times, a summary; version 1 files still load."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from ai_worker.model.manifest import (
    AttemptRecord,
    FinalScene,
    Manifest,
    ManifestStore,
    SceneRecord,
    summarize,
)
from ai_worker.model.manifest_paths import relative_to_folder, resolve_in_folder


def _manifest(folder: Path, outside: Path) -> Manifest:
    clip = folder / "clips" / "a.mp4"
    return Manifest(
        post_id="p",
        created_at=1_700_000_000.25,
        scenes=[
            SceneRecord(
                index=0, fingerprint="f", type="img_text", status="done", clip_path=str(clip),
                image_path=str(outside / "img.jpg"),
                text_lines=["a", {"text": "b", "audio": str(outside / "tts" / "b.wav")}],
                attempts=[AttemptRecord(rung=1, params={"init_image": str(outside / "img.jpg"), "width": 8},
                                        started_at=1_700_000_001.5, duration_s=1.0)],
            )
        ],
        final_scenes=[FinalScene(clip_path=str(clip), text_lines=[{"text": "b", "audio": str(outside / "b.wav")}])],
    )


def test_paths_are_relative_and_times_iso_on_disk_and_absolute_in_memory(tmp_path: Path) -> None:
    folder, outside = tmp_path / "out" / "p", tmp_path / "posts"
    store = ManifestStore(folder / "manifest.json")
    original = _manifest(folder, outside)
    store.save(original)
    data = json.loads(store.path.read_text(encoding="utf-8"))
    scene = data["scenes"][0]
    assert data["version"] == 2
    assert scene["clip_path"] == "clips/a.mp4"
    assert scene["image_path"] == "../../posts/img.jpg"
    assert scene["text_lines"][1]["audio"] == "../../posts/tts/b.wav"
    assert scene["attempts"][0]["params"]["init_image"] == "../../posts/img.jpg"
    assert data["final_scenes"][0]["clip_path"] == "clips/a.mp4"
    assert data["created_at"] == "2023-11-14T22:13:20.250+00:00"
    assert datetime.fromisoformat(scene["attempts"][0]["started_at"]).timestamp() == 1_700_000_001.5
    loaded = store.load()
    assert loaded is not None
    assert loaded.scenes[0].clip_path == str(folder / "clips" / "a.mp4")
    assert loaded.scenes[0].text_lines == original.scenes[0].text_lines
    assert loaded.scenes[0].attempts[0].started_at == 1_700_000_001.5
    assert loaded.created_at == 1_700_000_000.25


def test_a_moved_folder_still_finds_its_clips(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "p"
    ManifestStore(folder / "manifest.json").save(_manifest(folder, tmp_path / "posts"))
    moved = tmp_path / "b" / "p"
    moved.parent.mkdir()
    folder.rename(moved)
    loaded = ManifestStore(moved / "manifest.json").load()
    assert loaded is not None and loaded.scenes[0].clip_path == str(moved / "clips" / "a.mp4")


def test_version_1_manifest_with_numbers_and_absolute_paths_still_loads(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    old = {"version": 1, "post_id": "p", "created_at": 1_700_000_000.0, "updated_at": 1_700_000_000.0,
           "scenes": [{"index": 0, "fingerprint": "f", "type": "intro", "status": "done",
                       "clip_path": "/somewhere/else/a.mp4",
                       "attempts": [{"rung": 1, "started_at": 1_700_000_000.0, "duration_s": 1.0}]}]}
    (folder / "manifest.json").write_text(json.dumps(old), encoding="utf-8")
    loaded = ManifestStore(folder / "manifest.json").load()
    assert loaded is not None
    assert loaded.scenes[0].clip_path == "/somewhere/else/a.mp4"
    assert loaded.created_at == 1_700_000_000.0


@pytest.mark.parametrize(
    ("path", "folder", "expected"),
    [("/x/p/clips/a.mp4", "/x/p", "clips/a.mp4"), ("/x/q/a.wav", "/x/p", "../q/a.wav"), ("/x/p", "/x/p", "."),
     ("/x/p/../p/c.mp4", "/x/p", "c.mp4")],
)
def test_relative_to_folder(path: str, folder: str, expected: str) -> None:
    assert relative_to_folder(path, Path(folder)) == expected
    if expected != ".":
        assert resolve_in_folder(expected, Path(folder)) == str(Path(path).resolve())


def test_summary_counts_made_reused_failed_merged_skipped(tmp_path: Path) -> None:
    def attempt(started: float, ok: bool = True) -> AttemptRecord:
        return AttemptRecord(rung=1, started_at=started, duration_s=1.0, error=None if ok else "x")

    manifest = Manifest(post_id="p", scenes=[
        SceneRecord(index=0, fingerprint="a", type="intro", status="done", attempts=[attempt(100.0)]),
        # Kept from an earlier run: the orchestration marked it reused.
        SceneRecord(index=1, fingerprint="b", type="intro", status="done", attempts=[attempt(50.0)], reused=True),
        SceneRecord(index=2, fingerprint="c", type="intro", status="failed", attempts=[attempt(101, ok=False)],
                    merged_into=1),
        SceneRecord(index=3, fingerprint="d", type="intro", status="skipped"),
    ], final_scenes=[FinalScene(), FinalScene(), FinalScene()])
    summary = summarize(manifest, run_started_at=90.0, run_finished_at=120.5)
    assert (summary.made, summary.reused, summary.failed, summary.merged, summary.skipped) == (1, 1, 1, 1, 1)
    assert (summary.scenes, summary.final_scenes, summary.run_seconds) == (4, 3, 30.5)
    store = ManifestStore(tmp_path / "manifest.json")
    manifest.summary = summary
    store.save(manifest)
    on_disk = json.loads(store.path.read_text(encoding="utf-8"))["summary"]
    assert on_disk["reused"] == 1 and on_disk["run_started_at"].startswith("1970-01-01T00:01:30")
    loaded = store.load()
    assert loaded is not None and loaded.summary == summary
