"""Benchmark the image filter: how well it picks photos for image-to-video, and what scoring costs.

Run: ``.venv/bin/python -m bench.image_filter [--runs N]``.

1. Precision and recall of "goes to image-to-video" (the stage's `decide`: a ``photo`` scoring at least
   VIDEO_I2V_THRESHOLD) on the labelled set in tests/fakes/image_set.py, overall and per family, then on a
   held-out set: the same generators with other seeds. Goal: precision >= 0.95, recall >= 0.8.
2. Score time over the floor: `evaluate_image` on a 12 MP JPEG against the same file's 1/8-scale decode alone
   (the least any scorer of that file must pay), interleaved run by run so load on the machine hits both
   alike; the ratio of the medians. Goal: <= 1.25x.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

from ai_worker.images.filter import evaluate_image
from ai_worker.images.selection import decide
from config.settings import load_settings
from tests.fakes import stories
from tests.fakes.image_set import materialise
from tests.fakes.images import photo_like


def draft_decode_only(path: Path) -> tuple[int, int]:
    """The floor under any scoring at the working size: Pillow's 1/8-scale (DCT-scaled) decode alone."""
    with Image.open(path) as im:
        im.draft("RGB", (im.width // 8, im.height // 8))
        im.load()
        return im.size


HELD_OUT_BASE = 7919
"""Seed shift of the held-out set: the same families and encodings, content the thresholds never saw."""


def classification(threshold: float, base: int) -> None:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # family -> [sent to i2v, total]
    tp = fp = fn = 0
    for path, item in materialise(base=base):
        chosen = decide(evaluate_image(path), threshold).mode == "i2v"
        counts[item.family][0] += chosen
        counts[item.family][1] += 1
        tp += chosen and item.is_photo
        fp += chosen and not item.is_photo
        fn += item.is_photo and not chosen
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    label = "labelled set" if base == 0 else f"held-out set (seeds + {base})"
    print(f"{label}: {sum(n for _, n in counts.values())} images, threshold {threshold:.2f}")
    print(f"{'family':28} {'images':>6} {'to i2v':>7}   expected")
    for family, (sent, total) in sorted(counts.items()):
        expected = "all" if family.startswith("photo") else "none"
        print(f"{family:28} {total:6d} {sent:7d}   {expected}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  (tp {tp}, fp {fp}, fn {fn}; goal >= 0.95 / >= 0.80)")


def story_captures(threshold: float) -> None:
    """Story-style captures (tests/fakes/stories.py): the tuning set the STORY_* thresholds were fitted on,
    then the held-out set (other seeds, never used for tuning). Goal: all to text-to-video."""
    with tempfile.TemporaryDirectory() as tmp:
        for label, items in (("tuning", stories.tuning_set()), ("held-out", stories.held_out_set())):
            modes = []
            for item in items:
                path = Path(tmp) / f"{item.name}.img"
                path.write_bytes(item.data)
                modes.append(decide(evaluate_image(path), threshold).mode)
            t2v = modes.count("t2v")
            print(f"story captures, {label} set: {len(modes)} images, {t2v} to t2v ({t2v / len(modes):.1%})")


def speed(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo_12mp.jpg"
        photo_like(4000, 3000).save(path, quality=90)
        evaluate_image(path)
        draft_decode_only(path)  # warm caches and the page cache once
        score_ms, floor_ms = [], []
        for _ in range(runs):
            start = time.perf_counter()
            evaluate_image(path)
            score_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            draft_decode_only(path)
            floor_ms.append((time.perf_counter() - start) * 1000)
        score, floor = statistics.median(score_ms), statistics.median(floor_ms)
        print(f"12 MP JPEG ({path.stat().st_size} bytes), {runs} interleaved runs:")
        print(
            f"score {score:.1f} ms   1/8-scale decode (floor) {floor:.1f} ms   ratio {score / floor:.2f}x"
            "  (goal <= 1.25x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--no-held-out", action="store_true", help="Skip the held-out set (generated once, ~30 s).")
    args = parser.parse_args()
    threshold = load_settings().video_i2v_threshold
    classification(threshold, base=0)
    if not args.no_held_out:
        classification(threshold, base=HELD_OUT_BASE)
    story_captures(threshold)
    speed(args.runs)


if __name__ == "__main__":
    main()
