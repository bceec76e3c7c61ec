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
from collections.abc import Sequence
from pathlib import Path

from ai_worker.comfy.workflow_names import LADDER_WORKFLOWS, TWO_STAGE_WORKFLOWS, recipe_workflows, workflow_model
from ai_worker.comfy.workflows import Workflow, apply_params, configured_set, load_workflow, model_params, params_for
from ai_worker.core.errors import WaggleVideoError, WorkflowError
from ai_worker.doctor.capabilities import check_capabilities
from ai_worker.doctor.ffmpeg_checks import check_ffmpeg
from ai_worker.doctor.report import Check as Check
from ai_worker.doctor.report import DoctorReport as DoctorReport
from ai_worker.doctor.server_checks import check_object_info, check_system_stats
from ai_worker.doctor.workflow_set import (
    check_model_sizes,
    check_node_packs,
    check_shared_output,
    check_version,
    expected_files,
    model_listings,
    run_smoke,
)
from config.settings import Settings

logger = logging.getLogger(__name__)



def doctor_workflows(settings: Settings) -> tuple[list[Workflow], list[Check]]:
    """Every workflow VIDEO_RECIPE runs (on any rung, in either mode), with the model files from settings
    filled in."""
    workflows: list[Workflow] = []
    checks: list[Check] = []
    needed = recipe_workflows(settings.video_recipe)
    for name in (name for name in (*LADDER_WORKFLOWS, *TWO_STAGE_WORKFLOWS) if name in needed):
        optional = False
        try:
            workflow = load_workflow(name, settings.comfyui_workflow_dir, settings.comfyui_workflow_set)
            workflow = apply_params(workflow, params_for(workflow, model_params(workflow_model(name), settings)))
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
    checks.extend(check_capabilities(stats, object_info, wset, settings, server=server))
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
    that answered (its clip goes there; a server that did not answer is reported once, not again by its
    smoke job). With VIDEO_BACKEND=local, ComfyUI is not used: its servers, workflows and shared folder are
    not checked, and the report says so. Never raises for a failed check."""
    if settings.video_backend == "local":
        ffmpeg_checks, ollama_checks = await asyncio.gather(check_ffmpeg(settings), check_ollama(settings))
        not_used = Check(
            "ComfyUI", True,
            "not used: VIDEO_BACKEND=local makes every clip with the local FFmpeg backend (no server, no "
            "workflows, no model files); set VIDEO_BACKEND=auto or comfyui to check the servers",
        )
        checks = [*ffmpeg_checks, not_used, *ollama_checks]
        if smoke_dir is not None:
            checks.append(Check("smoke job", True, "not run: ComfyUI is not used (VIDEO_BACKEND=local)"))
        return _report(checks)
    workflows, workflow_checks = doctor_workflows(settings)
    results = await asyncio.gather(
        check_ffmpeg(settings),
        *(check_comfyui_server(url, settings, workflows) for url in settings.comfyui_url),
        check_ollama(settings),
    )
    ffmpeg_checks, *server_checks, ollama_checks = results
    checks = [*ffmpeg_checks, *workflow_checks, *check_shared_output(settings)]
    for group in server_checks:
        checks.extend(group)
    checks.extend(ollama_checks)
    if smoke_dir is not None:
        answered = [
            url for url, group in zip(settings.comfyui_url, server_checks, strict=True)
            if not any(check.name == f"ComfyUI {url}: reachable" and not check.ok for check in group)
        ]
        checks.extend(await run_smoke(settings, smoke_dir, answered))
    return _report(checks)


def _report(checks: list[Check]) -> DoctorReport:
    report = DoctorReport(tuple(checks))
    logger.info("doctor: %d checks, %d failed, %d warnings", len(checks), len(report.failures), len(report.warnings))
    return report


