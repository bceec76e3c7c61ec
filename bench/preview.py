"""Benchmark: building each example's preview, first time (every clip fitted) against again (fitted clips reused).

Run: ``.venv/bin/python -m bench.preview``. Makes the example posts' clips with the local backend in a
temporary folder, then per post prints the preview's length, the source clips' total duration, the first
build's time, a second build's time (no clip re-encoded, only the composition pass), and their ratio,
measured side by side in one run.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from ai_worker.model.post_file import load_post
from ai_worker.model.styles import load_video_styles
from ai_worker.pipeline.content_processor import process_post
from ai_worker.preview.render import build_preview
from config.settings import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "posts"


async def main() -> None:
    settings = Settings(_env_file=None, video_backend="local", video_gen_enabled=True,
                        ollama_host="http://127.0.0.1:9", ollama_timeout=1.0)
    styles = load_video_styles(settings.video_styles_path)
    print(f"{'post':<22}{'preview s':>10}{'clips s':>9}{'first s':>9}{'again s':>9}{'first/again':>13}"
          f"{'first/preview':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for example in sorted(EXAMPLES.glob("*.json")):
            post, _ = load_post(example)
            result = await process_post(post, settings=settings, out_dir=Path(tmp))
            started = time.perf_counter()
            first = await build_preview(result.output_dir, settings, styles)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            again = await build_preview(result.output_dir, settings, styles)
            again_s = time.perf_counter() - started
            assert all(p.how in ("reused", "card") for p in again.pictures)
            print(f"{example.stem:<22}{first.plan.seconds:>10.1f}{first.clip_seconds:>9.1f}{first_s:>9.2f}"
                  f"{again_s:>9.2f}{first_s / again_s:>12.2f}x{first_s / first.plan.seconds:>14.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
