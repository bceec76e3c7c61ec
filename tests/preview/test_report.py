"""report.html and index.html: written from a real post folder, parsed, and opened in a real headless Chromium."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ai_worker.model.styles import load_video_styles
from ai_worker.preview.render import build_preview
from ai_worker.preview.report import REPORT_NAME, record_run_summary, thumbnail_frames, write_index, write_report
from config.settings import Settings
from tests.browser import check_page
from tests.fakes.settings import tiny_clip_settings
from tests.preview.post_folder import files_outside, make_post_folder

PAGE_FACTS = """(() => {
  const imgs = [...document.images];
  return {
    images: imgs.map(i => [i.complete, i.naturalWidth, i.alt]),
    cards: document.querySelectorAll('article.scene').length,
    videos: [...document.querySelectorAll('video')].map(v => v.getAttribute('src')),
    korean: document.fonts.check('16px WaggleKR', '게시물'),
    problems: document.querySelectorAll('.badge.problem').length,
  };
})()"""


def _settings() -> Settings:
    return tiny_clip_settings(ffmpeg_timeout=120.0, preview_size=(270, 480))


def test_thumbnail_frames_are_first_middle_last() -> None:
    assert thumbnail_frames(17) == [("first", 0), ("middle", 8), ("last", 16)]
    assert thumbnail_frames(1) == [("first", 0), ("middle", 0), ("last", 0)]


async def test_report_marks_every_scene_escapes_text_and_counts(tmp_path: Path) -> None:
    post = make_post_folder(tmp_path, title="<script>alert('제목')</script> & 후기")
    record_run_summary(post.folder, run_started_at=0.0, run_finished_at=12.5)
    Path(post.manifest.scenes[1].clip_path or "").write_bytes(b"garbage" * 50)
    before = files_outside(tmp_path, post.folder)
    page = (await write_report(post.folder, _settings())).read_text(encoding="utf-8")
    assert files_outside(tmp_path, post.folder) == before
    assert page.startswith("<!doctype html>") and '<meta charset="utf-8">' in page
    assert "<script>" not in page and html.escape("<script>alert('제목')</script> & 후기") in page
    assert page.count('<article class="scene"') == 4
    assert len(re.findall(r'<img src="data:image/jpeg;base64,', page)) == 3 + 2  # scene 0's frames, two images
    assert "clip missing or unreadable" in page and "clips/scene_01.mp4" in page
    assert "boom &lt;script&gt;" in page  # the attempt's error, escaped
    assert "merged into scene 1" in page and "holds the lines of scene(s) 2" in page
    assert re.search(r"<b>2</b>made", page) and re.search(r"<b>12.5 s</b>total time", page)
    assert "@font-face" in page or "WaggleKR" in page


async def test_report_opens_in_chromium_with_every_thumbnail_and_card(tmp_path: Path) -> None:
    post = make_post_folder(tmp_path)
    settings = _settings()
    preview = await build_preview(post.folder, settings, load_video_styles(Settings(_env_file=None).video_styles_path))
    Path(post.manifest.scenes[0].clip_path or "").unlink()  # after the preview: the report must mark it
    report = await write_report(post.folder, settings, preview=preview)
    check = await check_page(report, PAGE_FACTS, tmp_path / "profile")
    (tmp_path / "report.png").write_bytes(check.screenshot)
    facts = check.value
    assert check.errors == []
    assert facts["cards"] == len(post.manifest.scenes) == 4
    assert facts["images"] and all(complete and width > 0 for complete, width, _ in facts["images"])
    assert facts["videos"] == ["preview.mp4"]
    assert facts["problems"] == 1
    assert facts["korean"], "the embedded Korean font is loaded"
    with Image.open(tmp_path / "report.png") as shot:
        pixels = np.asarray(shot.convert("L"))
    assert shot.size == (1200, 2000) and pixels.std() > 10, "the screenshot shows a page, not a blank"


async def test_index_links_each_posts_report(tmp_path: Path) -> None:
    first = make_post_folder(tmp_path / "a")
    (first.root / "broken").mkdir()
    (first.root / "broken" / "manifest.json").write_text("{not json", encoding="utf-8")
    index = write_index(first.root, [first.folder, first.root / "broken"])
    page = index.read_text(encoding="utf-8")
    assert f'href="t_post/{REPORT_NAME}"' in page and "테스트 게시물 제목" in page
    assert "not a readable manifest" in page
    check = await check_page(index, "document.querySelectorAll('table.posts tr').length", tmp_path / "profile")
    assert check.errors == [] and check.value == 3
