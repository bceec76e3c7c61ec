"""report.html as a reader sees it (headless Chromium, screenshots read by pixel): colons in times sit on
the baseline like the digits beside them, no red where there is no error, 'an' before a vowel, a page
without a preview says how to make one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ai_worker.preview.report import write_report
from ai_worker.preview.report_html import mode_rule
from tests.browser import check_page
from tests.fakes.settings import tiny_clip_settings
from tests.preview.post_folder import make_post_folder

# The rectangles of the first time's digit and colon in the header ("updated 2026-...T12:34:56Z"), from the
# characters' own ranges, scaled for a big font so the glyphs are many pixels tall.
COLON_RECTS = """(() => {
  // Hangul drawn by a font that has it: as wide as in the embedded font alone, not as a Latin font's boxes.
  const probe = (family) => { const s = document.createElement('span'); s.textContent = '테스트 게시물';
    s.style.fontFamily = family; s.style.fontSize = '40px'; document.body.appendChild(s);
    const w = s.getBoundingClientRect().width; s.remove(); return w; };
  const hangul = [probe(getComputedStyle(document.body).fontFamily), probe('WaggleKR'), probe('"Liberation Sans"')];
  document.querySelectorAll('.meta').forEach(m => { m.style.fontSize = '64px'; m.style.color = '#000'; });
  const meta = document.querySelector('.meta');
  const walker = document.createTreeWalker(meta, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.data.search(/\\d\\d:\\d\\d/);
    if (at < 0) continue;
    const rect = (start) => { const r = document.createRange(); r.setStart(node, start); r.setEnd(node, start + 1);
      const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
    window.scrollTo(0, 0);
    return {digit: rect(at + 1), colon: rect(at + 2), hangul};
  }
  return null;
})()"""


def _ink_centre(shot: Image.Image, rect: list[float]) -> float:
    left, top, right, bottom = (round(v) for v in rect)
    grey = np.asarray(shot.convert("L").crop((left, top, right, bottom)), dtype=float)
    ink = np.clip(200 - grey, 0, None)
    rows = np.arange(ink.shape[0])[:, None]
    return float((ink * rows).sum() / max(ink.sum(), 1e-6)) / max(1, bottom - top)


async def test_a_colon_in_a_time_sits_like_the_digits_beside_it(tmp_path: Path) -> None:
    post = make_post_folder(tmp_path)
    report = await write_report(post.folder, tiny_clip_settings())
    check = await check_page(report, COLON_RECTS, tmp_path / "profile", width=2400, height=900)
    assert check.value, "no time found in the header"
    shot_path = tmp_path / "colon.png"  # kept for a look: pytest --basetemp
    shot_path.write_bytes(check.screenshot)
    with Image.open(shot_path) as shot:
        digit = _ink_centre(shot, check.value["digit"])
        colon = _ink_centre(shot, check.value["colon"])
    # A Latin colon's dots centre at about half the x-height, below a digit's centre; a Korean font's colon
    # (centred on the em box for Korean text) sits above it.
    assert colon > digit + 0.02, f"colon centre {colon:.3f} vs digit {digit:.3f} (of the line box): raised"
    page_width, embedded_width, latin_width = check.value["hangul"]
    # (Spaces come from the Latin font, so the widths differ by a pixel or so.)
    assert abs(page_width - embedded_width) < 0.05 * embedded_width, check.value["hangul"]
    assert page_width > 1.5 * latin_width, check.value["hangul"]


async def test_no_red_without_an_error_and_a_page_without_preview_says_how_to_make_one(tmp_path: Path) -> None:
    post = make_post_folder(tmp_path)
    page = (await write_report(post.folder, tiny_clip_settings())).read_text(encoding="utf-8")
    assert not re.search(r'<td class="error">—</td>', page)
    assert page.count('<td class="error">') == 1  # the one failed attempt
    assert f"wagglebot-video preview {post.folder}" in page


def test_an_article_that_fits_the_scene_type() -> None:
    from ai_worker.model.manifest import SceneRecord

    def rule(kind: str) -> str:
        record: Any = SceneRecord(index=0, fingerprint="x", type=kind, text_lines=["a"], mode="t2v")
        return mode_rule(record, 0.6)

    assert "an 'intro' scene" in rule("intro") and "an 'outro' scene" in rule("outro")
    assert "a 'text_only' scene" in rule("text_only")
