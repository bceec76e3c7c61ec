"""The end of a post's Phase 7: results per scene, failed scenes merged into survivors (no line lost), the
final scenes written to the manifest, and clips no scene references any more removed."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ai_worker.model.manifest import FinalScene, Manifest
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.events import VideoGenerationResult
from ai_worker.orchestration.merge import MergePlan, apply_merge

logger = logging.getLogger(__name__)

CLIP_NAME = re.compile(r"scene_\d+_[0-9a-f]{16}_r\d+(?:_t\d+)?\.mp4")
"""The names this stage gives its clips (see `post_run.PostRun.clip_path`); nothing else is ever removed."""


def merge_results(scenes: list[SceneDecision], results: list[VideoGenerationResult]) -> MergePlan:
    """Remove failed scenes from `scenes` (in place), their lines going to survivors (see `merge`);
    `results` must be one per scene in the same order, and get their `merged_into` set."""
    if len(results) != len(scenes):
        raise ValueError(f"merge: {len(results)} results for {len(scenes)} scenes")
    failed = [not r.success and not r.skipped for r in results]
    plan = apply_merge(scenes, failed)
    for failed_pos, target_pos in plan.targets.items():
        results[failed_pos].merged_into = results[target_pos].scene_index
    return plan


def write_final_scenes(manifest: Manifest, scenes: list[SceneDecision], plan: MergePlan) -> None:
    """Merge notes on the records and the renderer's scene list, from the merged `scenes`."""
    by_index = {record.index: record for record in manifest.scenes}
    for failed, target in plan.targets.items():
        by_index[failed].merged_into = target
    final: list[FinalScene] = []
    for kept, scene in zip(plan.kept, scenes, strict=True):
        sources = plan.sources.get(kept, [kept])
        by_index[kept].merged_from = [s for s in sources if s != kept]
        final.append(FinalScene(
            clip_path=scene.video_clip_path, text_lines=list(scene.text_lines), source_indices=sources,
            type=scene.type,
        ))
    manifest.final_scenes = final


def remove_superseded_clips(manifest: Manifest, clips_dir: Path) -> list[Path]:
    """Delete the stage's own clips in `clips_dir` that no record of `manifest` references (a changed scene's
    old clip, a failed attempt's output); returns what was removed."""
    if not clips_dir.is_dir():
        return []
    keep: set[Path] = set()
    for record in manifest.scenes:
        if record.clip_path:
            keep.add(Path(record.clip_path).resolve())
    removed: list[Path] = []
    for path in sorted(clips_dir.iterdir()):
        if not CLIP_NAME.fullmatch(path.name) or not path.is_file() or path.resolve() in keep:
            continue
        try:
            path.unlink()
        except OSError as exc:
            logger.warning("could not remove superseded clip %s: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        logger.info("removed %d superseded clip(s) from %s", len(removed), clips_dir)
    return removed
