"""GPU work of a clip, counted from the graphs the client really submits, for every rung of every recipe.

Run: ``.venv/bin/python -m bench.gpu_cost``

For each recipe (`ai_worker.model.recipes`) and rung of the ladder at the default settings (VIDEO_RESOLUTION
1280x720 -> 1280x704, 97 frames; the fallback 768x512, 65 frames), the request is planned as the orchestration
plans it and its graph built by `workflows.build_graph`, the function the client submits with. Then only the
patched JSON is read: every ``SamplerCustomAdvanced`` node, its steps (the ``ManualSigmas`` list, or
``LTXVScheduler.steps``), its guider's CFG (above 1 the model runs twice a step: conditional and
unconditional) and the latent it samples (followed back through ``LTXVImgToVideoInplace``,
``LTXVLatentUpsampler`` x2, ``EmptyLTXVLatentVideo`` and the ``EmptyImage`` -> ``ImageScaleBy`` ->
``GetImageSize`` chain of the two-stage graphs).

Cost model (one transformer pass over T latent tokens; LTX-2's VAE: one token per 32x32 pixels per 8 frames,
``(W/32) x (H/32) x (1 + (F-1)/8)``): per layer and token, the linear layers (self- and cross-attention
projections and the 4x feed-forward) cost ~28 d^2 multiply-adds and self-attention's quadratic term 4 T d,
with d = 4096 (LTX-2 19B's video stream). So pass(T) ~ T (28 d + 4 T); the text cross-attention's context
term, the audio stream (the graphs are video only), the VAE and the upscaler are left out (each is small
next to the passes). The unit is one full-resolution pass of the seed's rung 1 (1280x704x97: 11,440 tokens);
at half resolution (2,860 tokens) a pass costs 1/5.1 of it. Printed per line: the stages, the work in units,
and how many times less work than the seed's rung 1 (single-pass, 20 steps at CFG 3.5: 40 units). Goal: the
default's rung 1 at least 6x less.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_worker.comfy.workflows import build_graph
from ai_worker.model.recipes import DEFAULT_RECIPE, RECIPES
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.attempt import plan_attempt
from ai_worker.orchestration.ladder import build_ladder
from config.settings import Settings

D_MODEL = 4096
LINEAR_PER_TOKEN = 28 * D_MODEL
GOAL = 6.0


@dataclass(frozen=True)
class Pass:
    """One sampler node of a graph: its latent grid, steps and CFG."""

    width: int
    height: int
    frames: int
    steps: int
    cfg: float

    @property
    def tokens(self) -> int:
        return self.width * self.height * self.frames

    @property
    def passes(self) -> int:
        return self.steps * (2 if self.cfg > 1 else 1)


def pass_cost(tokens: int) -> float:
    return tokens * (LINEAR_PER_TOKEN + 4 * tokens)


def _value(graph: dict[str, Any], value: Any) -> float:
    """An int/float input, or the output of the node it links to (sizes through the image chain)."""
    if not isinstance(value, list):
        return float(value)
    node = graph[value[0]]
    cls, inputs = node["class_type"], node["inputs"]
    if cls == "GetImageSize":
        return _image_size(graph, inputs["image"])[value[1]]
    raise ValueError(f"cannot follow {cls} for a number")


def _image_size(graph: dict[str, Any], link: list[Any]) -> tuple[float, float]:
    node = graph[link[0]]
    cls, inputs = node["class_type"], node["inputs"]
    if cls in ("EmptyImage", "ImageScale"):
        return _value(graph, inputs["width"]), _value(graph, inputs["height"])
    if cls == "ImageScaleBy":
        width, height = _image_size(graph, inputs["image"])
        return width * float(inputs["scale_by"]), height * float(inputs["scale_by"])
    raise ValueError(f"cannot follow {cls} for an image size")


def latent_grid(graph: dict[str, Any], link: list[Any]) -> tuple[int, int, int]:
    """(width, height, frames) of a latent in tokens, as ComfyUI's nodes compute it (floors included)."""
    node = graph[link[0]]
    cls, inputs = node["class_type"], node["inputs"]
    if cls == "EmptyLTXVLatentVideo":
        width, height = int(_value(graph, inputs["width"])), int(_value(graph, inputs["height"]))
        return width // 32, height // 32, (int(inputs["length"]) - 1) // 8 + 1
    if cls == "LTXVImgToVideoInplace":
        return latent_grid(graph, inputs["latent"])
    if cls == "LTXVLatentUpsampler":
        width, height, frames = latent_grid(graph, inputs["samples"])
        return width * 2, height * 2, frames
    if cls == "SamplerCustomAdvanced":
        return latent_grid(graph, inputs["latent_image"])
    raise ValueError(f"cannot follow {cls} for a latent")


def sampler_passes(graph: dict[str, Any]) -> list[Pass]:
    """Every sampler of `graph`, in the order they run (stage 1 before the one that samples its output)."""
    found: list[tuple[int, Pass]] = []
    for node in graph.values():
        if node["class_type"] != "SamplerCustomAdvanced":
            continue
        inputs = node["inputs"]
        sigmas = graph[inputs["sigmas"][0]]
        if sigmas["class_type"] == "ManualSigmas":
            steps = len(re.findall(r"[0-9.]+", str(sigmas["inputs"]["sigmas"]))) - 1
        elif sigmas["class_type"] == "LTXVScheduler":
            steps = int(sigmas["inputs"]["steps"])
        else:
            raise ValueError(f"unknown schedule node {sigmas['class_type']}")
        cfg = float(graph[inputs["guider"][0]]["inputs"]["cfg"])
        width, height, frames = latent_grid(graph, inputs["latent_image"])
        depth = _depth(graph, inputs["latent_image"])
        found.append((depth, Pass(width, height, frames, steps, cfg)))
    return [found_pass for _depth_key, found_pass in sorted(found, key=lambda item: item[0])]


def _depth(graph: dict[str, Any], link: list[Any]) -> int:
    """How many samplers run before this latent exists."""
    node = graph[link[0]]
    inputs = node["inputs"]
    own = 1 if node["class_type"] == "SamplerCustomAdvanced" else 0
    upstream = [value for key, value in inputs.items() if key in ("latent", "samples", "latent_image")]
    return own + sum(_depth(graph, value) for value in upstream)


def graph_work(graph: dict[str, Any]) -> tuple[float, list[Pass]]:
    passes = sampler_passes(graph)
    return sum(p.passes * pass_cost(p.tokens) for p in passes), passes


def describe(passes: list[Pass]) -> str:
    return " + ".join(f"{p.width * 32}x{p.height * 32} {p.steps} steps CFG {p.cfg:g} ({p.passes} passes of "
                      f"{p.tokens:,} tokens)" for p in passes)


def main() -> int:
    base = Settings(_env_file=None)
    seed_settings = base.model_copy(update={"video_recipe": "single-pass"})
    scene = SceneDecision(type="text_only", video_mode="t2v", video_prompt="a cat walks in the rain")

    def work(settings: Settings, rung_number: int) -> tuple[float, list[Pass]]:
        rung = build_ladder(settings)[rung_number - 1]
        plan = plan_attempt(scene, mode="t2v", rung=rung, seed=1, output_path=Path("bench.mp4"),
                            simple_prompt="a cat", negative_prompt="blurry", mood="daily", settings=settings)
        return graph_work(build_graph(plan.request, settings))

    unit_work, seed_passes = work(seed_settings, 1)
    unit = pass_cost(seed_passes[0].tokens)
    print(f"unit: one full-resolution pass ({seed_passes[0].tokens:,} tokens, 1280x704x97); model pass(T) ~ "
          f"T (28 d + 4 T), d = {D_MODEL}; half resolution = 1/{unit / pass_cost(seed_passes[0].tokens // 4):.2f}")
    default_ratio = 0.0
    for recipe in RECIPES:
        settings = base.model_copy(update={"video_recipe": recipe})
        for number in range(1, base.video_max_retry + 1):
            total, passes = work(settings, number)
            ratio = unit_work / total
            tag = " (default)" if recipe == DEFAULT_RECIPE else ""
            if recipe == DEFAULT_RECIPE and number == 1:
                default_ratio = ratio
            print(f"{recipe}{tag} rung {number}: {total / unit:6.2f} units, {ratio:5.2f}x less than the seed's "
                  f"rung 1 | {describe(passes)}")
    verdict = "meets" if default_ratio >= GOAL else "misses"
    print(f"default rung 1: {default_ratio:.2f}x less transformer work than the seed's rung 1 at the same output "
          f"({verdict} the goal of >= {GOAL:g}x)")
    return 0 if default_ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
