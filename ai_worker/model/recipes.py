"""Sampling recipes: how a clip is sampled at each rung of the fallback ladder, declared once.

A recipe says, per rung, which passes run (one, or two around the x2 latent upscaler), at what fraction of
the output size, on which checkpoint, with which schedule and CFG. `VIDEO_RECIPE` picks one. The graphs
that carry a recipe out are the workflow files `ai_worker.comfy.workflows.workflow_name_for` names (one
per mode, checkpoint and stage count); this module is pure data so that the orchestration can record every
attempt's stages in the manifest without knowing ComfyUI (docs/architecture.md).

* ``distilled-two-stage`` (default): Lightricks' recommended pipeline (``ltx-pipelines``' distilled
  two-stage): stage 1 at half size, distilled model, the official 8 sigmas, CFG 1; the x2 spatial latent
  upscaler; stage 2 at full size on the stage-2 sigmas (3 steps), CFG 1. About 8.6x less transformer work
  than the spec's single pass for the same output (``python -m bench.gpu_cost``).
* ``dev-two-stage``: ComfyUI's own LTX-2 template: stage 1 at half size, dev model, ``LTXVScheduler``
  20 steps, CFG 4; the upscaler; stage 2 the dev model with the distilled LoRA (strength 1), stage-2
  sigmas, CFG 1. For quality.
* ``single-pass``: the spec's (docs/spec.md 9): the dev model at full size, VIDEO_STEPS, VIDEO_CFG.

The ladder keeps its meaning in every recipe: 1 full, 2 the simplified prompt, 3 downscaled (the fallback
size and frames, fewer steps where steps are free), 4 the cheapest: one distilled pass, no upscaler, no
LoRA (so it still runs when an upscaler or LoRA file is what broke); in the two-stage recipes at half the
fallback size, as their stage 1 would have run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ai_worker.model.backend import ModelVariant, Stage

RecipeName = Literal["distilled-two-stage", "dev-two-stage", "single-pass"]
RECIPES: tuple[RecipeName, ...] = ("distilled-two-stage", "dev-two-stage", "single-pass")
DEFAULT_RECIPE: RecipeName = "distilled-two-stage"

DISTILLED_SIGMAS: tuple[float, ...] = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
"""The distilled model's fixed 8-step schedule (``DISTILLED_SIGMA_VALUES`` in Lightricks' ltx-pipelines)."""
STAGE_2_SIGMAS: tuple[float, ...] = (0.909375, 0.725, 0.421875, 0.0)
"""Stage 2's refinement after the x2 upscaler, 3 steps (``STAGE_2_DISTILLED_SIGMA_VALUES``)."""
TEMPLATE_DEV_STEPS = 20
TEMPLATE_DEV_CFG = 4.0
"""ComfyUI's LTX-2 dev template, stage 1: ``LTXVScheduler`` 20 steps, CFG 4."""
HALF = 0.5


@dataclass(frozen=True)
class StageSpec:
    """One pass of a recipe, sized as a fraction of the clip's output size."""

    scale: float
    model: ModelVariant
    steps: int
    cfg: float
    sigmas: tuple[float, ...] | None = None
    distilled_lora: bool = False

    def at(self, width: int, height: int) -> Stage:
        """The pass for an output of `width` x `height` (two-stage sizes are multiples of 64, so a half is
        a whole multiple of 32)."""
        return Stage(round(width * self.scale), round(height * self.scale), self.model, self.steps, self.cfg,
                     self.sigmas, self.distilled_lora)


@dataclass(frozen=True)
class RecipeRung:
    """A recipe at one rung: its passes, the size multiple they need and the output size's scale."""

    recipe: RecipeName
    stages: tuple[StageSpec, ...]
    size_scale: float = 1.0
    """Of the rung's size (VIDEO_RESOLUTION or the fallback): 0.5 for the cheapest rung of a two-stage recipe."""

    @property
    def size_multiple(self) -> int:
        return 64 if len(self.stages) == 2 else 32

    @property
    def model(self) -> ModelVariant:
        """The checkpoint the graph loads (every pass of a recipe uses one)."""
        return self.stages[0].model

    def stages_at(self, width: int, height: int) -> tuple[Stage, ...]:
        return tuple(spec.at(width, height) for spec in self.stages)


def _distilled_pass(scale: float = 1.0) -> StageSpec:
    return StageSpec(scale, "distilled", len(DISTILLED_SIGMAS) - 1, 1.0, DISTILLED_SIGMAS)


def recipe_rung(
    recipe: RecipeName, number: int, *, steps: int, cfg: float, cfg_distilled: float = 1.0
) -> RecipeRung:
    """`recipe` at rung `number` (1-4). `steps` and `cfg` are the rung's own (VIDEO_STEPS or
    VIDEO_STEPS_FALLBACK, VIDEO_CFG): the single pass takes both; `dev-two-stage` takes the steps of its
    stage 1 (its CFG is the template's); the distilled passes have a fixed schedule and take neither."""
    if number not in (1, 2, 3, 4):
        raise ValueError(f"rung {number} does not exist (1-4)")
    stage_2 = StageSpec(1.0, "distilled", len(STAGE_2_SIGMAS) - 1, 1.0, STAGE_2_SIGMAS)
    if recipe == "single-pass":
        if number == 4:
            return RecipeRung(recipe, (StageSpec(1.0, "distilled", len(DISTILLED_SIGMAS) - 1, cfg_distilled,
                                                 DISTILLED_SIGMAS),))
        return RecipeRung(recipe, (StageSpec(1.0, "full", steps, cfg),))
    if number == 4:
        return RecipeRung(recipe, (_distilled_pass(),), size_scale=HALF)
    if recipe == "distilled-two-stage":
        return RecipeRung(recipe, (_distilled_pass(HALF), stage_2))
    if recipe == "dev-two-stage":
        dev_steps = TEMPLATE_DEV_STEPS if number < 3 else steps
        return RecipeRung(recipe, (
            StageSpec(HALF, "full", dev_steps, TEMPLATE_DEV_CFG),
            StageSpec(1.0, "full", stage_2.steps, 1.0, STAGE_2_SIGMAS, distilled_lora=True),
        ))
    raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
