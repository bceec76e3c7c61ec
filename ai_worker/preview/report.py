"""Writing `report.html` for a post folder, and `index.html` for a batch (the page itself: `report_html`).

Thumbnails are the first, middle and last frame of each clip, decoded in-process in one pass per clip (in
parallel within the machine's cores), scaled and inlined as data: URIs; nothing is written beside the
report. A clip that is missing or unreadable is marked on its scene's card, never an error.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageOps

from ai_worker.core.atomic import write_text_atomic
from ai_worker.core.errors import InputError, InvalidClipError
from ai_worker.images.normalize import to_rgb
from ai_worker.media.probe import probe_clip, read_frames
from ai_worker.model.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestStore,
    ManifestSummary,
    SceneRecord,
    summarize,
)
from ai_worker.model.manifest_paths import relative_to_folder
from ai_worker.preview.font_subset import font_face_css
from ai_worker.preview.render import PREVIEW_NAME, PreviewResult
from ai_worker.preview.report_html import (
    IndexRow,
    ReportView,
    SceneView,
    Thumb,
    embed_font,
    render_index,
    render_report,
)
from ai_worker.preview.text import find_korean_font, load_image
from config.settings import Settings

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"
INDEX_NAME = "index.html"
THUMB_WIDTH = 320
IMAGE_THUMB_SIDE = 400


def record_run_summary(folder: Path, *, run_started_at: float, run_finished_at: float | None = None) -> ManifestSummary:
    """Count what the run that started at `run_started_at` did and keep it in the manifest's `summary`."""
    store = ManifestStore(folder / MANIFEST_NAME)
    manifest = _load(store)
    finished = run_finished_at if run_finished_at is not None else time.time()
    manifest.summary = summarize(manifest, run_started_at=run_started_at, run_finished_at=finished)
    store.save(manifest)
    return manifest.summary


def _load(store: ManifestStore) -> Manifest:
    manifest = store.load()
    if manifest is None:
        raise InputError(f"{store.folder}: no {MANIFEST_NAME} here (run `wagglebot-video run` first)")
    return manifest


def thumbnail_frames(frames: int) -> list[tuple[str, int]]:
    """(label, frame index) of the first, middle and last frame."""
    last = max(0, frames - 1)
    return [("first", 0), ("middle", last // 2), ("last", last)]


def _jpeg_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    # Frames and card pictures arrive as RGB already; anything else is flattened the one way (on white).
    to_rgb(picture).save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _thumb_uri(picture: Image.Image) -> str:
    """`THUMB_WIDTH` wide, the height kept in proportion (and even, as FFmpeg's scale=W:-2 made it)."""
    height = max(2, 2 * round(picture.height * THUMB_WIDTH / picture.width / 2))
    return _jpeg_uri(picture.resize((THUMB_WIDTH, height), Image.Resampling.BILINEAR))


def _image_uri(path: Path | None) -> str | None:
    picture = load_image(path)
    if picture is None:
        return None
    return _jpeg_uri(ImageOps.contain(picture, (IMAGE_THUMB_SIDE, IMAGE_THUMB_SIDE), Image.Resampling.LANCZOS))


def _frame_uris(clip: Path, frames: list[tuple[str, int]]) -> list[Thumb]:
    pictures = read_frames(clip, [frame for _, frame in frames])
    return [Thumb(label, _thumb_uri(pictures[frame])) for label, frame in frames]


async def _scene_view(record: SceneRecord, gate: asyncio.Semaphore, folder: Path) -> SceneView:
    view = SceneView(record)
    view.image_uri = await asyncio.to_thread(_image_uri, Path(record.image_path) if record.image_path else None)
    if not record.clip_path:
        return view
    clip = Path(record.clip_path)
    view.clip_label = relative_to_folder(record.clip_path, folder)
    try:
        info = await asyncio.to_thread(probe_clip, clip)
    except InvalidClipError as exc:
        view.clip_problem = str(exc).removeprefix(f"{clip}: ")
        return view
    try:
        async with gate:
            view.thumbs = await asyncio.to_thread(_frame_uris, clip, thumbnail_frames(info.frames))
    except InvalidClipError as exc:
        view.clip_problem = f"no thumbnails: {str(exc).removeprefix(f'{clip}: ')}"
    return view


def _poster(preview: Path) -> str | None:
    """One second into the preview (its first line is on screen by then), as a data: URI; None if unreadable."""
    try:
        info = probe_clip(preview)
        frame = min(info.frames - 1, round(info.fps))
        return _thumb_uri(read_frames(preview, [frame])[frame])
    except InvalidClipError as exc:
        logger.warning("no poster for %s: %s", preview, exc)
        return None


def _preview_notes(preview: PreviewResult) -> tuple[dict[int, str], list[str], str]:
    by_scene: dict[int, str] = {}
    for picture in preview.pictures:
        if picture.how == "card":
            by_scene[picture.scene_index] = f"shown as a card ({picture.card_reason})"
        else:
            fit = f"; {picture.fit}" if picture.fit else ""
            by_scene[picture.scene_index] = f"clip {picture.how}{fit}"
    build = (f"{preview.plan.total_frames} frames, {preview.plan.seconds:.1f} s at {preview.plan.fps} fps; "
             f"built in {preview.build_seconds:.1f} s (source clips {preview.clip_seconds:.1f} s); "
             f"font: {preview.font or 'none'}")
    return by_scene, list(preview.notes), build


async def write_report(folder: Path, settings: Settings, *, preview: PreviewResult | None = None) -> Path:
    """Write `folder/report.html` from `folder/manifest.json` (and the preview, when there is one)."""
    store = ManifestStore(folder / MANIFEST_NAME)
    manifest = _load(store)
    summary = manifest.summary or summarize(manifest, run_started_at=None, run_finished_at=None)
    gate = asyncio.Semaphore(settings.preview_workers or os.cpu_count() or 1)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_scene_view(r, gate, folder)) for r in manifest.scenes]
    scenes = [task.result() for task in tasks]
    view = ReportView(manifest, summary, scenes, threshold=settings.video_i2v_threshold)
    if (folder / PREVIEW_NAME).is_file():
        view.preview_src = PREVIEW_NAME
        view.poster = await asyncio.to_thread(_poster, folder / PREVIEW_NAME)
    else:
        view.preview_command = f"wagglebot-video preview {shlex.quote(str(folder))}"
    if preview is not None:
        by_scene, view.preview_notes, view.preview_build = _preview_notes(preview)
        for scene in scenes:
            scene.preview_note = by_scene.get(scene.record.index)
    target = folder / REPORT_NAME
    page = await asyncio.to_thread(_with_font, render_report(view), settings.preview_font)
    await asyncio.to_thread(write_text_atomic, target, page)
    return target


def _with_font(page: str, configured: Path | None) -> str:
    found = find_korean_font(configured)
    return embed_font(page, font_face_css(found[0] if found else None, page))


def write_index(out_dir: Path, post_dirs: Sequence[Path], *, font: Path | None = None) -> Path:
    """Write `out_dir/index.html` linking every post's report (a batch run calls it once at the end)."""
    rows: list[IndexRow] = []
    for folder in post_dirs:
        href = relative_to_folder(str(folder / REPORT_NAME), out_dir)
        try:
            manifest = ManifestStore(folder / MANIFEST_NAME).load()
        except InputError as exc:
            rows.append(IndexRow(href, folder.name, folder.name, None, str(exc)))
            continue
        if manifest is None:
            rows.append(IndexRow(href, folder.name, folder.name, None, f"no {MANIFEST_NAME}"))
            continue
        summary = manifest.summary or summarize(manifest, run_started_at=None, run_finished_at=None)
        rows.append(IndexRow(href, manifest.post_id, manifest.title, summary))
    target = out_dir / INDEX_NAME
    write_text_atomic(target, _with_font(render_index(rows), font))
    return target
