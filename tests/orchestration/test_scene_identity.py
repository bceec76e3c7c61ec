"""A scene's identity: the content of its inputs, not where they are."""

from __future__ import annotations

import shutil
from pathlib import Path

from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.scene_identity import scene_fingerprint


def _scene(image: Path, audio: Path) -> SceneDecision:
    return SceneDecision(type="img_text", text_lines=["사진", {"text": "말", "audio": str(audio)}],
                         image_url="https://example.com/a.jpg", image_path=str(image),
                         video_init_image=str(image), video_mode="i2v")


def test_the_same_bytes_anywhere_are_the_same_scene_and_new_bytes_a_new_one(tmp_path: Path) -> None:
    one, two = tmp_path / "out" / "cache", tmp_path / "x" / ".." / "other" / "cache"
    for folder in (one, two):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "a.jpg").write_bytes(b"picture")
        (folder / "a.wav").write_bytes(b"voice")
    first = scene_fingerprint(_scene(one / "a.jpg", one / "a.wav"), "daily", {})
    assert scene_fingerprint(_scene(two / "a.jpg", two / "a.wav"), "daily", {}) == first
    (two / "a.jpg").write_bytes(b"another picture")
    assert scene_fingerprint(_scene(two / "a.jpg", two / "a.wav"), "daily", {}) != first
    shutil.copy(one / "a.jpg", two / "a.jpg")
    (two / "a.wav").write_bytes(b"another voice")
    assert scene_fingerprint(_scene(two / "a.jpg", two / "a.wav"), "daily", {}) != first
