"""Benchmark: the spec's three FFmpeg passes against the single pass, side by side in one run.

From a generated 1280x720, 97-frame, 24 fps source with motion to a 6.3 s 1080x1920 clip:
three passes (`resize_clip_to_layout`, `loop_or_trim_clip`, `normalize_clip_format`) against
`prepare_clip_for_render`, with the same encoder settings, interleaved, median of N runs each. Prints both
medians, their ratio, and the SSIM of each result against a lossless reference made by the same single
filter graph (libx264 -qp 0), computed by FFmpeg's ssim filter.

Goal: ratio at least 1.6 at ``ultrafast``, and the single pass's SSIM not below the three passes'.

    .venv/bin/python -m bench.postprocess [--runs 5] [--preset ultrafast] [--crf 23] [--area 900x900]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ai_worker.media.ffmpeg_runner import run_ffmpeg
from ai_worker.media.video_utils import (
    build_render_args,
    libx264_args,
    loop_or_trim_clip,
    normalize_clip_format,
    prepare_clip_for_render,
    resize_clip_to_layout,
)

SOURCE_SIZE = (1280, 720)
SOURCE_FRAMES = 97
FPS = 24
TARGET_S = 6.3
CANVAS = (1080, 1920)
TIMEOUT_S = 600.0


async def make_source(path: Path) -> None:
    """A 1280x720, 97-frame clip with motion (FFmpeg's moving test pattern)."""
    width, height = SOURCE_SIZE
    await run_ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={FPS}",
            "-pix_fmt", "yuv420p",
            "-frames:v", str(SOURCE_FRAMES),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
        ],
        timeout=TIMEOUT_S,
        output=path,
    )  # fmt: skip


async def ssim(candidate: Path, reference: Path, stats: Path) -> float:
    """Mean SSIM (all planes) of `candidate` against `reference`, from the ssim filter's per-frame stats."""
    await run_ffmpeg(
        ["-i", str(candidate), "-i", str(reference), "-lavfi", f"[0:v][1:v]ssim=stats_file={stats}", "-f", "null", "-"],
        timeout=TIMEOUT_S,
    )
    values = [
        float(field.split(":", 1)[1])
        for line in stats.read_text().splitlines()
        for field in line.split()
        if field.startswith("All:")
    ]
    if not values:
        raise RuntimeError(f"no SSIM values in {stats}")
    return statistics.fmean(values)


async def timed(step: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await step()
    return (time.perf_counter() - start) * 1000


async def main(runs: int, preset: str, crf: int, area: tuple[int, int] | None) -> None:
    codec = libx264_args(preset, crf)
    width, height = CANVAS
    layout = area or CANVAS
    with tempfile.TemporaryDirectory(prefix="bench-postprocess-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        await make_source(source)

        async def three_passes() -> None:
            await resize_clip_to_layout(source, work / "p1.mp4", layout[0], layout[1], FPS, codec=codec)
            await loop_or_trim_clip(work / "p1.mp4", work / "p2.mp4", TARGET_S, codec=codec)
            await normalize_clip_format(work / "p2.mp4", work / "three.mp4", width, height, FPS, codec=codec)

        async def single_pass() -> None:
            await prepare_clip_for_render(
                source, work / "single.mp4", target_duration=TARGET_S, width=width, height=height, fps=FPS,
                area=area, codec=codec,
            )  # fmt: skip

        # One untimed round of each warms the page cache and the Python imports.
        await three_passes()
        await single_pass()
        three_ms: list[float] = []
        single_ms: list[float] = []
        for run in range(runs):
            # Alternate which goes first, so neither always runs on a warmer machine.
            if run % 2 == 0:
                three_ms.append(await timed(three_passes))
                single_ms.append(await timed(single_pass))
            else:
                single_ms.append(await timed(single_pass))
                three_ms.append(await timed(three_passes))

        reference = work / "reference.mp4"
        lossless = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"]
        await run_ffmpeg(
            build_render_args(
                source, target_duration=TARGET_S, codec=lossless, width=width, height=height, fps=FPS, area=area
            ),
            timeout=TIMEOUT_S,
            output=reference,
        )
        ssim_three = await ssim(work / "three.mp4", reference, work / "ssim-three.log")
        ssim_single = await ssim(work / "single.mp4", reference, work / "ssim-single.log")

    three, single = statistics.median(three_ms), statistics.median(single_ms)
    geometry = f"{layout[0]}x{layout[1]} area on " if area else ""
    print(
        f"source {SOURCE_SIZE[0]}x{SOURCE_SIZE[1]} {SOURCE_FRAMES} frames -> {TARGET_S} s {geometry}"
        f"{width}x{height} @ {FPS} fps, libx264 -preset {preset} -crf {crf}, {runs} runs each (interleaved)"
    )
    print(f"three passes: median {three:7.0f} ms  (runs: {', '.join(f'{v:.0f}' for v in three_ms)})")
    print(f"single pass:  median {single:7.0f} ms  (runs: {', '.join(f'{v:.0f}' for v in single_ms)})")
    print(f"ratio (three / single): {three / single:.2f}x")
    print(f"SSIM vs lossless reference: three passes {ssim_three:.5f}, single pass {ssim_single:.5f}")


def _parse_area(value: str) -> tuple[int, int]:
    left, right = value.lower().split("x", 1)
    return int(left), int(right)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preset", default="ultrafast")
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--area", type=_parse_area, default=None, help="a layout video area, e.g. 900x900")
    options = parser.parse_args()
    asyncio.run(main(options.runs, options.preset, options.crf, options.area))
