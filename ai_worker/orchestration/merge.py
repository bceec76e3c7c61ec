"""Merging failed scenes away without losing a word (docs/spec.md, 10, with the fixes in docs/design.md).

A scene whose clip could not be made is removed, and its script lines go to a surviving scene:

1. append to the nearest surviving scene before it;
2. when none is before it (leading failures), prepend to the first surviving scene after it, all leading
   failures in their story order;
3. any scene that was not a failure survives and can take lines, with a clip or without one;
4. when no scene survives, one text-only scene keeps every line.

So the concatenated lines after merging always equal those before, in order. The plan is computed by a
pure function on indices; `apply_merge` carries it out on `SceneDecision`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ai_worker.model.scene import SceneDecision, TextLine


@dataclass(frozen=True)
class MergePlan:
    """Which scenes survive and where every failed scene's lines go (indices are the input positions)."""

    kept: list[int]
    """Surviving scenes, in story order. When every scene failed it is ``[first index]``: that scene becomes
    the text-only scene that keeps all lines."""
    targets: dict[int, int] = field(default_factory=dict)
    """Failed index -> the kept index that received its lines."""
    sources: dict[int, list[int]] = field(default_factory=dict)
    """Kept index -> every input index whose lines it now holds, in story order (itself included)."""
    collapsed: bool = False
    """True when no scene survived and one text-only scene holds everything."""


def plan_merge(failed: Sequence[bool]) -> MergePlan:
    """Plan the merge for scenes whose failure flags are `failed` (in story order)."""
    count = len(failed)
    if count == 0:
        return MergePlan(kept=[])
    survivors = [i for i in range(count) if not failed[i]]
    if not survivors:
        first = 0
        return MergePlan(
            kept=[first],
            targets={i: first for i in range(1, count)},
            sources={first: list(range(count))},
            collapsed=True,
        )
    targets: dict[int, int] = {}
    previous: int | None = None
    leading: list[int] = []
    for i in range(count):
        if not failed[i]:
            if previous is None:
                for lead in leading:
                    targets[lead] = i
            previous = i
        elif previous is None:
            leading.append(i)
        else:
            targets[i] = previous
    sources = {k: sorted([k, *(i for i, t in targets.items() if t == k)]) for k in survivors}
    return MergePlan(kept=survivors, targets=targets, sources=sources)


def merged_lines(lines: Sequence[Sequence[TextLine]], plan: MergePlan) -> dict[int, list[TextLine]]:
    """Each kept scene's lines after the merge: its sources' lines concatenated in story order."""
    return {k: [line for src in plan.sources[k] for line in lines[src]] for k in plan.kept}


def apply_merge(scenes: list[SceneDecision], failed: Sequence[bool]) -> MergePlan:
    """Remove failed scenes from `scenes` in place, moving their lines as `plan_merge` says; return the plan."""
    if len(failed) != len(scenes):
        raise ValueError(f"merge: {len(failed)} failure flags for {len(scenes)} scenes")
    plan = plan_merge(failed)
    new_lines = merged_lines([scene.text_lines for scene in scenes], plan)
    survivors: list[SceneDecision] = []
    for k in plan.kept:
        scene = scenes[k]
        scene.text_lines = new_lines[k]
        if plan.collapsed:
            # No clip survived: the scene is now a plain text scene carrying the whole script.
            scene.type = "text_only"
            scene.image_url = None
            scene.video_mode = None
            scene.video_clip_path = None
            scene.video_init_image = None
            scene.video_generation_failed = False
        survivors.append(scene)
    scenes[:] = survivors
    return plan
