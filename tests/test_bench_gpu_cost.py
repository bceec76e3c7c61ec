"""`bench.gpu_cost` reads the graphs the client submits: its counts follow the graph, not the recipe table."""

from __future__ import annotations

from pathlib import Path

from ai_worker.comfy.workflows import build_graph
from ai_worker.model.backend import ClipRequest
from ai_worker.model.recipes import recipe_rung
from bench.gpu_cost import graph_work, pass_cost, sampler_passes


def _request(**values: object) -> ClipRequest:
    base: dict[str, object] = {"prompt": "a cat", "negative_prompt": "", "width": 1280, "height": 704,
                               "num_frames": 97, "fps": 24, "steps": 20, "cfg": 3.5, "seed": 1,
                               "output_path": Path("x.mp4")}
    return ClipRequest(**{**base, **values})  # type: ignore[arg-type]


def test_the_seed_single_pass_is_forty_full_passes(tmp_path: Path) -> None:
    from config.settings import Settings

    settings = Settings(_env_file=None)
    work, passes = graph_work(build_graph(_request(), settings))
    assert [(p.width, p.height, p.frames, p.steps, p.cfg) for p in passes] == [(40, 22, 13, 20, 3.5)]
    assert work == 40 * pass_cost(11_440)


def test_two_stage_graph_is_read_stage_by_stage() -> None:
    from config.settings import Settings

    settings = Settings(_env_file=None)
    stages = recipe_rung("distilled-two-stage", 1, steps=20, cfg=3.5).stages_at(1280, 704)
    graph = build_graph(_request(model="distilled", recipe="distilled-two-stage", stages=stages), settings)
    passes = sampler_passes(graph)
    assert [(p.width, p.height, p.frames, p.steps, p.passes) for p in passes] == [(20, 11, 13, 8, 8),
                                                                                   (40, 22, 13, 3, 3)]
    graph["9"]["inputs"]["cfg"] = 2.0  # the guider both stages share: every pass now runs twice
    assert [p.passes for p in sampler_passes(graph)] == [16, 6]
    work, _ = graph_work(build_graph(_request(model="distilled", recipe="distilled-two-stage", stages=stages),
                                     settings))
    assert pass_cost(11_440) * 40 / work > 6
