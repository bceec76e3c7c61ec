"""Phase 4.5's work for image scenes: fetch each image, score it, and choose image- or text-to-video.

The rule of docs/spec.md is score >= VIDEO_I2V_THRESHOLD. Two more guards, because its weights alone let a text
capture (0.55..0.70), a flat meme (0.60..0.70) or a tiny thumbnail (up to 0.80) through:

* only the ``photo`` category is an image-to-video candidate (docs/spec.md, 7: "photo, the I2V candidates");
* an image wider (or taller) than 3:1 is always text-to-video (the issue's rule).

Any failure (download, safety, decode, or an exception nobody expected from a corrupt file) makes that scene
text-to-video with the reason recorded; nothing here raises for a bad image.

The input is the images' references (strings) and the output one `ImageChoice` per image: this module knows
nothing of scenes, so the pipeline's scene model can build on it without an import circle.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ai_worker.core.errors import ImageError, ImagePathRefused
from ai_worker.images.fetch import FetchedImage, ImageFetcher, Resolver, Sleep
from ai_worker.images.filter import ImageSuitability, evaluate_image
from config.settings import Settings

logger = logging.getLogger(__name__)

MAX_I2V_ASPECT = 3.0
I2V_CATEGORIES = frozenset({"photo"})


@dataclass
class ImageChoice:
    """What Phase 4.5 decided for one image scene, and why."""

    mode: Literal["t2v", "i2v"]
    image_path: Path | None = None
    score: float | None = None
    category: str | None = None
    reasons: list[str] = field(default_factory=list)


def decide(result: ImageSuitability, threshold: float) -> ImageChoice:
    """The mode for a scored image (pure). `reasons` holds the image's reasons plus why it is not I2V."""
    reasons = list(result.reasons)
    mode: Literal["t2v", "i2v"] = "i2v"
    if result.score < threshold:
        mode = "t2v"
        reasons.append(f"below_threshold: {result.score:.2f} < {threshold:.2f}")
    if result.aspect_ratio > MAX_I2V_ASPECT or result.aspect_ratio == 0.0:
        mode = "t2v"
        if "extreme_aspect_ratio" not in reasons and result.category != "unknown":
            reasons.append("extreme_aspect_ratio")
    if result.category not in I2V_CATEGORIES:
        mode = "t2v"
        reasons.append(f"not_a_photo: {result.category}")
    return ImageChoice(mode=mode, score=result.score, category=result.category, reasons=reasons)


async def choose_for_image(fetcher: ImageFetcher, source: str, *, settings: Settings) -> ImageChoice:
    """Fetch and score one image; never raises (except cancellation), whatever the image or the URL."""
    try:
        return await _choose(fetcher, source, settings)
    except Exception as exc:
        # The fetcher and the scorer each promise not to raise for a bad image; a corrupt file can still
        # surprise a library (a TIFF whose IFD chain loops makes Pillow raise TypeError). One scene's image
        # must never stop the post, so whatever escapes makes this scene text-to-video, with the reason.
        logger.warning("image %s: %s: %s; the scene is text-to-video", source[:200], type(exc).__name__, exc)
        return ImageChoice(mode="t2v", reasons=[f"image_failed: {type(exc).__name__}: {exc}"])


async def _choose(fetcher: ImageFetcher, source: str, settings: Settings) -> ImageChoice:
    try:
        fetched: FetchedImage = await fetcher.fetch(source)
    except ImageError as exc:
        # A refused path was said once already, by the post file's loader; anything else is news.
        level = logging.INFO if isinstance(exc, ImagePathRefused) else logging.WARNING
        logger.log(level, "image %s: download failed: %s", source[:200], exc)
        return ImageChoice(mode="t2v", reasons=[f"download_failed: {exc}"])
    result = await asyncio.to_thread(evaluate_image, fetched.path, max_pixels=settings.image_max_pixels)
    choice = decide(result, settings.video_i2v_threshold)
    choice.image_path = fetched.path
    logger.info(
        "image %s: score %.2f, %s, %s -> %s", source[:200], result.score, result.category, result.reason, choice.mode
    )
    return choice


async def choose_for_images(
    sources: list[str],
    *,
    post_id: str,
    settings: Settings,
    out_dir: Path,
    base_dir: Path,
    resolve: Resolver | None = None,
    sleep: Sleep | None = None,
) -> list[ImageChoice]:
    """Every image at once (downloads bounded by IMAGE_DOWNLOAD_CONCURRENCY), in the order given."""
    async with ImageFetcher(
        settings, out_dir=out_dir, post_id=post_id, base_dir=base_dir, resolve=resolve, sleep=sleep
    ) as fetcher:
        return list(await asyncio.gather(*(choose_for_image(fetcher, source, settings=settings) for source in sources)))
