"""Which bundled workflow file carries out a mode, a checkpoint and a recipe's passes (`model.recipes`).

Kept apart from `workflows` (loading and patching graphs) because `doctor` asks it too: which files a recipe
needs on a server.
"""

from __future__ import annotations

from ai_worker.core.errors import WorkflowError
from ai_worker.model.backend import GenerationMode, ModelVariant
from ai_worker.model.recipes import RecipeName, recipe_rung

_WORKFLOW_NAMES: dict[tuple[GenerationMode, ModelVariant, bool], str] = {
    ("t2v", "full", False): "t2v_ltx2.json",
    ("t2v", "distilled", False): "t2v_ltx2_distilled.json",
    ("i2v", "full", False): "i2v_ltx2.json",
    ("i2v", "distilled", False): "i2v_ltx2_distilled.json",
    ("t2v", "distilled", True): "t2v_ltx2_upscale.json",
    ("i2v", "distilled", True): "i2v_ltx2_upscale.json",
    ("t2v", "full", True): "t2v_ltx2_dev_upscale.json",
    ("i2v", "full", True): "i2v_ltx2_dev_upscale.json",
}
"""One graph per mode, checkpoint and stage count (`model.recipes`): ``*_upscale`` is the distilled
two-stage pipeline, ``*_dev_upscale`` ComfyUI's dev template (stage 2 with the distilled LoRA)."""
LADDER_WORKFLOWS: tuple[str, ...] = (
    "t2v_ltx2.json",
    "t2v_ltx2_distilled.json",
    "i2v_ltx2.json",
    "i2v_ltx2_distilled.json",
)
"""The single-pass workflows."""
TWO_STAGE_WORKFLOWS: tuple[str, ...] = (
    "t2v_ltx2_upscale.json",
    "i2v_ltx2_upscale.json",
    "t2v_ltx2_dev_upscale.json",
    "i2v_ltx2_dev_upscale.json",
)


def workflow_name_for(mode: GenerationMode, model: ModelVariant, *, two_stage: bool = False) -> str:
    """The workflow file for a mode, a checkpoint and one or two passes."""
    try:
        return _WORKFLOW_NAMES[(mode, model, two_stage)]
    except KeyError:
        raise WorkflowError(f"no workflow for mode={mode!r}, model={model!r}, two_stage={two_stage}") from None


def workflow_model(name: str) -> ModelVariant:
    """The checkpoint a bundled workflow file loads (its model-file parameters are filled from it)."""
    for (_mode, model, _two_stage), file_name in _WORKFLOW_NAMES.items():
        if file_name == name:
            return model
    raise WorkflowError(f"{name!r} is not a bundled workflow name")


def recipe_workflows(recipe: RecipeName) -> frozenset[str]:
    """Every workflow file `recipe` runs, on any rung, in either mode (what `doctor` requires)."""
    names: set[str] = set()
    for number in (1, 2, 3, 4):
        rung = recipe_rung(recipe, number, steps=1, cfg=1.0)
        for mode in ("t2v", "i2v"):
            names.add(workflow_name_for(mode, rung.model, two_stage=len(rung.stages) == 2))
    return frozenset(names)
