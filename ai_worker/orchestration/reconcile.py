"""Reconciling a post's manifest with its scenes: which record belongs to which scene, and where each scene
starts in this run (skipped, clip reused, failed for good, or queued at a rung, maybe re-attaching to an
earlier run's prompt). Also the reuse of Phase 6 prompts saved by an earlier run.

Scenes are matched to records by `scene_identity.scene_fingerprint` (content and clip settings, not the
prompt text). A record's clip counts for its scene only while it was made from the scene's current prompt:
a prompt refreshed on purpose makes the clip again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ai_worker.core.errors import WaggleVideoError
from ai_worker.media.probe import validate_clip
from ai_worker.model.manifest import Manifest, PendingPrompt, SceneRecord
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.scene_identity import scene_fingerprint

logger = logging.getLogger(__name__)

RETRIED_BY_ITSELF = ("unavailable", "external")
"""Failure kinds a re-run tries again without being asked: the cause was outside the scene."""

StartKind = Literal["skip", "reuse", "failed", "queue"]


@dataclass
class SceneStart:
    """Where one scene starts in this run."""

    kind: StartKind
    reason: str | None = None
    rung_pos: int = 0
    resume: PendingPrompt | None = None
    clip: Path | None = None
    new: bool = False
    """A failure found now (not one an earlier run recorded)."""


def build_records(
    old: Manifest | None, scenes: list[SceneDecision], *, post_id: str, title: str, mood: str,
    payload: dict[str, object], settings_fingerprint: str,
) -> Manifest:
    """A manifest with one record per scene, in scene order: the earlier run's record for an unchanged scene
    (its attempts, clip and pending prompt kept), a new one otherwise. The scene's current facts are copied
    in; records of scenes that are gone are dropped."""
    previous = old.by_fingerprint() if old is not None else {}
    if old is not None:
        manifest = old.model_copy(update={"title": title, "mood": mood, "final_scenes": []})
    else:
        manifest = Manifest(post_id=post_id, title=title, mood=mood)
    manifest.settings_fingerprint = settings_fingerprint
    records: list[SceneRecord] = []
    for index, scene in enumerate(scenes):
        fp = scene_fingerprint(scene, mood, payload)
        record = previous.pop(fp, None) or SceneRecord(index=index, fingerprint=fp, type=scene.type)
        record.index = index
        record.type = scene.type
        record.text_lines = list(scene.text_lines)
        record.image_url = scene.image_url
        record.image_path = scene.image_path or scene.video_init_image
        record.image_score = scene.image_score
        record.image_category = scene.image_category
        record.image_reasons = list(scene.image_reasons)
        record.mode = scene.video_mode
        record.prompt = scene.video_prompt
        record.prompt_simple = scene.video_prompt_simple
        record.prompt_source = scene.prompt_source
        record.input_error = scene.input_error
        record.merged_into = None
        record.merged_from = []
        records.append(record)
    manifest.scenes = records
    return manifest


def reuse_saved_prompts(
    old: Manifest | None, scenes: list[SceneDecision], *, mood: str, payload: dict[str, object]
) -> list[SceneDecision]:
    """Give every unchanged scene the Phase 6 prompts an earlier run saved; returns the scenes that still
    need prompts (those with a video mode and nothing saved)."""
    saved = old.by_fingerprint() if old is not None else {}
    needing: list[SceneDecision] = []
    for scene in scenes:
        if scene.video_mode not in ("t2v", "i2v"):
            continue
        record = saved.get(scene_fingerprint(scene, mood, payload))
        if record is not None and record.prompt and record.prompt.strip():
            scene.video_prompt = record.prompt
            scene.video_prompt_simple = record.prompt_simple
            scene.prompt_source = record.prompt_source
        else:
            needing.append(scene)
    return needing


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


async def _still_valid(record: SceneRecord) -> bool:
    if not record.clip_path:
        return False
    ok = [a for a in record.attempts if a.ok]
    params = ok[-1].params if ok else {}
    try:
        await asyncio.to_thread(
            validate_clip, Path(record.clip_path), width=_int_or_none(params.get("width")),
            height=_int_or_none(params.get("height")), min_frames=_int_or_none(params.get("num_frames")),
            fps=_int_or_none(params.get("fps")),
        )
    except WaggleVideoError as exc:
        logger.info("scene %d: earlier clip %s no longer validates (%s); making it again", record.index,
                    record.clip_path, exc)
        return False
    return True


def _reset(record: SceneRecord, rung_pos: int) -> None:
    record.status = "pending"
    record.clip_path = None
    record.pending = None
    record.clip_prompt = None
    record.next_rung = rung_pos


async def plan_starts(
    manifest: Manifest, scenes: list[SceneDecision], *, max_clips: int, ladder_len: int, retry_failed: bool
) -> list[SceneStart]:
    """One `SceneStart` per scene, updating the records (status, reuse and retry notes) to match."""
    starts: list[SceneStart] = []
    clips_left = max_clips
    for scene, record in zip(scenes, manifest.scenes, strict=True):
        record.reused = False
        record.retried = None
        if scene.video_mode is None:
            starts.append(SceneStart("skip", "no video mode (scene stays static)"))
            continue
        if not (scene.video_prompt or "").strip():
            starts.append(SceneStart("skip", "no video prompt from Phase 6 (scene stays static)"))
            continue
        if clips_left <= 0:
            starts.append(SceneStart("skip", f"over VIDEO_MAX_CLIPS_PER_POST ({max_clips})"))
            continue
        clips_left -= 1
        if record.clip_prompt is not None and record.clip_prompt != scene.video_prompt:
            logger.info("scene %d: its prompt was refreshed; the clip is made again", record.index)
            _reset(record, 0)
        if record.status == "done":
            if await _still_valid(record):
                record.reused = True
                starts.append(SceneStart("reuse", clip=Path(record.clip_path or "")))
                continue
            ok = [a.rung for a in record.attempts if a.ok]
            _reset(record, max(0, (ok[-1] if ok else 1) - 1))
        if record.status == "failed":
            kind = record.failure_kind or "fatal"
            if retry_failed:
                record.retried = f"--retry-failed (was {kind}: {record.failure_reason})"
                record.next_rung = 0 if kind == "exhausted" else record.next_rung
            elif kind in RETRIED_BY_ITSELF:
                record.retried = f"failed earlier for a reason outside the scene ({kind}: {record.failure_reason})"
            else:
                starts.append(SceneStart("failed", record.failure_reason or "failed in an earlier run"))
                continue
        record.skip_reason = None
        record.failure_reason = None
        record.failure_kind = None
        record.status = "pending"
        if scene.video_mode == "i2v" and not (scene.video_init_image and Path(scene.video_init_image).is_file()):
            starts.append(SceneStart(
                "failed", f"scene {record.index}: image-to-video init image {scene.video_init_image!r} is missing",
                new=True))
            record.status = "failed"
            record.failure_kind = "fatal"
            record.failure_reason = starts[-1].reason
            continue
        starts.append(SceneStart("queue", rung_pos=min(record.next_rung, ladder_len - 1), resume=record.pending))
    return starts
