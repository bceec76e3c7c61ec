"""`wagglebot-video doctor`: is everything the video stage needs in place, and if not, what to do.

It checks, each as a typed `Check` carrying the fix for a failure:

* FFmpeg: found, and its H.264 encoders (libx264 is needed; h264_nvenc is used when present and working);
* every workflow of the configured set (COMFYUI_WORKFLOW_SET) the stage runs: loadable (the user's folder
  first, then the set's files);
* every ComfyUI server in COMFYUI_URL: reachable (``GET /system_stats``), its ComfyUI version against the
  set's minimum, free VRAM, each node pack of the set present, every node class the workflows use and every
  model file they name present (``GET /object_info``: a model input is a combo whose first element lists the
  files the server has) and plausibly real: ComfyUI 0.8.0 reports file sizes only through its experimental
  ``GET /experiment/models/{folder}`` (``[{name, pathIndex, modified, created, size}]``); a file far smaller
  than the real one (a placeholder, an LFS pointer) fails. A server without that route gets a warning; the
  only proof then is ``doctor --smoke``, which runs one tiny job of the set;
* the shared output folder (COMFYUI_SHARED_OUTPUT_DIR), when set: an existing folder;
* Ollama: reachable, and OLLAMA_MODEL pulled. Only warnings: without it prompts fall back to the
  deterministic per-mood templates.

The /object_info and /system_stats judgements are pure functions (`check_object_info`, `check_system_stats`)
tested against captures of a real server; `run_doctor` only gathers their inputs.

A failed *optional* check is a warning: it does not fail the doctor (the two-stage upscale workflow's files,
NVENC, a server with little free VRAM right now).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ai_worker.comfy.workflow_sets import all_sets
from ai_worker.comfy.workflows import (
    LADDER_WORKFLOWS,
    UPSCALE_WORKFLOW,
    Workflow,
    apply_params,
    configured_set,
    load_workflow,
    model_params,
    params_for,
)
from ai_worker.core.errors import FFmpegError, WaggleVideoError, WorkflowError
from ai_worker.doctor.report import Check as Check
from ai_worker.doctor.report import DoctorReport as DoctorReport
from ai_worker.doctor.workflow_set import (
    check_model_sizes,
    check_node_packs,
    check_shared_output,
    check_version,
    expected_files,
    model_listings,
    run_smoke,
)
from ai_worker.media.ffmpeg_runner import ffmpeg_output, resolve_ffmpeg
from ai_worker.model.backend import ModelVariant
from config.settings import Settings

logger = logging.getLogger(__name__)

FFMPEG_PROBE_TIMEOUT = 15.0
"""Seconds ``ffmpeg -encoders`` may take (it normally answers in well under one)."""
LOW_VRAM_BYTES = 6 * 1024**3
"""Below this much free VRAM an LTX-2 job will crawl or fail even with --lowvram."""

WORKFLOW_MODELS: dict[str, ModelVariant] = {
    "t2v_ltx2.json": "full",
    "i2v_ltx2.json": "full",
    "t2v_ltx2_distilled.json": "distilled",
    "i2v_ltx2_distilled.json": "distilled",
    UPSCALE_WORKFLOW: "distilled",
}
OPTIONAL_WORKFLOWS: frozenset[str] = frozenset({UPSCALE_WORKFLOW})
"""Workflows the stage does not run by default: their problems are warnings."""

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


# --- FFmpeg ---------------------------------------------------------------------------------------------


def parse_encoders(text: str) -> set[str]:
    """Encoder names from ``ffmpeg -hide_banner -encoders`` (lines after the ``------`` separator)."""
    names: set[str] = set()
    started = False
    for line in text.splitlines():
        stripped = line.strip()
        if not started:
            started = stripped.startswith("------")
            continue
        parts = stripped.split()
        if len(parts) >= 2 and len(parts[0]) == 6:
            names.add(parts[1])
    return names


def check_encoders(ffmpeg: Path, encoders: set[str]) -> list[Check]:
    """libx264 is required (the local backend and the post-processing use it); NVENC is a bonus."""
    checks = [
        Check(
            "FFmpeg libx264",
            "libx264" in encoders,
            f"{ffmpeg} {'has' if 'libx264' in encoders else 'lacks'} the libx264 encoder",
            fix="use an FFmpeg built with libx264: unset FFMPEG_BINARY to use imageio-ffmpeg's, or install one",
        )
    ]
    if "h264_nvenc" in encoders:
        detail = "h264_nvenc is listed (it also needs an NVIDIA GPU with NVENC at run time; else libx264 is used)"
    else:
        detail = "h264_nvenc is not in this build: clips are encoded with libx264"
    checks.append(
        Check(
            "FFmpeg h264_nvenc",
            "h264_nvenc" in encoders,
            detail,
            fix="optional: an FFmpeg built with NVENC (and a GPU that has it) encodes faster",
            optional=True,
        )
    )
    return checks


async def list_encoders(ffmpeg: Path, timeout: float = FFMPEG_PROBE_TIMEOUT) -> str:
    """Run ``ffmpeg -hide_banner -encoders`` and return its output. Raises `FFmpegError`."""
    return await ffmpeg_output(["-encoders"], timeout=timeout, binary=ffmpeg)


async def check_ffmpeg(settings: Settings) -> list[Check]:
    fix = "pip install imageio-ffmpeg (a dependency of this project), or set FFMPEG_BINARY to an ffmpeg"
    try:
        ffmpeg = resolve_ffmpeg(settings.ffmpeg_binary)
    except (FFmpegError, OSError, RuntimeError) as exc:
        # imageio-ffmpeg raises RuntimeError when it has no binary for this platform.
        return [Check("FFmpeg", False, f"no FFmpeg: {exc}", fix=fix)]
    try:
        text = await list_encoders(ffmpeg)
    except FFmpegError as exc:
        return [Check("FFmpeg", False, str(exc), fix=fix)]
    return [Check("FFmpeg", True, f"found {ffmpeg}"), *check_encoders(ffmpeg, parse_encoders(text))]


# --- workflows ------------------------------------------------------------------------------------------


def doctor_workflows(settings: Settings) -> tuple[list[Workflow], list[Check]]:
    """Every workflow the stage may run, with the model files from settings filled in."""
    workflows: list[Workflow] = []
    checks: list[Check] = []
    for name in (*LADDER_WORKFLOWS, UPSCALE_WORKFLOW):
        optional = name in OPTIONAL_WORKFLOWS
        try:
            workflow = load_workflow(name, settings.comfyui_workflow_dir, settings.comfyui_workflow_set)
            workflow = apply_params(workflow, params_for(workflow, model_params(WORKFLOW_MODELS[name], settings)))
        except WorkflowError as exc:
            checks.append(
                Check(
                    f"workflow {name}",
                    False,
                    str(exc),
                    fix="fix or remove that file in COMFYUI_WORKFLOW_DIR (the bundled one is used when it is absent)",
                    optional=optional,
                )
            )
            continue
        workflows.append(workflow)
        checks.append(Check(f"workflow {name}", True, f"loaded from {workflow.source}", optional=optional))
    return workflows, checks


# --- ComfyUI: pure judgements on what the server said ----------------------------------------------------


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
    optional_workflows: Collection[str] = OPTIONAL_WORKFLOWS,
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


async def check_comfyui_server(url: str, settings: Settings, workflows: Sequence[Workflow]) -> list[Check]:
    """Reach one server with the ComfyUI client and judge what it says."""
    from ai_worker.comfy.client import ComfyUIClient  # lazy: keeps `doctor` importable on its own

    server = f"ComfyUI {url}"
    unreachable_fix = "start ComfyUI (docker compose up -d comfyui) or correct COMFYUI_URL"
    try:
        client = ComfyUIClient(url, settings.video_output_dir, settings=settings)
    except WaggleVideoError as exc:
        return [Check(f"{server}: reachable", False, str(exc), fix=unreachable_fix)]
    async with client:
        try:
            stats = await client.system_stats()
        except WaggleVideoError as exc:
            return [Check(f"{server}: reachable", False, str(exc), fix=unreachable_fix)]
        wset = configured_set(settings)
        checks = [*check_system_stats(stats, server=server), check_version(stats, wset, server=server)]
        try:
            object_info = await client.object_info()
        except WaggleVideoError as exc:
            checks.append(
                Check(f"{server}: nodes", False, f"GET /object_info failed: {exc}", fix="check the ComfyUI log")
            )
            return checks
        expected = expected_files(settings)
        listings = await model_listings(client, (file.folder for file in expected))
    checks.extend(check_node_packs(object_info, wset, server=server))
    checks.extend(check_object_info(object_info, workflows, server=server))
    checks.extend(check_model_sizes(listings, expected, server=server))
    return checks


# --- Ollama ---------------------------------------------------------------------------------------------


async def check_ollama(settings: Settings) -> list[Check]:
    from ai_worker.prompts.llm_client import ollama_status

    try:
        async with asyncio.timeout(settings.ollama_timeout + 5):
            reachable, pulled, detail = await ollama_status(settings)
    except (WaggleVideoError, TimeoutError) as exc:
        reachable, pulled, detail = False, False, f"Ollama at {settings.ollama_host}: {exc!r}"
    # Both are warnings: without Ollama every scene gets its deterministic per-mood fallback prompt.
    fallback = "; until then prompts fall back to the per-mood templates"
    if not reachable:
        return [
            Check(
                "Ollama",
                False,
                detail,
                fix="start Ollama (docker compose up -d ollama, or `ollama serve`) or correct OLLAMA_HOST" + fallback,
                optional=True,
            )
        ]
    return [
        Check("Ollama", True, f"reachable at {settings.ollama_host}"),
        Check(
            f"Ollama model {settings.ollama_model}",
            pulled,
            detail,
            fix=f"ollama pull {settings.ollama_model} (or set OLLAMA_MODEL to a model you have)" + fallback,
            optional=True,
        ),
    ]


# --- all of it ------------------------------------------------------------------------------------------


async def run_doctor(settings: Settings, *, smoke_dir: Path | None = None) -> DoctorReport:
    """Run every check; servers are checked concurrently. With `smoke_dir`, also run one tiny job per server
    (its clip goes there). Never raises for a failed check."""
    workflows, workflow_checks = doctor_workflows(settings)
    results = await asyncio.gather(
        check_ffmpeg(settings),
        *(check_comfyui_server(url, settings, workflows) for url in settings.comfyui_url),
        check_ollama(settings),
    )
    ffmpeg_checks, *server_checks, ollama_checks = results
    checks: list[Check] = [*ffmpeg_checks, *workflow_checks, *check_shared_output(settings)]
    for group in server_checks:
        checks.extend(group)
    checks.extend(ollama_checks)
    if smoke_dir is not None:
        checks.extend(await run_smoke(settings, smoke_dir))
    report = DoctorReport(tuple(checks))
    logger.info("doctor: %d checks, %d failed, %d warnings", len(checks), len(report.failures), len(report.warnings))
    return report


