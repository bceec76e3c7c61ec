"""A Korean font for the HTML pages, cut down to the characters a page uses and embedded in it.

A report opened on a machine without a Korean font would show a box for every syllable; the whole font
(4-5 MB) is too big to inline in every page, but the few hundred glyphs a page needs are 20-100 KB.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont, TTLibError

logger = logging.getLogger(__name__)

FAMILY = "WaggleKR"
KOREAN_RANGES = "U+1100-11FF, U+3000-303F, U+3130-318F, U+A960-A97F, U+AC00-D7FF, U+4E00-9FFF, U+FF00-FFEF"
"""What the embedded font is used for: Hangul (jamo, compatibility jamo, syllables), CJK punctuation,
ideographs and full-width forms. Latin text falls through to the page's Latin fonts (see report_html)."""


def subset_font(path: Path, text: str) -> bytes:
    """The font at `path` (the first face of a collection) with only the glyphs `text` needs, as OpenType."""
    options = subset.Options()
    options.layout_features = ["*"]
    options.notdef_outline = True
    font = TTFont(str(path), lazy=True, fontNumber=0) if path.suffix.lower() in (".ttc", ".otc") else TTFont(
        str(path), lazy=True
    )
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def font_face_css(path: Path | None, text: str) -> str:
    """An @font-face rule embedding the glyphs `text` needs from the font at `path` as family `FAMILY`;
    empty when there is no font or it cannot be read (the page then falls back to the system's fonts)."""
    if path is None:
        return ""
    try:
        data = subset_font(path, text)
    except (OSError, TTLibError, AssertionError, KeyError) as exc:
        logger.warning("could not embed font %s in the report: %s", path, exc)
        return ""
    encoded = base64.b64encode(data).decode("ascii")
    return (f'@font-face {{ font-family: "{FAMILY}"; src: url("data:font/otf;base64,{encoded}") '
            f'format("opentype"); unicode-range: {KOREAN_RANGES}; }}\n')
