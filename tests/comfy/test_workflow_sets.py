"""The workflow-set declaration, the files that repeat it, and the prompt escaping of each set."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ai_worker.comfy.workflow_names import LADDER_WORKFLOWS, TWO_STAGE_WORKFLOWS
from ai_worker.comfy.workflow_sets import DEFAULT_WORKFLOW_SET, all_sets, parse_version, workflow_set
from ai_worker.comfy.workflows import (
    build_params,
    load_workflow,
    neutralise_prompt,
    params_for,
    patch_workflow,
    text_encoder_for,
)
from ai_worker.doctor.workflow_set import expected_files
from ai_worker.model.backend import ClipRequest
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fakes" / "data"
ALL = (*LADDER_WORKFLOWS, *TWO_STAGE_WORKFLOWS)


def settings_for(set_name: str, **overrides: Any) -> Settings:
    return Settings(_env_file=None, comfyui_workflow_set=set_name, **overrides)


def request(prompt: str, negative: str = "blurry") -> ClipRequest:
    return ClipRequest(prompt=prompt, negative_prompt=negative, width=64, height=64, num_frames=9, fps=24, steps=2,
                       cfg=3.0, seed=1, output_path=Path("/tmp/x.mp4"))


# --- the declaration and the graphs agree ------------------------------------------------------------------


@pytest.mark.parametrize("set_name", sorted(all_sets()))
def test_custom_nodes_of_a_set_are_exactly_its_packs(set_name: str) -> None:
    # python_module in a real server's /object_info says which classes come from custom_nodes/.
    info: dict[str, Any] = json.loads((DATA / "doctor_object_info_ltx.json").read_text(encoding="utf-8"))
    info.update(json.loads((DATA / "object_info_ltx_v080.json").read_text(encoding="utf-8")))  # LoraLoaderModelOnly
    wset = workflow_set(set_name)
    used = set().union(*(load_workflow(name, set_name=set_name).node_classes() for name in ALL))
    custom = {cls for cls in used if str(info[cls]["python_module"]).startswith("custom_nodes.")}
    assert custom == set().union(*(pack.nodes for pack in wset.node_packs))


@pytest.mark.parametrize("set_name", sorted(all_sets()))
def test_model_files_of_a_set_are_the_graph_defaults(set_name: str) -> None:
    wset = workflow_set(set_name)
    named: dict[str, set[str]] = {}
    for name in ALL:
        for files in load_workflow(name, set_name=set_name).model_files().values():
            named.setdefault(name, set()).update(files)
    for model in wset.models:
        for name in model.used_by:
            assert model.default in named[name], (model, name)
    declared = {model.default for model in wset.models}
    assert set().union(*named.values()) == declared


def test_core_set_uses_the_core_text_encoder_loader() -> None:
    assert DEFAULT_WORKFLOW_SET == "core" and Settings(_env_file=None).comfyui_workflow_set == "core"
    for name in ALL:
        workflow = load_workflow(name)
        assert workflow.graph["2"]["class_type"] == "LTXAVTextEncoderLoader"
        assert workflow.parameters["text_encoder"] == [("2", "text_encoder")]
        assert ("2", "ckpt_name") in workflow.parameters["checkpoint"]
    graph = patch_workflow(load_workflow("t2v_ltx2.json"),
                           params_for(load_workflow("t2v_ltx2.json"), build_params(request("x"), settings_for("core"))))
    assert graph["2"]["inputs"] == {"text_encoder": "gemma_3_12B_it_fp4_mixed.safetensors",
                                    "ckpt_name": "ltx-2-19b-dev-fp8.safetensors", "device": "default"}


@pytest.mark.parametrize("set_name", sorted(all_sets()))
def test_i2v_scales_the_image_without_cropping(set_name: str) -> None:
    for name in ("i2v_ltx2.json", "i2v_ltx2_distilled.json"):
        scale = [n for n in load_workflow(name, set_name=set_name).graph.values() if n["class_type"] == "ImageScale"]
        assert len(scale) == 1 and scale[0]["inputs"]["crop"] == "disabled"


def test_text_encoder_follows_the_set_unless_set() -> None:
    assert text_encoder_for(settings_for("core")) == "gemma_3_12B_it_fp4_mixed.safetensors"
    assert text_encoder_for(settings_for("ltxvideo")) == (
        "gemma-3-12b-it-qat-q4_0-unquantized/model-00001-of-00005.safetensors")
    assert text_encoder_for(settings_for("core", comfyui_text_encoder="gemma_3_12B_it.safetensors")) == (
        "gemma_3_12B_it.safetensors")


def test_unknown_set_is_refused() -> None:
    with pytest.raises(ValueError, match="comfyui_workflow_set"):
        Settings(_env_file=None, comfyui_workflow_set="nope")
    with pytest.raises(KeyError, match="known: core, ltxvideo"):
        workflow_set("nope")


def test_parse_version() -> None:
    assert parse_version("0.8.0") == (0, 8, 0)
    assert parse_version("v0.10") == (0, 10, 0)
    assert parse_version("0.8.0-12-gabc") == (0, 8, 0)
    assert parse_version("unknown") is None and parse_version("") is None


# --- prompt escaping ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("A cat (walks) in the rain", r"A cat \(walks\) in the rain"),
    ("A cat walks in the rain (cinematic:1.2)", r"A cat walks in the rain \(cinematic:1.2\)"),
    ("((nested)) and ) stray (", r"\(\(nested\)\) and \) stray \("),
    (r"already \(escaped\)", r"already \\(escaped\\)"),
    ("a trailing backslash\\", "a trailing backslash\\"),
    ("use embedding:foo here\nembedding:bar", "use embedding :foo here\nembedding :bar"),
    ("Embedding:Foo", "Embedding :Foo"),
    ("no syntax: [x] {y} 1.2", "no syntax: [x] {y} 1.2"),
    ("괄호 (고양이) 문장", r"괄호 \(고양이\) 문장"),
])  # fmt: skip
def test_neutralise_prompt_exact(text: str, expected: str) -> None:
    assert neutralise_prompt(text) == expected


def test_neutralised_text_has_no_bare_parenthesis() -> None:
    # ComfyUI treats "\(" and "\)" as literal and any other "(" / ")" as syntax: after escaping, every
    # parenthesis must be preceded by a backslash.
    for text in ("(a)", "x\\(y)", "((b:2))", "\\\\(c)", "a)b(c"):
        out = neutralise_prompt(text)
        assert not re.search(r"(?<!\\)[()]", out), (text, out)
        assert out.replace("\\(", "(").replace("\\)", ")") == text.replace("embedding:", "embedding :")


def test_sets_escape_only_where_the_tokenizer_parses() -> None:
    text = "A dog (barking:1.3) at night"
    core = build_params(request(text, "low (quality)"), settings_for("core"))
    assert core["positive_prompt"] == r"A dog \(barking:1.3\) at night"
    assert core["negative_prompt"] == r"low \(quality\)"
    # ComfyUI-LTXVideo's Gemma tokenizer hands the text to Hugging Face unparsed: escaping would add backslashes.
    legacy = build_params(request(text, "low (quality)"), settings_for("ltxvideo"))
    assert legacy["positive_prompt"] == text and legacy["negative_prompt"] == "low (quality)"


# --- the files that repeat the declaration -----------------------------------------------------------------


def _dockerfile_args() -> dict[str, str]:
    text = (ROOT / "Dockerfile.comfyui").read_text(encoding="utf-8")
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))


def test_dockerfile_and_compose_pin_the_default_sets_sources() -> None:
    args = _dockerfile_args()
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    # The default set's ComfyUI and every node pack of every set are the defaults; the ltxvideo set's older
    # ComfyUI is a build argument away, and the Dockerfile says which.
    default = workflow_set(DEFAULT_WORKFLOW_SET)
    sources = {source.build_arg: source for wset in all_sets().values() for source in wset.node_packs_sources()}
    sources["COMFYUI_REF"] = default.comfyui
    assert set(sources) == {"COMFYUI_REF", "VHS_REF", "LTXV_REF"}
    for arg, source in sources.items():
        assert args[arg] == source.commit, arg
        assert f"{arg}: ${{{arg}:-{source.commit}}}" in compose, arg
        repo_arg = arg.replace("_REF", "_REPO")
        assert args[repo_arg] == source.repo, repo_arg
    assert sources["COMFYUI_REF"].commit.startswith("2f35f4a0")  # ComfyUI v0.33.0
    ltxvideo = workflow_set("ltxvideo").comfyui
    assert ltxvideo.commit.startswith("3cd7b32f")  # ComfyUI 0.8.0
    assert f"--build-arg COMFYUI_REF={ltxvideo.commit}" in (ROOT / "Dockerfile.comfyui").read_text(encoding="utf-8")


def test_healthcheck_and_docs_name_the_default_sets_files() -> None:
    dockerfile = (ROOT / "Dockerfile.comfyui").read_text(encoding="utf-8")
    docs = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    for file in expected_files(Settings(_env_file=None)):  # what the default set and recipe need
        if not file.optional:
            assert f"{file.folder}/{file.name}" in dockerfile, file.name
    for wset in all_sets().values():
        for model in wset.models:
            assert f"`{model.default}`" in docs, model.default
        for source in wset.sources():
            assert source.commit[:8] in docs, source.name
        assert f"`{wset.name}`" in docs
