"""`doctor`'s checks of the configured workflow set (COMFYUI_WORKFLOW_SET) against a ComfyUI server: its version,
the set's node packs, its model files' sizes, the shared output folder, and the optional smoke job.

Model sizes: ComfyUI 0.8.0 tells file sizes only through its experimental ``GET /experiment/models/{folder}``
(``[{name, pathIndex, modified, created, size}]``, seen on the real server); a server without it gets a
warning, and ``doctor --smoke`` (one tiny job of the set) is then the proof that the files load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ai_worker.comfy.workflow_names import recipe_workflows
from ai_worker.comfy.workflow_sets import WorkflowSet, parse_version
from ai_worker.comfy.workflows import configured_set
from ai_worker.core.errors import WaggleVideoError
from ai_worker.doctor.report import Check
from ai_worker.model.backend import ClipRequest
from config.settings import Settings

if TYPE_CHECKING:
    from ai_worker.comfy.client import ComfyUIClient

logger = logging.getLogger(__name__)


def check_version(stats: Mapping[str, Any], wset: WorkflowSet, *, server: str = "ComfyUI") -> Check:
    """The server's ComfyUI version against the workflow set's minimum."""
    system = stats.get("system") or {}
    text = str(system.get("comfyui_version") or "")
    version = parse_version(text)
    minimum = ".".join(str(part) for part in wset.comfyui_min_version)
    name = f"{server}: ComfyUI version"
    fix = (f"update ComfyUI to {minimum} or newer (the proved commit is in Dockerfile.comfyui's COMFYUI_REF), "
           "or pick another COMFYUI_WORKFLOW_SET")
    if version is None:
        return Check(name, False, f"the server does not say which version it is ({text!r}); the "
                     f"{wset.name!r} set needs {minimum} or newer", fix=fix, optional=True)
    ok = version >= wset.comfyui_min_version
    verdict = "meets" if ok else "is older than"
    return Check(name, ok, f"ComfyUI {text} {verdict} the {wset.name!r} set's minimum {minimum}", fix=fix)


def check_node_packs(object_info: Mapping[str, Any], wset: WorkflowSet, *, server: str = "ComfyUI") -> list[Check]:
    """Each node pack of the set: all its node classes the set uses are on the server.

    The API does not say which commit of a pack is installed; ``doctor --smoke`` is what proves a pairing.
    """
    checks: list[Check] = []
    for pack in wset.node_packs:
        source = pack.source
        missing = sorted(node for node in pack.nodes if node not in object_info)
        detail = (f"{source.name} present ({', '.join(sorted(pack.nodes))}); the tested commit is "
                  f"{source.commit[:8]}, which the API cannot confirm") if not missing else (
                  f"{source.name} is not installed: no {', '.join(missing)}")
        checks.append(Check(f"{server}: node pack {source.name}", not missing, detail,
                            fix=f"git clone {source.repo} ComfyUI/custom_nodes/{source.name} && "
                                f"git -C ComfyUI/custom_nodes/{source.name} checkout {source.commit[:8]}; "
                                "restart ComfyUI"))
    return checks


@dataclass(frozen=True)
class ExpectedFile:
    """A model file the configured set needs, by the name settings give it."""

    folder: str
    name: str
    min_bytes: int
    optional: bool


def expected_files(settings: Settings) -> list[ExpectedFile]:
    """The configured set's model files, named as settings name them (an unset text encoder: the set's own);
    a file no workflow of VIDEO_RECIPE uses is optional."""
    wset = configured_set(settings)
    needed = recipe_workflows(settings.video_recipe)
    found: list[ExpectedFile] = []
    for model in wset.models:
        configured = getattr(settings, model.setting) or model.default
        optional = model.optional or not set(model.used_by) & needed
        found.append(ExpectedFile(model.folder, str(configured), model.min_bytes, optional))
    return found


def check_model_sizes(
    listings: Mapping[str, list[Any] | None], expected: Sequence[ExpectedFile], *, server: str = "ComfyUI"
) -> list[Check]:
    """Each expected file, as ``GET /experiment/models/{folder}`` lists it: big enough to be the real file.

    A folder whose listing is None (the route is missing) gives one warning; a file not listed is left to the
    /object_info check, which names it.
    """
    checks: list[Check] = []
    for folder in sorted({file.folder for file in expected if listings.get(file.folder) is None}):
        checks.append(Check(f"{server}: model sizes in {folder}", False,
                            "the server does not list file sizes (no GET /experiment/models); sizes unchecked",
                            fix="run `wagglebot-video doctor --smoke` to prove the files load", optional=True))
    for file in expected:
        listing = listings.get(file.folder)
        if listing is None:
            continue
        sizes = {str(entry.get("name", "")).replace("\\", "/"): entry.get("size")
                 for entry in listing if isinstance(entry, dict)}
        size = sizes.get(file.name)
        if not isinstance(size, int):
            continue
        ok = size >= file.min_bytes
        detail = (f"{size / 1024**2:,.1f} MiB" if ok else
                  f"only {size:,} bytes: far too small to be the real file (a placeholder or an LFS pointer?)")
        checks.append(Check(f"{server}: model size {file.name}", ok, detail, optional=file.optional,
                            fix=f"download the real {file.name} into ComfyUI/models/{file.folder}/ (docs/models.md)"))
    return checks


def check_shared_output(settings: Settings) -> list[Check]:
    """COMFYUI_SHARED_OUTPUT_DIR, when set, must be a folder this machine can read."""
    folder = settings.comfyui_shared_output_dir
    if folder is None:
        return []
    ok = folder.is_dir()
    detail = f"{folder} is {'a folder' if ok else 'not an existing folder'}"
    return [Check("shared output folder", ok, detail,
                  fix="mount ComfyUI's output folder there, or unset COMFYUI_SHARED_OUTPUT_DIR (clips then come "
                      "over /view)")]


async def model_listings(client: ComfyUIClient, folders: Iterable[str]) -> dict[str, list[Any] | None]:
    listings: dict[str, list[Any] | None] = {}
    for folder in sorted(set(folders)):
        try:
            listings[folder] = await client.model_listing(folder)
        except WaggleVideoError as exc:
            logger.warning("no model listing for %s from %s: %s", folder, client.name, exc)
            listings[folder] = None
    return listings


# --- optional: one real job -----------------------------------------------------------------------------

SMOKE_SIZE = 64
SMOKE_FRAMES = 9


async def smoke_server(url: str, settings: Settings, folder: Path) -> Check:
    """Run the configured set's smallest job (distilled text-to-video, 64x64, 9 frames) on one server: the
    only check that proves the model files load and the node packs fit this ComfyUI."""
    from ai_worker.comfy.client import ComfyUIClient  # lazy: keeps `doctor` importable on its own

    name = f"ComfyUI {url}: smoke job"
    request = ClipRequest(prompt="A red ball rolls across a wooden table (smoke test).", negative_prompt="blurry",
                          width=SMOKE_SIZE, height=SMOKE_SIZE, num_frames=SMOKE_FRAMES, fps=24, steps=2, cfg=1.0,
                          seed=7, output_path=folder / "doctor_smoke.mp4", model="distilled")
    started = time.monotonic()
    try:
        async with ComfyUIClient(url, folder, settings=settings) as client:
            result = await client.generate_t2v(request)
    except WaggleVideoError as exc:
        return Check(name, False, f"failed after {time.monotonic() - started:.1f} s: {exc}",
                     fix="fix what the message names (model file, node pack), then run doctor --smoke again")
    size = result.path.stat().st_size if result.path.is_file() else 0
    return Check(name, True, f"{configured_set(settings).name} set, t2v distilled {SMOKE_SIZE}x{SMOKE_SIZE}x"
                 f"{SMOKE_FRAMES}: clip of {size:,} bytes in {time.monotonic() - started:.1f} s")


async def run_smoke(settings: Settings, folder: Path, urls: Sequence[str] | None = None) -> list[Check]:
    """`smoke_server` on each of `urls` (default: every server), one after another (each may load ~50 GB
    of weights)."""
    return [await smoke_server(url, settings, folder) for url in (settings.comfyui_url if urls is None else urls)]
