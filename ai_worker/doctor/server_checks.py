"""Doctor's judgements of one ComfyUI server from its own answers: ``/object_info`` (every node class and
model file the workflows need, with the fix for what is missing) and ``/system_stats`` (free VRAM). Pure
functions, tested against captures of a real server."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from ai_worker.comfy.workflow_sets import all_sets
from ai_worker.comfy.workflows import Workflow
from ai_worker.doctor.report import Check

LOW_VRAM_BYTES = 6 * 1024**3
"""Below this much free VRAM an LTX-2 job will crawl or fail even with --lowvram."""


def custom_node_packs() -> dict[str, str]:
    """Node classes from custom node packs (everything else used here is core ComfyUI) -> the pack to install."""
    return {node: f"{pack.source.name} ({pack.source.repo}) at commit {pack.source.commit[:8]}"
            for wset in all_sets().values() for pack in wset.node_packs for node in pack.nodes}

MODEL_FOLDERS: dict[str, str] = {
    "ckpt_name": "checkpoints",
    "ltxv_path": "checkpoints",
    "gemma_path": "text_encoders",
    "text_encoder": "text_encoders",
    "model_name": "latent_upscale_models",
    "lora_name": "loras",
    "vae_name": "vae",
    "clip_name": "text_encoders",
    "unet_name": "diffusion_models",
}
"""Which models/ folder a model input's file lives in (for the fix text)."""


def combo_options(spec: object) -> list[str] | None:
    """The choices of a combo input spec: ``[[...], {...}]`` (classic) or ``["COMBO", {"options": [...]}]``."""
    if not isinstance(spec, list | tuple) or not spec:
        return None
    first = spec[0]
    if isinstance(first, list):
        return [str(item) for item in first]
    if first == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
        options = spec[1].get("options")
        if isinstance(options, list):
            return [str(item) for item in options]
    return None


def _input_spec(object_info: Mapping[str, Any], class_type: str, input_name: str) -> object:
    sections = object_info.get(class_type, {}).get("input", {})
    for section in ("required", "optional"):
        spec = (sections.get(section) or {}).get(input_name)
        if spec is not None:
            return spec
    return None


def _node_fix(missing: Iterable[str]) -> str:
    known = custom_node_packs()
    packs = sorted({known[name] for name in missing if name in known})
    core = [name for name in missing if name not in known]
    steps = [f"install {pack} into ComfyUI/custom_nodes" for pack in packs]
    if core:
        steps.append(f"update ComfyUI: {', '.join(sorted(core))} are core nodes of newer versions")
    return "; ".join(steps) + "; then restart ComfyUI"


def check_object_info(
    object_info: Mapping[str, Any],
    workflows: Sequence[Workflow],
    *,
    server: str = "ComfyUI",
    optional_workflows: Collection[str] = (),
) -> list[Check]:
    """Every node class the workflows use, and every model file they name, present on the server."""
    checks: list[Check] = []
    needed_by: dict[str, list[str]] = {}
    for workflow in workflows:
        for class_type in sorted(workflow.node_classes()):
            needed_by.setdefault(class_type, []).append(workflow.name)
    missing = sorted(name for name in needed_by if name not in object_info)
    if missing:
        required_missing = [n for n in missing if any(w not in optional_workflows for w in needed_by[n])]
        detail = "missing node classes: " + "; ".join(f"{n} (used by {', '.join(needed_by[n])})" for n in missing)
        checks.append(Check(f"{server}: nodes", False, detail, fix=_node_fix(missing), optional=not required_missing))
    else:
        checks.append(Check(f"{server}: nodes", True, f"all {len(needed_by)} node classes the workflows use"))

    files: dict[tuple[str, str], dict[str, Any]] = {}
    for workflow in workflows:
        for _node_id, class_type, input_name, value in workflow.model_file_inputs():
            spec = _input_spec(object_info, class_type, input_name)
            options = combo_options(spec)
            if options is None:
                continue  # the class is missing (reported above) or this input is not a file list here
            folder = MODEL_FOLDERS.get(input_name, "?")
            entry = files.setdefault(
                (folder, value), {"present": False, "uses": [], "workflows": set(), "have": options}
            )
            # Windows servers list sub-folder files with backslashes.
            listed = {option.replace("\\", "/") for option in options}
            entry["present"] = entry["present"] or value.replace("\\", "/") in listed
            entry["uses"].append(f"{class_type}.{input_name}")
            entry["workflows"].add(workflow.name)
    for (folder, value), entry in sorted(files.items()):
        workflow_names = sorted(entry["workflows"])
        optional = all(name in optional_workflows for name in workflow_names)
        used = f"used by {', '.join(workflow_names)}"
        if entry["present"]:
            checks.append(Check(f"{server}: model {value}", True, f"present in models/{folder} ({used})"))
            continue
        have = ", ".join(entry["have"]) if entry["have"] else "nothing"
        checks.append(
            Check(
                f"{server}: model {value}",
                False,
                f"not in models/{folder} ({used}); the server lists: {have}",
                fix=_model_fix(folder, value),
                optional=optional,
            )
        )
    return checks


def _model_fix(folder: str, value: str) -> str:
    if folder == "text_encoders" and "/" in value:
        return (
            f"download the whole Gemma 3 folder ({value.split('/')[0]}, with tokenizer.model and every "
            f"model-*.safetensors) into ComfyUI/models/text_encoders/, or set COMFYUI_TEXT_ENCODER; see docs/models.md"
        )
    return f"put {value} in ComfyUI/models/{folder}/ (or change the setting naming it); see docs/models.md"


def check_system_stats(stats: Mapping[str, Any], *, server: str = "ComfyUI") -> list[Check]:
    """Version and free VRAM from ``GET /system_stats``."""
    system = stats.get("system") or {}
    version = system.get("comfyui_version") or "unknown"
    python = str(system.get("python_version") or "?").split()[0]
    checks = [Check(f"{server}: reachable", True, f"ComfyUI {version}, Python {python}")]
    devices = [d for d in stats.get("devices") or [] if isinstance(d, dict)]
    gpus = [d for d in devices if d.get("type") not in (None, "cpu")]
    if not gpus:
        checks.append(
            Check(
                f"{server}: GPU",
                False,
                "the server runs on CPU only: LTX-2 19B is impractically slow there",
                fix="run ComfyUI on a machine with an NVIDIA GPU (see docs/models.md and docker-compose.yml)",
                optional=True,
            )
        )
        return checks
    for device in gpus:
        free = int(device.get("vram_free") or 0)
        total = int(device.get("vram_total") or 0)
        name = str(device.get("name", "GPU"))
        detail = f"{name}: {free / 1024**3:.1f} of {total / 1024**3:.1f} GiB free"
        checks.append(
            Check(
                f"{server}: VRAM",
                free >= LOW_VRAM_BYTES,
                detail,
                fix="free the GPU: stop other jobs, unload Ollama's model (keep_alive 0) or POST /free to ComfyUI",
                optional=True,
            )
        )
    return checks


