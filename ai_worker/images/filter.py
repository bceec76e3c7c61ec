"""How well a crawled image would work as the first frame of an image-to-video clip (docs/spec.md, 7).

The score keeps the spec's five criteria and weights (summing to 1.0)::

    resolution     0.20   min(w, h) >= 512 full, 256..511 -> 0.10, < 256 -> 0.00
    aspect ratio   0.20   max/min <= 2.0 full, 2.0..3.0 -> 0.10, > 3.0 -> 0.00
    text density   0.30   not a text capture full, a text capture -> 0.00
    colour         0.15   RGB std > 30 full, 15..30 -> 0.07, < 15 (or a drawn image of <= 8 colours) -> 0.00
    edge density   0.15   edge pixels > 5 % full, 2..5 % -> 0.07, < 2 % -> 0.00

The category says what the image is, and only a ``photo`` goes to image-to-video. The spec's bimodal-histogram
test for text called every snowy or night photo a capture and every KakaoTalk capture (blue-grey background) a
photo, so text and graphics are found by how the picture was made instead (see image_metrics): a screen or a
drawing has large regions of one exact colour with sharp detail sitting on them, lines of text separated by
clean gaps; a camera gives noise, soft light and no exactly flat region beyond clipped highlights and black
bars, which touch the rest of the picture only along their border. Categories, in the order they are decided:

    text_capture   drawn (screen-like) with lines of text, a page of text lines (a scan), or text over a
                   smooth background (a story-style capture: smooth nearly everywhere, sharp strokes, no
                   texture; a camera's picture is textured wherever something is in focus)
    chat_capture   a text capture with bubbles: two or more large flat colours (KakaoTalk, LINE, SMS)
    meme           the spec's rule: very low colour diversity and a flat image
    graphic        drawn without text lines: clipart, silhouettes, flat cartoons, logos
    animation      an animated GIF (a reaction clip already moves; its 256-colour frame animates badly)
    diagram        smaller than 200 px on both sides and near square (the spec's icon rule)
    screenshot     shorter side under 256 px (the spec's low-resolution rule)
    photo          everything else: the image-to-video candidates

Resolution and aspect ratio use the original size (after EXIF rotation); every other measure is taken at one
working size (image_decode). A bad file never raises: it scores 0.0, category ``unknown``, and the reason
names the problem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ai_worker.images.decode import DRAFT_MIN_SIDE, WORKING_SIZE, BadImage, load_working
from ai_worker.images.metrics import measure

__all__ = ["DRAFT_MIN_SIDE", "WORKING_SIZE", "ImageSuitability", "evaluate_image", "score_measures"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 64_000_000

# Weights and partial scores, from the spec's table.
W_RESOLUTION, W_ASPECT, W_TEXT, W_COLOR, W_EDGE = 0.20, 0.20, 0.30, 0.15, 0.15
PARTIAL_RESOLUTION, PARTIAL_ASPECT, PARTIAL_COLOR, PARTIAL_EDGE = 0.10, 0.10, 0.07, 0.07
RES_FULL, RES_PARTIAL = 512, 256
ASPECT_FULL, ASPECT_PARTIAL = 2.0, 3.0
COLOR_FULL, COLOR_PARTIAL = 30.0, 15.0
FLAT_PALETTE_MAX = 8
"""A drawn image whose 90 % of pixels fall in at most this many 4-bit colours has very low colour diversity."""
EDGE_FULL, EDGE_PARTIAL = 0.05, 0.02
DIAGRAM_MAX_SIDE = 200
DIAGRAM_MAX_ASPECT = 1.2
MIN_MEASURABLE_SIDE = 32
"""Below this the text, colour and edge measures mean nothing (an 8x8 icon): those criteria earn 0."""

# Drawn (screen or graphic), from the flat-block measures at the working size (labelled set, both seeds).
# Photos with large exact-flat regions (black bars, a crushed night sky, a product on clipped white) have
# one flat colour and no line of text on it; only a product's outline touches it (up to 0.36 of its detail).
# Captures have a second flat colour (bubbles, bars) or lines of text, and at least 0.2 of their detail on
# flat colours; drawings have flat fills too (flat_other >= 0.5). A capture shrunk and recompressed by the
# poster loses exact pixels near its text, and one that is mostly a photo (a post opened full screen) has
# little detail outside it, but both keep a flat background with lines of text on it.
SCREEN_MIN_FLAT = 0.15
SCREEN_MIN_TOUCH = 0.30
SCREEN_MIN_SECOND = 0.03
SCREEN_MIN_LINES = 2
GRAPHIC_MIN_FLAT = 0.30
GRAPHIC_MIN_FLAT_OTHER = 0.30
FLAT_MIN_CONCENTRATION = 0.5
"""Share of the flat blocks the few dominant flat colours must hold (drawn images: 0.9 and more)."""
LAYOUT_MIN_FLAT = 0.25
LAYOUT_MIN_LINES = 4
# Text: lines of ink between clean gaps. Three make a drawn image a text capture; a page without flat
# regions (a scan, a photocopy: paper grain) needs a dozen, on a two-tone page of low colour.
TEXT_MIN_LINES = 3
SCAN_MIN_LINES = 12
SCAN_MIN_BIMODAL = 0.75
SCAN_MAX_COLOR_STD = 40.0
# Story-style captures (text over a smooth gradient), from the texture measures at the working size, fitted
# on tests/fakes/stories.py's tuning set against every photo of the labelled set and the example photos:
# photos have at least 0.17 of their blocks textured (a bokeh portrait, a product on a seamless backdrop),
# stories at most 0.06; the smoothest photo is 0.80 smooth. Sharp blocks are the text (a bare gradient is
# only a flat image). Held out (measured once, after): 59 of 60 stories to text-to-video, no photo taken
# for a story (`python -m bench.image_filter`).
STORY_MIN_SMOOTH = 0.80
STORY_MAX_TEXTURED = 0.08
STORY_MIN_SHARP = 0.005
# Bubbles: the flat colours after the background cover this share of the picture.
CHAT_MIN_BUBBLES = 0.12


@dataclass
class ImageSuitability:
    """The spec's result: a score in 0..1, why, what kind of image it is, and its original size."""

    score: float
    reason: str
    category: str
    width: int
    height: int
    metrics: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def reasons(self) -> list[str]:
        """`reason` as a list (empty when the image is suitable)."""
        if self.reason == "suitable":
            return []
        return [part.strip() for part in self.reason.split(",") if part.strip()]

    @property
    def aspect_ratio(self) -> float:
        """Longer side over shorter side (0.0 when the size is unknown)."""
        short = min(self.width, self.height)
        return max(self.width, self.height) / short if short > 0 else 0.0


def _bad(reason: str, width: int = 0, height: int = 0) -> ImageSuitability:
    return ImageSuitability(score=0.0, reason=reason, category="unknown", width=width, height=height)


def is_drawn(m: dict[str, float]) -> bool:
    """Made on a screen or in a drawing program: exact flat colours with detail on them, flat fills, or a flat
    background under many lines of text."""
    flat = m["flat_blocks"]
    if flat <= 0.0 or m["top_colours"] < FLAT_MIN_CONCENTRATION * flat:
        # A screen or a drawing fills its flat regions with a few colours; a phone's smoothed-out background
        # (portrait mode, a clear sky) is flat in many slightly different shades.
        return False
    # A product shot on white also has its outline touching one flat colour; a screen has a second flat colour
    # (bubbles, bars, buttons) or some text on it.
    furnished = m["top_colours"] - m["top_colour"] >= SCREEN_MIN_SECOND or m["text_lines"] >= SCREEN_MIN_LINES
    screen = flat >= SCREEN_MIN_FLAT and m["ui_touch"] >= SCREEN_MIN_TOUCH and furnished
    graphic = flat >= GRAPHIC_MIN_FLAT and m["flat_other"] >= GRAPHIC_MIN_FLAT_OTHER
    layout = flat >= LAYOUT_MIN_FLAT and m["text_lines"] >= LAYOUT_MIN_LINES
    return screen or graphic or layout


def is_story(m: dict[str, float]) -> bool:
    """Sharp detail (text) over a background smooth almost everywhere, with next to no texture: drawn over a
    gradient, as story-style captures are; no camera makes that."""
    return (
        m.get("smooth_blocks", 0.0) >= STORY_MIN_SMOOTH
        and m.get("textured_blocks", 1.0) <= STORY_MAX_TEXTURED
        and m.get("sharp_blocks", 0.0) >= STORY_MIN_SHARP
    )


def is_text_heavy(m: dict[str, float]) -> bool:
    """A capture of text: drawn with lines of text on it, text over a smooth background (a story), or a
    low-colour two-tone page of many text lines."""
    drawn = is_drawn(m)
    # A drawn image (exact flat colours) is judged by its lines; the story rule is for smooth, not flat, ones.
    if (drawn and m["text_lines"] >= TEXT_MIN_LINES) or (not drawn and is_story(m)):
        return True
    return (
        m["page_lines"] >= SCAN_MIN_LINES and m["bimodal"] >= SCAN_MIN_BIMODAL and m["color_std"] < SCAN_MAX_COLOR_STD
    )


def _criteria(width: int, height: int, m: dict[str, float]) -> tuple[float, list[str], bool]:
    """The spec's five criteria: score, reasons, and whether the image is text-heavy."""
    reasons: list[str] = []
    score = 0.0
    short, long_ = min(width, height), max(width, height)
    if short >= RES_FULL:
        score += W_RESOLUTION
    elif short >= RES_PARTIAL:
        score += PARTIAL_RESOLUTION
        reasons.append("low_resolution")
    else:
        reasons.append("very_low_resolution")

    aspect = long_ / short if short > 0 else float("inf")
    if aspect <= ASPECT_FULL:
        score += W_ASPECT
    elif aspect <= ASPECT_PARTIAL:
        score += PARTIAL_ASPECT
        reasons.append("wide_aspect_ratio")
    else:
        reasons.append("extreme_aspect_ratio")

    if short < MIN_MEASURABLE_SIDE:
        reasons.append("too_small_to_measure")
        return score, reasons, False

    text_heavy = is_text_heavy(m)
    if text_heavy:
        reasons.append("text_heavy_image")
    else:
        score += W_TEXT

    color = m["color_std"]
    # Black text on white has a large RGB std; a drawn image of a handful of colours is still low diversity.
    if color < COLOR_PARTIAL or (is_drawn(m) and m["palette"] <= FLAT_PALETTE_MAX):
        reasons.append("very_low_color_diversity")
    elif color > COLOR_FULL:
        score += W_COLOR
    else:
        score += PARTIAL_COLOR
        reasons.append("low_color_diversity")

    edges = m["edge_density"]
    if edges > EDGE_FULL:
        score += W_EDGE
    elif edges >= EDGE_PARTIAL:
        score += PARTIAL_EDGE
        reasons.append("low_edge_density")
    else:
        reasons.append("flat_image")
    return score, reasons, text_heavy


def _category(
    width: int, height: int, m: dict[str, float], reasons: list[str], text_heavy: bool, animated: bool
) -> str:
    short, long_ = min(width, height), max(width, height)
    aspect = long_ / short if short > 0 else float("inf")
    measurable = "too_small_to_measure" not in reasons
    drawn = measurable and is_drawn(m)
    if text_heavy:
        bubbles = m["top_colours"] - m["top_colour"]
        return "chat_capture" if drawn and bubbles >= CHAT_MIN_BUBBLES else "text_capture"
    if "very_low_color_diversity" in reasons and "flat_image" in reasons:
        return "meme"
    if drawn:
        return "graphic"
    if animated:
        return "animation"
    if long_ < DIAGRAM_MAX_SIDE and aspect <= DIAGRAM_MAX_ASPECT:
        # Checked before "screenshot": every image under 200 px is also under 256 px, so in the spec's order
        # this rule could never fire.
        return "diagram"
    if "very_low_resolution" in reasons:
        return "screenshot"
    return "photo"


def score_measures(width: int, height: int, m: dict[str, float], *, animated: bool = False) -> ImageSuitability:
    """Score and classify from the original size and the working-size measures (pure; tested directly)."""
    score, reasons, text_heavy = _criteria(width, height, m)
    return ImageSuitability(
        score=round(min(max(score, 0.0), 1.0), 4),
        reason=", ".join(reasons) if reasons else "suitable",
        category=_category(width, height, m, reasons, text_heavy, animated),
        width=width,
        height=height,
        metrics=dict(m),
    )


def evaluate_image(path: Path | str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageSuitability:
    """Score one image file for image-to-video (sync and CPU-bound: run it in a thread from async code).

    Never raises for a bad image: it scores 0.0 with category ``unknown`` and a reason naming the problem.
    """
    target = Path(path)
    try:
        decoded = load_working(target, max_pixels)
    except BadImage as bad:
        logger.info("image %s not usable: %s", target, bad.reason)
        return _bad(bad.reason, bad.width, bad.height)
    except MemoryError:
        return _bad("unreadable_image: out of memory while decoding")
    animated = decoded.format == "GIF" and decoded.frames > 1
    result = score_measures(decoded.width, decoded.height, measure(decoded.pixels), animated=animated)
    logger.debug("image %s: %.2f %s (%s) %s", target, result.score, result.category, result.reason, result.metrics)
    return result
