"""Every recipe x model generation x rung x mode of the `core` set on a real ComfyUI server.

The request is built as the orchestration builds it (`attempt.plan_attempt`: the rung of VIDEO_RECIPE, its
passes at the planned size, the image's aspect for image-to-video) and sent through the project's client, so
the graph that runs is the one a user's run submits. A generation the server's version cannot run (LTX-2.3
before v0.16.0) is skipped with the version it said. Each test prints one line, ``REAL <version> <generation>
<recipe> rung <n> <mode> <seconds>``, for the table in the report (``pytest -s``).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ai_worker.comfy.workflow_sets import parse_version
from ai_worker.media.probe import probe_clip
from ai_worker.model.backend import GenerationMode
from ai_worker.model.recipes import RECIPES
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.attempt import plan_attempt
from ai_worker.orchestration.ladder import build_ladder
from config.generations import GENERATIONS
from tests.real_comfyui.conftest import ClientFactory, server_url

pytestmark = pytest.mark.real_comfyui

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "examples" / "posts" / "images" / "rainy_street.jpg"
PROMPT = "A tabby cat walks along a garden wall at dusk as the camera tracks left."
SIMPLE = "A cat walks on a wall."


def server_version() -> tuple[str, tuple[int, int, int] | None]:
    stats = httpx.get(f"{server_url()}/system_stats", timeout=30).json()
    text = str(stats.get("system", {}).get("comfyui_version", ""))
    return text, parse_version(text)


MODES: list[GenerationMode] = ["t2v", "i2v"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rung_number", [1, 2, 3, 4])
@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("generation", list(GENERATIONS))
async def test_recipe_at_every_rung(generation: str, recipe: str, rung_number: int, mode: GenerationMode,
                                    make_client: ClientFactory, tmp_path: Path) -> None:
    text, version = server_version()
    needed = GENERATIONS[generation].comfyui_min_version  # type: ignore[index]
    if version is not None and version < needed:
        pytest.skip(f"ComfyUI {text} is older than {generation}'s minimum {'.'.join(map(str, needed))}")
    client = make_client("core", video_model_generation=generation, video_recipe=recipe,
                         video_resolution=(128, 64), video_resolution_fallback=(64, 64))
    rung = build_ladder(client.settings)[rung_number - 1]
    scene = SceneDecision(type="img_text" if mode == "i2v" else "text_only", video_mode=mode,
                          video_prompt=PROMPT, video_init_image=str(IMAGE) if mode == "i2v" else None)
    plan = plan_attempt(scene, mode=mode, rung=rung, seed=4000 + rung_number, output_path=tmp_path / "clip.mp4",
                        simple_prompt=SIMPLE, negative_prompt="blurry", mood="daily", settings=client.settings)
    request = plan.request
    assert request.recipe == recipe and len(request.stages) == rung.passes
    started = time.monotonic()
    result = await (client.generate_i2v(request) if mode == "i2v" else client.generate_t2v(request))
    seconds = time.monotonic() - started
    info = probe_clip(result.path)
    assert (info.width, info.height, info.frames) == (request.width, request.height, request.num_frames)
    print(f"\nREAL {text} {generation} {recipe} rung {rung_number} {mode} {request.width}x{request.height}"
          f"x{request.num_frames} passes={len(request.stages)} {seconds:.1f}s")
