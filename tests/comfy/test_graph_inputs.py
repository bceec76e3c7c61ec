"""The bundled `core` graphs against the node schemas real ComfyUI servers publish (0.8.0 and v0.33.0):
every required input present, and every fixed choice (not a model file) one the server offers. This is the
check ComfyUI's own validation makes before it runs a prompt; v0.33.0 added the required `device` input to
`LTXAVTextEncoderLoader`, which made every graph of 0.8.0's era fail there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_worker.comfy.workflow_sets import workflow_set
from ai_worker.comfy.workflows import MODEL_FILE_INPUTS, PLACEHOLDER

DATA = Path(__file__).resolve().parents[1] / "fakes" / "data"


def _schema(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"object_info_ltx_{version}.json").read_text(encoding="utf-8"))
    return data


def _problems(graph: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for node_id, node in graph.items():
        info = schema[node["class_type"]]
        inputs = node["inputs"]
        for name, spec in info["input"].get("required", {}).items():
            if name not in inputs:
                found.append(f"{node_id} {node['class_type']}: required input {name!r} missing")
                continue
            choices = spec[1].get("options") if spec[0] == "COMBO" else spec[0] if isinstance(spec[0], list) else None
            fixed = not (isinstance(inputs[name], str) and PLACEHOLDER.search(inputs[name]))
            if choices and fixed and name not in MODEL_FILE_INPUTS and inputs[name] not in choices:
                found.append(f"{node_id} {node['class_type']}: {name}={inputs[name]!r} not in {choices}")
    return found


@pytest.mark.parametrize("version", ["v080", "v0330"])
def test_every_core_graph_has_every_required_input(version: str) -> None:
    schema = _schema(version)
    graphs = sorted(workflow_set("core").folder.glob("*.json"))
    assert graphs
    for path in graphs:
        assert _problems(json.loads(path.read_text(encoding="utf-8")), schema) == [], path.name


def test_a_graph_without_the_device_input_fails_on_v0330_only() -> None:
    path = workflow_set("core").folder / "t2v_ltx2.json"
    graph = json.loads(path.read_text(encoding="utf-8"))
    for node in graph.values():
        node["inputs"].pop("device", None)
    assert _problems(graph, _schema("v080")) == []
    assert _problems(graph, _schema("v0330")) == ["2 LTXAVTextEncoderLoader: required input 'device' missing"]
