"""Story-style captures (large Korean text over a smooth gradient) go to text-to-video; photos do not.

The thresholds (`filter.STORY_*`) were fitted on `stories.tuning_set()` and the labelled set's photos only;
`stories.held_out_set()` (other seeds) and the labelled set's held-out photos were measured once, after.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_worker.images.filter import evaluate_image, is_story
from ai_worker.images.selection import decide
from tests.fakes import stories
from tests.fakes.image_set import materialise

THRESHOLD = 0.6
"""VIDEO_I2V_THRESHOLD's default."""
HELD_OUT_PHOTO_BASE = 7919
"""The labelled set's held-out seeds (bench/image_filter.py)."""


def _modes(items: list[stories.Story], folder: Path) -> dict[str, str]:
    modes: dict[str, str] = {}
    for item in items:
        path = folder / f"{item.name}.img"
        path.write_bytes(item.data)
        modes[item.name] = decide(evaluate_image(path), THRESHOLD).mode
    return modes


def test_the_two_story_sets_share_no_seed() -> None:
    assert not set(stories.TUNING_SEEDS) & set(stories.HELD_OUT_SEEDS)


def test_story_captures_of_the_tuning_set_go_to_text_to_video(tmp_path: Path) -> None:
    modes = _modes(stories.tuning_set(), tmp_path)
    i2v = sorted(name for name, mode in modes.items() if mode == "i2v")
    assert not i2v


def test_held_out_story_captures_go_to_text_to_video(tmp_path: Path) -> None:
    modes = _modes(stories.held_out_set(), tmp_path)
    t2v = sum(mode == "t2v" for mode in modes.values())
    # Measured once after tuning: 59 of 60. A story whose text has the background's brightness (it differs
    # in hue only) has no sharp grey detail and is measured like a soft photo.
    assert t2v >= 0.9 * len(modes), sorted(name for name, mode in modes.items() if mode == "i2v")


@pytest.mark.parametrize("base", [0, HELD_OUT_PHOTO_BASE], ids=["labelled", "held-out"])
def test_no_photo_is_taken_for_a_story(base: int) -> None:
    photos = [(path, item) for path, item in materialise(base=base) if item.is_photo]
    assert photos
    taken = [item.name for path, item in photos if is_story(evaluate_image(path).metrics)]
    assert not taken


def test_the_example_photos_stay_photos() -> None:
    folder = Path(__file__).resolve().parents[2] / "examples" / "posts" / "images"
    for name in ("night_alley.jpg", "rainy_street.jpg", "birthday_cake.jpg"):
        result = evaluate_image(folder / name)
        assert result.category == "photo" and not is_story(result.metrics), name
