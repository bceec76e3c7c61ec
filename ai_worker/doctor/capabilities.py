"""What a ComfyUI server can run: each model generation and recipe against the server's version, nodes and
model files, and what each still needs (`doctor`).

A server too old for the configured generation (VIDEO_MODEL_GENERATION) fails; everything else here is
information (a warning when a recipe cannot run: the configured recipe's missing files and nodes also fail
their own checks), so a user sees what switching generation or recipe would take. The
`ltxvideo` set is proved on ComfyUI 0.8.0 only: on a newer server that is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai_worker.comfy.workflow_names import recipe_workflows
from ai_worker.comfy.workflow_sets import WorkflowSet, parse_version
from ai_worker.comfy.workflows import load_workflow, text_encoder_for
from ai_worker.core.errors import WorkflowError
from ai_worker.doctor.report import Check
from ai_worker.doctor.server_checks import combo_options
from ai_worker.model.recipes import RECIPES, RecipeName, recipe_rung
from config.generations import GENERATIONS, Generation
from config.settings import Settings

PROVED_LTXVIDEO_VERSION = (0, 8, 0)
"""The `ltxvideo` set's ComfyUI-LTXVideo pin (82bd963c) does not import on later ComfyUI versions we tried."""

_LISTS: dict[str, tuple[str, str]] = {
    "checkpoints": ("CheckpointLoaderSimple", "ckpt_name"),
    "latent_upscale_models": ("LatentUpscaleModelLoader", "model_name"),
    "loras": ("LoraLoaderModelOnly", "lora_name"),
}
_TEXT_ENCODER_LISTS = {"core": ("LTXAVTextEncoderLoader", "text_encoder"),
                       "ltxvideo": ("LTXVGemmaCLIPModelLoader", "gemma_path")}


@dataclass(frozen=True)
class NeededFile:
    folder: str
    name: str

    def __str__(self) -> str:
        return f"{self.folder}/{self.name}"


def recipe_files(recipe: RecipeName, generation: Generation, text_encoder: str) -> list[NeededFile]:
    """Every model file `recipe` loads with `generation`'s default names (on any rung)."""
    rungs = [recipe_rung(recipe, number, steps=1, cfg=1.0) for number in (1, 2, 3, 4)]
    models = {stage.model for rung in rungs for stage in rung.stages}
    files = [NeededFile("checkpoints", generation.full)] if "full" in models else []
    if "distilled" in models:
        files.append(NeededFile("checkpoints", generation.distilled))
    files.append(NeededFile("text_encoders", text_encoder))
    if any(len(rung.stages) == 2 for rung in rungs):
        files.append(NeededFile("latent_upscale_models", generation.upscaler))
    if any(stage.distilled_lora for rung in rungs for stage in rung.stages):
        files.append(NeededFile("loras", generation.distilled_lora))
    return files


def _listed(object_info: Mapping[str, Any], class_type: str, input_name: str) -> set[str]:
    spec = (object_info.get(class_type, {}).get("input", {}).get("required") or {}).get(input_name)
    return {name.replace("\\", "/") for name in combo_options(spec) or []}


def _recipe_nodes(recipe: RecipeName, settings: Settings) -> set[str]:
    nodes: set[str] = set()
    for name in recipe_workflows(recipe):
        try:
            nodes |= load_workflow(name, settings.comfyui_workflow_dir, settings.comfyui_workflow_set).node_classes()
        except WorkflowError:
            continue  # reported by the workflow checks
    return nodes


def check_capabilities(
    stats: Mapping[str, Any], object_info: Mapping[str, Any], wset: WorkflowSet, settings: Settings, *,
    server: str = "ComfyUI",
) -> list[Check]:
    """One check per model generation: which recipes the server can run with it, and what each lacks."""
    text = str((stats.get("system") or {}).get("comfyui_version") or "")
    version = parse_version(text)
    checks: list[Check] = []
    if wset.name == "ltxvideo" and version is not None and version > PROVED_LTXVIDEO_VERSION:
        checks.append(Check(
            f"{server}: the ltxvideo set on ComfyUI {text}", False,
            "the ltxvideo set (ComfyUI-LTXVideo 82bd963c) is proved on ComfyUI 0.8.0 only; on this version it "
            "is untested, and newer ComfyUI-LTXVideo commits did not import on v0.33.0",
            fix="use COMFYUI_WORKFLOW_SET=core (proved on 0.8.0 and v0.33.0), or run the real_comfyui test tier "
                "against this server first", optional=True))
    encoder_list = _TEXT_ENCODER_LISTS[wset.name]
    listed = {folder: _listed(object_info, *source) for folder, source in _LISTS.items()}
    listed["text_encoders"] = _listed(object_info, *encoder_list)
    text_encoder = text_encoder_for(settings)
    for generation in GENERATIONS.values():
        configured = generation.name == settings.video_model_generation
        name = f"{server}: generation {generation.name}"
        minimum = ".".join(map(str, generation.comfyui_min_version))
        if version is not None and version < generation.comfyui_min_version:
            checks.append(Check(name, False, f"{generation.summary} needs ComfyUI {minimum} or newer; this server "
                                f"is {text}", fix=f"update ComfyUI to {minimum} or newer (Dockerfile.comfyui)",
                                optional=not configured))
            continue
        runnable: list[str] = []
        lacking: list[str] = []
        for recipe in RECIPES:
            missing = [str(file) for file in recipe_files(recipe, generation, text_encoder)
                       if file.name not in listed.get(file.folder, set())]
            missing += sorted(node for node in _recipe_nodes(recipe, settings) if node not in object_info)
            if missing:
                lacking.append(f"{recipe} needs {', '.join(missing)}")
            else:
                runnable.append(recipe)
        detail = f"runs {', '.join(runnable) or 'no recipe'}" + (f"; {'; '.join(lacking)}" if lacking else "")
        ok = settings.video_recipe in runnable if configured else bool(runnable)
        # Information: a missing file or node of the configured recipe fails its own check (check_object_info).
        checks.append(Check(name, ok, detail, fix="put the missing files in ComfyUI/models/<folder>/ "
                            "(docs/models.md names every file of each generation)", optional=True))
    return checks
