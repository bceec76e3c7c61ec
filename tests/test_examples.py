"""The example posts show every case the stage handles differently (issue 12's list)."""

from __future__ import annotations

import wave
from pathlib import Path

from ai_worker.images.filter import evaluate_image
from ai_worker.model.post_file import load_post

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "posts"


def _audio_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def test_examples_hold_every_case() -> None:
    shapes: set[str] = set()
    categories: set[str] = set()
    narrated: list[float] = []
    silent = 0
    for example in sorted(EXAMPLES.glob("*.json")):
        post, errors = load_post(example)
        assert errors == []
        for scene in post.scenes:
            if scene.image_url:
                result = evaluate_image(post.base_dir / scene.image_url)
                categories.add(result.category)
                if result.category == "photo":
                    shapes.add(
                        "portrait"
                        if result.height > result.width
                        else "square"
                        if result.height == result.width
                        else "landscape"
                    )
            audio = [line["audio"] for line in scene.text_lines if isinstance(line, dict) and "audio" in line]
            if audio and len(audio) == len(scene.text_lines):
                narrated.append(sum(_audio_seconds(post.base_dir / name) for name in audio))
            elif not audio:
                silent += 1
    assert {"portrait", "square", "landscape"} <= shapes
    assert "chat_capture" in categories  # the dark KakaoTalk capture
    assert max(narrated) >= 7.0  # a long narrated scene: more than one 97-frame clip at 24 fps
    assert silent > 0
    for image in (EXAMPLES / "images").iterdir():
        assert image.stat().st_size < 200_000, image.name
