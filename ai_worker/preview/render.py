"""`preview.mp4`: the whole post as its viewers will see it, built from the manifest's final scenes.

Per scene, in parallel (bounded by the machine's cores): the clip fitted to its narration by the
renderer's single pass (`prepare_clip_for_render`: loop or trim, scale, rate, format in one process) whole
into the layout's video area (never cropped), or, for a scene without a usable clip, a still (its image, or
a card in the mood's colours; the layout draws the title); and its subtitle pictures. Then one composition
pass puts it all on the 9:16 canvas with the narration. A clip already in the right shape is used as it is,
and a fitted clip from an earlier preview of the same clip is reused, so nothing is encoded twice.

Everything is written inside the post's folder: `preview.mp4` and the working folder `preview/`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ai_worker.core.errors import InputError, InvalidClipError, WaggleVideoError
from ai_worker.media.ffmpeg_runner import run_ffmpeg
from ai_worker.media.probe import ClipInfo, audio_duration, probe_clip, validate_clip
from ai_worker.media.video_utils import libx264_args, prepare_clip_for_render
from ai_worker.model.manifest import MANIFEST_NAME, ManifestStore
from ai_worker.model.styles import VideoStyles
from ai_worker.preview.compose import AudioPart, Overlay, Segment, build_compose_args
from ai_worker.preview.plan import PlannedScene, PreviewLayout, PreviewPlan, make_layout, plan_preview
from ai_worker.preview.text import find_korean_font, write_card_png, write_text_png
from config.settings import Settings

logger = logging.getLogger(__name__)

PREVIEW_NAME = "preview.mp4"
WORK_DIR = "preview"
COMPOSE_SECONDS_PER_VIDEO_SECOND = 4.0
"""Time the composition pass may take per second of preview, on top of FFMPEG_TIMEOUT (a slow CPU
encodes 1080x1920 at a few times real time; a hung FFmpeg still ends)."""

ProgressCallback = Callable[[int, int, str], None]
"""(steps done, steps in all, what was just done)."""


@dataclass
class ScenePicture:
    """What one scene shows in the preview, and how it got there."""

    position: int
    scene_index: int
    segment: Segment
    how: str
    """'fitted' (one pass), 'reused' (an earlier preview's), 'as is' (already the right shape) or 'card'."""
    card_reason: str | None = None
    overlays: list[Overlay] = field(default_factory=list)
    fit: str | None = None
    """How the clip was fitted into the area (see `describe_fit`); None for a card."""


@dataclass
class PreviewResult:
    path: Path
    plan: PreviewPlan
    pictures: list[ScenePicture]
    build_seconds: float
    clip_seconds: float
    """Total duration of the source clips (what the build time compares with)."""
    font: str | None
    notes: list[str] = field(default_factory=list)


FIT_VERSION = "whole-1"
"""Part of a fitted clip's key: fitted clips made by an older way of fitting (which cropped) are remade."""


def _part_key(source: Path, frames: int, layout: PreviewLayout, colour: str) -> str:
    stat = source.stat()
    raw = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{frames}|{layout.area.width}x{layout.area.height}"
    fill = layout.filler if layout.filler == "blur" else colour
    return hashlib.sha256(f"{raw}|{layout.fps}|{FIT_VERSION}|{fill}".encode()).hexdigest()[:16]


def describe_fit(clip: tuple[int, int], area: tuple[int, int], filler: str) -> str:
    """How a `clip`-sized picture is shown whole in `area`: its size there and where the filler shows.

    >>> describe_fit((720, 1280), (820, 462), "blurred")
    'whole: 720x1280 portrait clip shown 260x462 in the 820x462 area, blurred bands left and right'
    """
    (cw, ch), (aw, ah) = clip, area
    shape = "portrait" if ch > cw * 1.02 else "landscape" if cw > ch * 1.02 else "square"
    if abs(cw / ch - aw / ah) < 0.01 * (aw / ah):
        return f"whole: {cw}x{ch} {shape} clip scaled to fill the {aw}x{ah} area"
    scale = min(aw / cw, ah / ch)
    sw, sh = min(aw, 2 * round(cw * scale / 2)), min(ah, 2 * round(ch * scale / 2))
    bands = "left and right" if sw < aw else "above and below"
    return f"whole: {cw}x{ch} {shape} clip shown {sw}x{sh} in the {aw}x{ah} area, {filler} bands {bands}"


def _already_fitted(info: ClipInfo, frames: int, layout: PreviewLayout) -> bool:
    return (
        (info.width, info.height) == (layout.area.width, layout.area.height)
        and info.codec == "h264"
        and info.pix_fmt == "yuv420p"
        and abs(info.fps - layout.fps) < 0.01 * layout.fps
        and info.frames == frames
        and not info.has_audio
    )


class PreviewBuilder:
    """Builds one post's preview; one instance per build."""

    def __init__(
        self,
        folder: Path,
        settings: Settings,
        styles: VideoStyles,
        on_progress: ProgressCallback | None = None,
        *,
        subtitles: bool = True,
    ) -> None:
        self.folder = folder
        self.subtitles = subtitles
        self.settings = settings
        self.styles = styles
        self.on_progress = on_progress
        self.layout = make_layout(
            settings.preview_size,
            settings.preview_fps,
            area=settings.preview_area,
            box_width=settings.preview_box_width,
            background=settings.preview_background,
        )
        self.work = folder / WORK_DIR
        self.font = find_korean_font(settings.preview_font)
        self.notes: list[str] = []
        self._probes: dict[Path, ClipInfo | InvalidClipError] = {}
        self._done = 0
        self._total = 1

    def _probe(self, path: Path) -> ClipInfo:
        """`probe_clip`, once per clip per build (the plan, the fit and the clip total all ask)."""
        if path not in self._probes:
            try:
                self._probes[path] = probe_clip(path)
            except InvalidClipError as exc:
                self._probes[path] = exc
        found = self._probes[path]
        if isinstance(found, InvalidClipError):
            raise found
        return found

    def _clip_problem(self, path: Path) -> str | None:
        try:
            self._probe(path)
        except InvalidClipError as exc:
            return str(exc).removeprefix(f"{path}: ")
        return None

    def _step(self, label: str) -> None:
        self._done += 1
        if self.on_progress is not None:
            self.on_progress(self._done, self._total, label)

    async def build(self) -> PreviewResult:
        started = time.monotonic()
        store = ManifestStore(self.folder / MANIFEST_NAME)
        manifest = store.load()
        if manifest is None:
            raise InputError(f"{self.folder}: no {MANIFEST_NAME} here (run `wagglebot-video run` first)")
        plan = await asyncio.to_thread(
            plan_preview, manifest, fps=self.layout.fps, audio_seconds=audio_duration, clip_problem=self._clip_problem
        )
        if not plan.scenes:
            raise InputError(f"{store.path}: no scenes to preview")
        palette = self.styles.get(plan.mood).color_palette
        self._total = len(plan.scenes) + 1
        self._clear_stills()
        if self.font is None:
            self.notes.append("no font with Hangul found: subtitles and title left out (see README, Preview)")
        workers = self.settings.preview_workers or os.cpu_count() or 1
        gate = asyncio.Semaphore(workers)

        async def one(scene: PlannedScene) -> ScenePicture:
            async with gate:
                picture = await self._scene(scene, plan, palette)
            self._step(f"scene {scene.position}: {picture.how}")
            return picture

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(scene)) for scene in plan.scenes]
        pictures = [task.result() for task in tasks]
        self._remove_unused_parts(pictures)
        output = self.folder / PREVIEW_NAME
        await self._compose(plan, pictures, palette[0], output)
        self._step("composed")
        for scene in plan.scenes:
            self.notes += [f"scene {scene.position}: {line.note}" for line in scene.lines if line.note]
        return PreviewResult(
            path=output,
            plan=plan,
            pictures=pictures,
            build_seconds=time.monotonic() - started,
            clip_seconds=self._clip_seconds(plan),
            font=f"{self.font[0].name} ({self.font[1]})" if self.font else None,
            notes=self.notes,
        )

    # --- per scene ------------------------------------------------------------------------------------------

    async def _scene(self, scene: PlannedScene, plan: PreviewPlan, palette: list[str]) -> ScenePicture:
        overlays = await asyncio.to_thread(self._subtitles, scene)
        if scene.clip is not None:
            try:
                segment, how, fit = await self._fit(scene, palette[0])
                return ScenePicture(scene.position, scene.scene_index, segment, how, overlays=overlays, fit=fit)
            except WaggleVideoError as exc:
                reason = f"clip unusable: {exc}"
                logger.warning("preview, scene %d: %s; showing a card", scene.position, reason)
        else:
            reason = scene.card_reason or "no clip"
        still = self.work / "stills" / f"card_{scene.position:02d}.png"
        await asyncio.to_thread(
            write_card_png,
            still,
            (self.layout.area.width, self.layout.area.height),
            palette=palette,
            image=scene.image,
            # The layout draws the title over every scene; a card with it too showed it twice.
            title=plan.title if self.layout.title is None else "",
            font_path=self.font[0] if self.font else None,
        )
        segment = Segment(still, scene.frames, still=True)
        return ScenePicture(scene.position, scene.scene_index, segment, "card", reason, overlays)

    async def _fit(self, scene: PlannedScene, colour: str) -> tuple[Segment, str, str]:
        """The clip shown whole in the area (never cropped): scaled to fit, the room it leaves filled by a
        blurred copy of it or the mood's colour. Returns the segment, how it was made and how it was fitted."""
        assert scene.clip is not None
        info = await asyncio.to_thread(self._probe, scene.clip)
        area = self.layout.area
        blur = self.layout.filler == "blur"
        fit = describe_fit((info.width, info.height), (area.width, area.height), "blurred" if blur else "mood-colour")
        if _already_fitted(info, scene.frames, self.layout):
            return Segment(scene.clip, scene.frames), "as is", fit
        key = _part_key(scene.clip, scene.frames, self.layout, colour)
        part = self.work / "parts" / f"scene_{scene.position:02d}_{key}.mp4"
        if part.exists():
            try:
                await asyncio.to_thread(
                    validate_clip, part, width=area.width, height=area.height, fps=self.layout.fps,
                    min_frames=scene.frames,
                )
                return Segment(part, scene.frames), "reused", fit
            except InvalidClipError:
                part.unlink()
        await prepare_clip_for_render(
            scene.clip,
            part,
            target_duration=scene.frames / self.layout.fps,
            width=area.width,
            height=area.height,
            fps=self.layout.fps,
            fit="contain_blur" if blur else "contain",
            pad_color=f"0x{colour.lstrip('#')}",
            binary=self.settings.ffmpeg_binary,
            timeout=self.settings.ffmpeg_timeout,
            preset=self.settings.ffmpeg_preset,
            crf=self.settings.ffmpeg_crf,
        )
        return Segment(part, scene.frames), "fitted", fit

    def _subtitles(self, scene: PlannedScene) -> list[Overlay]:
        if self.font is None or not self.subtitles:
            return []
        band = self.layout.subtitle
        size = max(16, round(self.layout.height * 0.032))
        overlays: list[Overlay] = []
        for number, line in enumerate(scene.lines):
            if not line.text.strip():
                continue
            target = self.work / "stills" / f"sub_{scene.position:02d}_{number:02d}.png"
            x, y = write_text_png(line.text, self.font[0], band, target, size=size)
            overlays.append(Overlay(target, x, y, line.start_frame, line.end_frame))
        return overlays

    def _title(self, title: str) -> list[Overlay]:
        band = self.layout.title
        if self.font is None or band is None or not title.strip():
            return []
        target = self.work / "stills" / "title.png"
        size = max(16, round(self.layout.height * 0.036))
        x, y = write_text_png(title, self.font[0], band, target, size=size, panel=False)
        return [Overlay(target, x, y)]

    # --- the composition ------------------------------------------------------------------------------------

    async def _compose(self, plan: PreviewPlan, pictures: list[ScenePicture], colour: str, output: Path) -> None:
        overlays = await asyncio.to_thread(self._title, plan.title)
        for picture in pictures:
            overlays += picture.overlays
        audio: list[AudioPart] = []
        for scene in plan.scenes:
            for line in scene.lines:
                audio.append(AudioPart(plan.samples(line.end_frame) - plan.samples(line.start_frame), line.audio))
            if not scene.lines:
                end = scene.start_frame + scene.frames
                audio.append(AudioPart(plan.samples(end) - plan.samples(scene.start_frame)))
        args = build_compose_args(
            self.layout,
            [picture.segment for picture in pictures],
            overlays,
            audio,
            colour=colour,
            codec=libx264_args(self.settings.ffmpeg_preset, self.settings.ffmpeg_crf),
        )
        layout = self.layout

        def verify(part: Path) -> None:
            validate_clip(part, width=layout.width, height=layout.height, fps=layout.fps, min_frames=plan.total_frames)

        timeout = self.settings.ffmpeg_timeout + COMPOSE_SECONDS_PER_VIDEO_SECOND * plan.seconds
        await run_ffmpeg(args, timeout=timeout, binary=self.settings.ffmpeg_binary, output=output, verify=verify)

    # --- housekeeping (only files this module writes, only in its own folder) --------------------------------

    def _clear_stills(self) -> None:
        stills = self.work / "stills"
        if stills.is_dir():
            for old in stills.glob("*.png"):
                old.unlink()

    def _remove_unused_parts(self, pictures: list[ScenePicture]) -> None:
        used = {picture.segment.path for picture in pictures}
        parts = self.work / "parts"
        if parts.is_dir():
            for old in parts.glob("scene_*.mp4"):
                if old not in used:
                    old.unlink()

    def _clip_seconds(self, plan: PreviewPlan) -> float:
        """From the probes the plan already made (a clip deleted since then still counts what it held)."""
        return sum(
            found.duration
            for scene in plan.scenes
            if scene.clip is not None and isinstance(found := self._probes.get(scene.clip), ClipInfo)
        )


async def build_preview(
    folder: Path,
    settings: Settings,
    styles: VideoStyles,
    *,
    on_progress: ProgressCallback | None = None,
    subtitles: bool = True,
) -> PreviewResult:
    """Build `folder/preview.mp4` from `folder/manifest.json` (see the module's docstring)."""
    return await PreviewBuilder(folder, settings, styles, on_progress, subtitles=subtitles).build()
