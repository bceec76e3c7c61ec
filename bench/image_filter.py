"""Benchmark: scoring at the working size (JPEG draft + shrink) against scoring after a full decode.

Run: ``.venv/bin/python -m bench.image_filter [--runs N]``. Prints, per image, the median time of
`evaluate_image` and of a full decode followed by the same measures, and their ratio, measured side by side.
Goal (2 cores): at most 30 ms for the 12 MP JPEG, and at least 8x faster than the full decode.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ai_worker.video.image_filter import _to_rgb, evaluate_image, measure, score_measures
from tests.fakes.images import photo_like


def full_decode_score(path: Path) -> float:
    """The naive way, as the origin did it: decode every pixel, then measure the full-size image."""
    with Image.open(path) as im:
        im.load()
        rgb = _to_rgb(im)
        return score_measures(rgb.width, rgb.height, measure(np.asarray(rgb))).score


def draft_decode_only(path: Path) -> tuple[int, int]:
    """The floor under any scoring at the working size: Pillow's reduced (DCT-scaled) decode alone."""
    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (im.width // 8, im.height // 8))
        im.load()
        return im.size


def median_ms(func: Callable[[], object], runs: int) -> float:
    func()  # warm the caches once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = {
            "12 MP JPEG 4000x3000": ("photo_12mp.jpg", photo_like(4000, 3000)),
            "JPEG 1080x1920": ("photo_1080x1920.jpg", photo_like(1080, 1920, 2)),
            "PNG 512x512": ("photo_512.png", photo_like(512, 512, 3)),
        }
        print(f"{'image':24} {'bytes':>9} {'working size ms':>16} {'(decode floor)':>15} {'full decode ms':>15}"
              f" {'ratio':>7}")
        for label, (name, image) in cases.items():
            path = folder / name
            image.save(path, quality=90) if name.endswith(".jpg") else image.save(path)
            fast = median_ms(lambda p=path: evaluate_image(p), args.runs)  # type: ignore[misc]
            floor = median_ms(lambda p=path: draft_decode_only(p), args.runs)  # type: ignore[misc]
            slow = median_ms(lambda p=path: full_decode_score(p), args.runs)  # type: ignore[misc]
            print(f"{label:24} {path.stat().st_size:9d} {fast:16.1f} {floor:15.1f} {slow:15.1f}"
                  f" {slow / fast:6.1f}x")


if __name__ == "__main__":
    main()
