from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_worker.comfy.workflow_names import LADDER_WORKFLOWS, TWO_STAGE_WORKFLOWS, workflow_name_for
from ai_worker.comfy.workflow_sets import BUNDLED_WORKFLOW_DIR, all_sets
from ai_worker.comfy.workflows import (
    MODEL_FILE_INPUTS,
    STANDARD_PARAMETERS,
    Workflow,
    apply_params,
    build_params,
    load_workflow,
    model_params,
    params_for,
    patch_workflow,
)
from ai_worker.core.errors import WorkflowError
from ai_worker.model.backend import ClipRequest
from config.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "fakes" / "data"
ALL_WORKFLOWS = (*LADDER_WORKFLOWS, *TWO_STAGE_WORKFLOWS)
LTXV = "ltxvideo"
"""The exact-graph tests below pin the spec's LTXVideo set; the core set has its own tests."""
SET_WORKFLOWS = [(set_name, name) for set_name in all_sets() for name in ALL_WORKFLOWS]
GEMMA = "gemma-3-12b-it-qat-q4_0-unquantized/model-00001-of-00005.safetensors"
DISTILLED_SIGMAS = "1., 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0"
STAGE2_SIGMAS = "0.909375, 0.725, 0.421875, 0.0"
NEG = "blurry, low quality, still frame, frames, watermark, overlay, titles, has blurbox, has subtitles"


@pytest.fixture(scope="module")
def object_info() -> dict[str, Any]:
    # /object_info of ComfyUI 0.8.0 + ComfyUI-LTXVideo + VHS for the nodes LTX-2 graphs use.
    data: dict[str, Any] = json.loads((DATA / "doctor_object_info_ltx.json").read_text(encoding="utf-8"))
    # LoraLoaderModelOnly (dev-two-stage) from the same server version's capture.
    data.update(json.loads((DATA / "object_info_ltx_v080.json").read_text(encoding="utf-8")))
    return data


NEWER_INPUTS: dict[str, Any] = json.loads((DATA / "object_info_ltx_v0330.json").read_text(encoding="utf-8"))
"""v0.33.0's schemas: an input only a newer ComfyUI knows (LTXAVTextEncoderLoader's `device`) is ignored by
0.8.0, by its source, so it is no problem there."""


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "video_model_full": "full.safetensors",
        "video_model_distilled": "distilled.safetensors",
        "comfyui_text_encoder": "gemma/model-00001-of-00005.safetensors",
        "comfyui_upscale_model": "up.safetensors",
        "comfyui_workflow_set": LTXV,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_request(**overrides: Any) -> ClipRequest:
    values: dict[str, Any] = {
        "prompt": "A cat walks along a wall as the camera tracks left.",
        "negative_prompt": "blurry",
        "width": 768,
        "height": 512,
        "num_frames": 65,
        "fps": 25,
        "steps": 15,
        "cfg": 3.0,
        "seed": 1234,
        "output_path": Path("/tmp/out/scene_03_attempt_2.mp4"),
    }
    values.update(overrides)
    return ClipRequest(**values)


# --- every bundled workflow is valid against the captured /object_info -------------------------------------


def _spec(object_info: dict[str, Any], class_type: str, input_name: str) -> list[Any] | None:
    sections = object_info[class_type]["input"]
    for section in ("required", "optional"):
        spec = (sections.get(section) or {}).get(input_name)
        if spec is not None:
            return list(spec)
    return None


def _combo_options(spec: list[Any]) -> list[Any] | None:
    if isinstance(spec[0], list):
        return list(spec[0])
    if spec[0] == "COMBO":
        return list(spec[1]["options"])
    return None


def schema_problems(graph: dict[str, Any], object_info: dict[str, Any]) -> list[str]:
    """What ComfyUI's validator would refuse, plus what it silently ignores (unknown inputs, VHS extras)."""
    problems: list[str] = []
    for node_id, node in graph.items():
        cls = node["class_type"]
        if cls not in object_info:
            problems.append(f"{node_id}: unknown class {cls}")
            continue
        info = object_info[cls]
        inputs: dict[str, Any] = node["inputs"]
        for name in info["input"].get("required", {}):
            if name not in inputs:
                problems.append(f"{node_id}.{name}: required input missing")
        vhs_extras: dict[str, list[Any]] = {}
        if cls == "VHS_VideoCombine":
            formats = info["input"]["required"]["format"][1]["formats"]
            vhs_extras = {extra[0]: extra for extra in formats.get(inputs.get("format"), [])}
        for name, value in inputs.items():
            spec = _spec(object_info, cls, name)
            if spec is None and _spec(NEWER_INPUTS, cls, name) is not None:
                continue
            if spec is None:
                if name in vhs_extras:
                    extra = vhs_extras[name]
                    if isinstance(extra[1], list) and value not in extra[1]:
                        problems.append(f"{node_id}.{name}: {value!r} not a {inputs['format']} option")
                    continue
                problems.append(f"{node_id}.{name}: not an input of {cls}")
                continue
            if isinstance(value, list):
                source = graph.get(value[0])
                if source is None:
                    problems.append(f"{node_id}.{name}: links to missing node {value[0]}")
                    continue
                outputs = object_info[source["class_type"]]["output"]
                if not 0 <= value[1] < len(outputs):
                    problems.append(f"{node_id}.{name}: output slot {value[1]} out of range")
                elif isinstance(spec[0], str) and outputs[value[1]] != spec[0]:
                    problems.append(f"{node_id}.{name}: gets {outputs[value[1]]}, wants {spec[0]}")
                continue
            options = _combo_options(spec)
            if options is not None:
                # Model files and uploaded images depend on the server's disk, not on the schema.
                if (
                    name not in MODEL_FILE_INPUTS
                    and not (cls == "LoadImage" and name == "image")
                    and value not in options
                ):
                    problems.append(f"{node_id}.{name}: {value!r} not in list")
                continue
            kind = spec[0]
            limits = spec[1] if len(spec) > 1 else {}
            if kind == "INT" and not (isinstance(value, int) and not isinstance(value, bool)):
                problems.append(f"{node_id}.{name}: {value!r} is not an INT")
            elif kind == "FLOAT" and not (isinstance(value, int | float) and not isinstance(value, bool)):
                problems.append(f"{node_id}.{name}: {value!r} is not a FLOAT")
            elif kind == "BOOLEAN" and not isinstance(value, bool):
                problems.append(f"{node_id}.{name}: {value!r} is not a BOOLEAN")
            elif kind == "STRING" and not isinstance(value, str):
                problems.append(f"{node_id}.{name}: {value!r} is not a STRING")
            if kind in ("INT", "FLOAT") and isinstance(value, int | float):
                if "min" in limits and value < limits["min"]:
                    problems.append(f"{node_id}.{name}: {value} below min {limits['min']}")
                if "max" in limits and value > limits["max"]:
                    problems.append(f"{node_id}.{name}: {value} above max {limits['max']}")
    if not any(
        object_info[n["class_type"]].get("output_node") for n in graph.values() if n["class_type"] in object_info
    ):
        problems.append("no output node")
    return problems


@pytest.mark.parametrize(("set_name", "name"), SET_WORKFLOWS)
def test_bundled_workflow_is_valid_against_object_info(set_name: str, name: str, object_info: dict[str, Any]) -> None:
    workflow = load_workflow(name, set_name=set_name)
    assert schema_problems(workflow.graph, object_info) == []


@pytest.mark.parametrize(("set_name", "name"), SET_WORKFLOWS)
def test_patched_workflow_stays_valid(set_name: str, name: str, object_info: dict[str, Any]) -> None:
    workflow = load_workflow(name, set_name=set_name)
    settings = make_settings(comfyui_workflow_set=set_name)
    params = build_params(make_request(init_image=Path("x.png")), settings, init_image_name="up.png")
    graph = patch_workflow(workflow, params_for(workflow, params))
    assert schema_problems(graph, object_info) == []


def test_schema_check_catches_mistakes(object_info: dict[str, Any]) -> None:
    graph = load_workflow("t2v_ltx2.json", set_name=LTXV).graph
    broken = json.loads(json.dumps(graph))
    del broken["7"]["inputs"]["terminal"]
    broken["10"]["inputs"]["sampler_name"] = "Euler"
    broken["9"]["inputs"]["model"] = ["1", 1]
    broken["13"]["inputs"]["pix_fmt"] = "rgb24"
    broken["6"]["inputs"]["lenght"] = 97
    assert schema_problems(broken, object_info) == [
        "6.lenght: not an input of EmptyLTXVLatentVideo",
        "7.terminal: required input missing",
        "9.model: gets CLIP, wants MODEL",
        "10.sampler_name: 'Euler' not in list",
        "13.pix_fmt: 'rgb24' not a video/h264-mp4 option",
    ]


def test_every_bundled_file_is_directly_postable_json() -> None:
    assert sorted(p.name for p in BUNDLED_WORKFLOW_DIR.iterdir()) == sorted(all_sets())
    for wset in all_sets().values():
        names = sorted(p.name for p in wset.folder.glob("*.json"))
        assert names == sorted(ALL_WORKFLOWS)
        for name in names:
            data = json.loads((wset.folder / name).read_text(encoding="utf-8"))
            for node in data.values():
                assert set(node) == {"class_type", "inputs", "_meta"}
                assert isinstance(node["_meta"]["title"], str)


# --- declared parameters ------------------------------------------------------------------------------------

COMMON = {
    "checkpoint": [("1", "ckpt_name"), ("2", "ltxv_path")],
    "text_encoder": [("2", "gemma_path")],
    "positive_prompt": [("3", "text")],
    "negative_prompt": [("4", "text")],
    "frame_rate": [("5", "frame_rate"), ("13", "frame_rate")],
    "length": [("6", "length")],
    "noise_seed": [("8", "noise_seed")],
    "filename_prefix": [("13", "filename_prefix")],
}


def test_declared_parameters_exact() -> None:
    size = {"width": [("6", "width")], "height": [("6", "height")]}
    i2v_size = {"width": [("6", "width"), ("15", "width")], "height": [("6", "height"), ("15", "height")]}
    full = {"steps": [("7", "steps")], "cfg": [("9", "cfg")]}
    i2v = {"init_image": [("14", "image")], "strength": [("17", "strength")]}
    assert load_workflow("t2v_ltx2.json", set_name=LTXV).parameters == {**COMMON, **size, **full}
    assert load_workflow("t2v_ltx2_distilled.json", set_name=LTXV).parameters == {**COMMON, **size}
    assert load_workflow("i2v_ltx2.json", set_name=LTXV).parameters == {**COMMON, **i2v_size, **full, **i2v}
    assert load_workflow("i2v_ltx2_distilled.json", set_name=LTXV).parameters == {**COMMON, **i2v_size, **i2v}
    assert load_workflow("t2v_ltx2_upscale.json", set_name=LTXV).parameters == {
        **COMMON,
        "width": [("20", "width")],
        "height": [("20", "height")],
        "upscale_model": [("23", "model_name")],
    }
    for set_name, name in SET_WORKFLOWS:
        assert set(load_workflow(name, set_name=set_name).parameters) <= set(STANDARD_PARAMETERS)


def test_node_classes_and_model_files() -> None:
    upscale = load_workflow("t2v_ltx2_upscale.json", set_name=LTXV)
    assert upscale.node_classes() == {
        "CheckpointLoaderSimple", "LTXVGemmaCLIPModelLoader", "CLIPTextEncode", "LTXVConditioning",
        "EmptyLTXVLatentVideo", "ManualSigmas", "RandomNoise", "CFGGuider", "KSamplerSelect",
        "SamplerCustomAdvanced", "VAEDecode", "VHS_VideoCombine", "EmptyImage", "ImageScaleBy", "GetImageSize",
        "LatentUpscaleModelLoader", "LTXVLatentUpsampler",
    }  # fmt: skip
    assert upscale.model_files() == {
        "ckpt_name": {"ltx-2-19b-distilled-fp8.safetensors"},
        "ltxv_path": {"ltx-2-19b-distilled-fp8.safetensors"},
        "gemma_path": {GEMMA},
        "model_name": {"ltx-2-spatial-upscaler-x2-1.0.safetensors"},
    }
    patched = apply_params(upscale, params_for(upscale, model_params("distilled", make_settings())))
    assert patched.model_files() == {
        "ckpt_name": {"distilled.safetensors"},
        "ltxv_path": {"distilled.safetensors"},
        "gemma_path": {"gemma/model-00001-of-00005.safetensors"},
        "model_name": {"up.safetensors"},
    }
    # apply_params keeps placeholders (they are filled per request) and leaves the original alone.
    assert patched.graph["3"]["inputs"]["text"] == "{{positive_prompt}}"
    assert upscale.graph["1"]["inputs"]["ckpt_name"] == "ltx-2-19b-distilled-fp8.safetensors"


# --- exact patched graphs --------------------------------------------------------------------------------------


def inputs_of(graph: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {node_id: (node["class_type"], node["inputs"]) for node_id, node in graph.items()}


def test_patch_t2v_full_exact() -> None:
    workflow = load_workflow("t2v_ltx2.json", set_name=LTXV)
    params = params_for(workflow, build_params(make_request(), make_settings()))
    graph = patch_workflow(workflow, params)
    assert inputs_of(graph) == {
        "1": ("CheckpointLoaderSimple", {"ckpt_name": "full.safetensors"}),
        "2": ("LTXVGemmaCLIPModelLoader", {"gemma_path": "gemma/model-00001-of-00005.safetensors",
                                           "ltxv_path": "full.safetensors", "max_length": 1024}),
        "3": ("CLIPTextEncode", {"text": "A cat walks along a wall as the camera tracks left.", "clip": ["2", 0]}),
        "4": ("CLIPTextEncode", {"text": "blurry", "clip": ["2", 0]}),
        "5": ("LTXVConditioning", {"positive": ["3", 0], "negative": ["4", 0], "frame_rate": 25}),
        "6": ("EmptyLTXVLatentVideo", {"width": 768, "height": 512, "length": 65, "batch_size": 1}),
        "7": ("LTXVScheduler", {"steps": 15, "max_shift": 2.05, "base_shift": 0.95, "stretch": True,
                                "terminal": 0.1, "latent": ["6", 0]}),
        "8": ("RandomNoise", {"noise_seed": 1234}),
        "9": ("CFGGuider", {"model": ["1", 0], "positive": ["5", 0], "negative": ["5", 1], "cfg": 3.0}),
        "10": ("KSamplerSelect", {"sampler_name": "euler"}),
        "11": ("SamplerCustomAdvanced", {"noise": ["8", 0], "guider": ["9", 0], "sampler": ["10", 0],
                                         "sigmas": ["7", 0], "latent_image": ["6", 0]}),
        "12": ("VAEDecode", {"samples": ["11", 0], "vae": ["1", 2]}),
        "13": ("VHS_VideoCombine", {"images": ["12", 0], "frame_rate": 25, "loop_count": 0,
                                    "filename_prefix": "wagglebot/scene_03_attempt_2", "format": "video/h264-mp4",
                                    "pingpong": False, "save_output": True, "pix_fmt": "yuv420p", "crf": 19,
                                    "save_metadata": False, "trim_to_audio": False}),
    }  # fmt: skip
    # the loaded workflow is untouched
    assert workflow.graph["3"]["inputs"]["text"] == "{{positive_prompt}}"


def test_patch_i2v_distilled_exact() -> None:
    workflow = load_workflow("i2v_ltx2_distilled.json", set_name=LTXV)
    request = make_request(model="distilled", steps=8, cfg=1.0, strength=0.9, init_image=Path("img.jpg"))
    params = params_for(workflow, build_params(request, make_settings(), init_image_name="scene3 (1).png"))
    assert "steps" not in params and "cfg" not in params
    graph = patch_workflow(workflow, params)
    assert inputs_of(graph) == {
        "1": ("CheckpointLoaderSimple", {"ckpt_name": "distilled.safetensors"}),
        "2": ("LTXVGemmaCLIPModelLoader", {"gemma_path": "gemma/model-00001-of-00005.safetensors",
                                           "ltxv_path": "distilled.safetensors", "max_length": 1024}),
        "3": ("CLIPTextEncode", {"text": "A cat walks along a wall as the camera tracks left.", "clip": ["2", 0]}),
        "4": ("CLIPTextEncode", {"text": "blurry", "clip": ["2", 0]}),
        "5": ("LTXVConditioning", {"positive": ["3", 0], "negative": ["4", 0], "frame_rate": 25}),
        "6": ("EmptyLTXVLatentVideo", {"width": 768, "height": 512, "length": 65, "batch_size": 1}),
        "7": ("ManualSigmas", {"sigmas": DISTILLED_SIGMAS}),
        "8": ("RandomNoise", {"noise_seed": 1234}),
        "9": ("CFGGuider", {"model": ["1", 0], "positive": ["5", 0], "negative": ["5", 1], "cfg": 1.0}),
        "10": ("KSamplerSelect", {"sampler_name": "euler"}),
        "11": ("SamplerCustomAdvanced", {"noise": ["8", 0], "guider": ["9", 0], "sampler": ["10", 0],
                                         "sigmas": ["7", 0], "latent_image": ["17", 0]}),
        "12": ("VAEDecode", {"samples": ["11", 0], "vae": ["1", 2]}),
        "13": ("VHS_VideoCombine", {"images": ["12", 0], "frame_rate": 25, "loop_count": 0,
                                    "filename_prefix": "wagglebot/scene_03_attempt_2", "format": "video/h264-mp4",
                                    "pingpong": False, "save_output": True, "pix_fmt": "yuv420p", "crf": 19,
                                    "save_metadata": False, "trim_to_audio": False}),
        "14": ("LoadImage", {"image": "scene3 (1).png"}),
        "15": ("ImageScale", {"image": ["14", 0], "upscale_method": "lanczos", "width": 768, "height": 512,
                              "crop": "disabled"}),
        "16": ("LTXVPreprocess", {"image": ["15", 0], "img_compression": 33}),
        "17": ("LTXVImgToVideoInplace", {"vae": ["1", 2], "image": ["16", 0], "latent": ["6", 0],
                                         "strength": 0.9, "bypass": False}),
    }  # fmt: skip


def test_upscale_workflow_is_two_stage_at_half_size() -> None:
    workflow = load_workflow("t2v_ltx2_upscale.json", set_name=LTXV)
    graph = patch_workflow(
        workflow,
        params_for(workflow, build_params(make_request(width=1280, height=704, model="distilled"), make_settings())),
    )
    assert graph["20"]["inputs"] | {} == {"width": 1280, "height": 704, "batch_size": 1, "color": 0}
    assert graph["21"]["inputs"] == {"image": ["20", 0], "upscale_method": "nearest-exact", "scale_by": 0.5}
    assert graph["6"]["inputs"] == {"width": ["22", 0], "height": ["22", 1], "length": 65, "batch_size": 1}
    assert graph["7"]["inputs"] == {"sigmas": DISTILLED_SIGMAS}
    assert graph["24"]["inputs"] == {"samples": ["11", 1], "upscale_model": ["23", 0], "vae": ["1", 2]}
    assert graph["23"]["inputs"] == {"model_name": "up.safetensors"}
    assert graph["25"]["inputs"] == {"sigmas": STAGE2_SIGMAS}
    assert graph["26"]["inputs"]["latent_image"] == ["24", 0]
    assert graph["12"]["inputs"]["samples"] == ["26", 0]
    # defaults are multiples of 64, as the two-stage pipeline needs
    defaults = workflow.graph["20"]["inputs"]
    assert defaults["width"] % 64 == 0 and defaults["height"] % 64 == 0


def test_frame_rate_is_one_value_everywhere() -> None:
    for name in ALL_WORKFLOWS:
        workflow = load_workflow(name, set_name=LTXV)
        graph = patch_workflow(
            workflow,
            params_for(
                workflow,
                build_params(make_request(fps=30, init_image=Path("a.png")), make_settings(), init_image_name="a.png"),
            ),
        )
        rates = {node["inputs"]["frame_rate"] for node in graph.values() if "frame_rate" in node["inputs"]}
        assert rates == {30}, name


def test_defaults_agree_between_nodes() -> None:
    for name in ALL_WORKFLOWS:
        graph = load_workflow(name, set_name=LTXV).graph
        assert graph["1"]["inputs"]["ckpt_name"] == graph["2"]["inputs"]["ltxv_path"]
        assert graph["5"]["inputs"]["frame_rate"] == graph["13"]["inputs"]["frame_rate"]


# --- errors -----------------------------------------------------------------------------------------------------


def test_unknown_parameter_is_an_error() -> None:
    workflow = load_workflow("t2v_ltx2_distilled.json", set_name=LTXV)
    with pytest.raises(WorkflowError, match=r"does not take parameter\(s\) cfg, steps"):
        patch_workflow(workflow, {"positive_prompt": "x", "steps": 8, "cfg": 1.0})


def test_unfilled_placeholder_is_an_error() -> None:
    with pytest.raises(WorkflowError, match=r"3\.text: \{\{positive_prompt\}\}"):
        patch_workflow(load_workflow("t2v_ltx2.json", set_name=LTXV), {"width": 768})
    with pytest.raises(WorkflowError, match=r"14\.image: \{\{init_image\}\}"):
        patch_workflow(load_workflow("i2v_ltx2.json", set_name=LTXV), {"positive_prompt": "x"})


def test_values_set_by_the_patch_are_not_placeholders() -> None:
    t2v = load_workflow("t2v_ltx2.json", set_name=LTXV)
    graph = patch_workflow(t2v, {"positive_prompt": "literal {{braces}} in a prompt"})
    assert graph["3"]["inputs"]["text"] == "literal {{braces}} in a prompt"


def test_values_must_be_scalars() -> None:
    with pytest.raises(WorkflowError, match="parameter 'width': dict"):
        patch_workflow(load_workflow("t2v_ltx2.json", set_name=LTXV), {"positive_prompt": "x", "width": {"a": 1}})
    i2v = load_workflow("i2v_ltx2.json", set_name=LTXV)
    graph = patch_workflow(i2v, {"positive_prompt": "x", "init_image": Path("a.png")})
    assert graph["14"]["inputs"]["image"] == "a.png"


def test_build_params_exact() -> None:
    settings = make_settings()
    assert build_params(make_request(), settings) == {
        "positive_prompt": "A cat walks along a wall as the camera tracks left.",
        "negative_prompt": "blurry",
        "width": 768,
        "height": 512,
        "length": 65,
        "frame_rate": 25,
        "steps": 15,
        "cfg": 3.0,
        "noise_seed": 1234,
        "strength": 0.75,
        "checkpoint": "full.safetensors",
        "text_encoder": "gemma/model-00001-of-00005.safetensors",
        "filename_prefix": "wagglebot/scene_03_attempt_2",
        "upscale_model": "up.safetensors",
        "distilled_lora": "ltx-2-19b-distilled-lora-384.safetensors",
    }
    distilled = build_params(
        make_request(model="distilled", init_image=Path("a.png")), settings, init_image_name="a_1.png"
    )
    assert distilled["checkpoint"] == "distilled.safetensors"
    assert distilled["init_image"] == "a_1.png"
    assert set(distilled) == set(STANDARD_PARAMETERS)


def test_build_params_i2v_needs_the_uploaded_name() -> None:
    with pytest.raises(WorkflowError, match="init_image_name"):
        build_params(make_request(init_image=Path("a.png")), make_settings())


def test_filename_prefix_is_made_safe() -> None:
    params = build_params(make_request(output_path=Path("/x/../씬 1.mp4")), make_settings())
    prefix = str(params["filename_prefix"])
    assert prefix.startswith("wagglebot/") and ".." not in prefix and " " not in prefix
    assert prefix.count("/") == 1


def test_params_for_keeps_only_declared() -> None:
    workflow = load_workflow("t2v_ltx2_distilled.json", set_name=LTXV)
    assert params_for(workflow, {"steps": 8, "cfg": 1, "width": 64, "unknown": 1}) == {"width": 64}


def test_workflow_name_for() -> None:
    assert workflow_name_for("t2v", "full") == "t2v_ltx2.json"
    assert workflow_name_for("t2v", "distilled") == "t2v_ltx2_distilled.json"
    assert workflow_name_for("i2v", "full") == "i2v_ltx2.json"
    assert workflow_name_for("i2v", "distilled") == "i2v_ltx2_distilled.json"
    assert workflow_name_for("t2v", "distilled", two_stage=True) == "t2v_ltx2_upscale.json"
    assert workflow_name_for("i2v", "distilled", two_stage=True) == "i2v_ltx2_upscale.json"
    assert workflow_name_for("t2v", "full", two_stage=True) == "t2v_ltx2_dev_upscale.json"
    assert workflow_name_for("i2v", "full", two_stage=True) == "i2v_ltx2_dev_upscale.json"
    with pytest.raises(WorkflowError, match="no workflow"):
        workflow_name_for("v2v", "full")  # type: ignore[arg-type]


# --- user folder and bad files ---------------------------------------------------------------------------------

MINI: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0},
          "_meta": {"title": "Size", "parameters": {"width": "width", "height": "height"}}},
    "2": {"class_type": "VHS_VideoCombine",
          "inputs": {"images": ["1", 0], "frame_rate": 8, "loop_count": 0, "filename_prefix": "{{filename_prefix}}",
                     "format": "video/h264-mp4", "pingpong": False, "save_output": True},
          "_meta": {"title": "Save", "parameters": {"filename_prefix": "filename_prefix", "frame_rate": "frame_rate"}}},
}  # fmt: skip


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_user_folder_is_searched_first(tmp_path: Path) -> None:
    path = write(tmp_path, "t2v_ltx2.json", MINI)
    workflow = load_workflow("t2v_ltx2.json", user_dir=tmp_path)
    assert workflow.source == path
    assert workflow.parameters == {
        "width": [("1", "width")],
        "height": [("1", "height")],
        "filename_prefix": [("2", "filename_prefix")],
        "frame_rate": [("2", "frame_rate")],
    }
    graph = patch_workflow(workflow, {"filename_prefix": "p/x", "width": 128})
    assert graph["1"]["inputs"]["width"] == 128 and graph["2"]["inputs"]["filename_prefix"] == "p/x"
    # a name the user folder lacks falls back to the bundled file
    bundled = load_workflow("i2v_ltx2.json", user_dir=tmp_path)
    assert bundled.source == BUNDLED_WORKFLOW_DIR / "core" / "i2v_ltx2.json"
    legacy = load_workflow("i2v_ltx2.json", user_dir=tmp_path, set_name=LTXV)
    assert legacy.source == BUNDLED_WORKFLOW_DIR / "ltxvideo" / "i2v_ltx2.json"
    with pytest.raises(WorkflowError, match="unknown workflow set 'nope'"):
        load_workflow("i2v_ltx2.json", set_name="nope")


def _bad(tmp_path: Path, data: object) -> str:
    write(tmp_path, "bad.json", data)
    with pytest.raises(WorkflowError) as info:
        load_workflow("bad.json", user_dir=tmp_path)
    return str(info.value)


def _with(node_id: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(MINI))
    for key, value in changes.items():
        if value is None:
            del data[node_id][key]
        else:
            data[node_id][key] = value
    return data


def test_bad_files(tmp_path: Path) -> None:
    assert "not JSON" in _bad(tmp_path, "{not json")
    assert "expected a JSON object of nodes" in _bad(tmp_path, [1, 2])
    assert "UI format" in _bad(tmp_path, {"nodes": [], "links": [], "version": 0.4})
    assert "no nodes" in _bad(tmp_path, {})
    assert "node '1' is not an object" in _bad(tmp_path, {"1": 5})
    assert "node '1' has no class_type" in _bad(tmp_path, _with("1", class_type=None))
    assert "'inputs' is not an object" in _bad(tmp_path, _with("1", inputs=[1]))
    assert "'_meta' is not an object" in _bad(tmp_path, _with("1", _meta="x"))
    assert "must map input name" in _bad(tmp_path, _with("1", _meta={"parameters": ["width"]}))
    assert "not an identifier" in _bad(tmp_path, _with("1", _meta={"parameters": {"width": "the width"}}))
    assert "which the node does not have" in _bad(tmp_path, _with("1", _meta={"parameters": {"depth": "depth"}}))
    assert "which is a link" in _bad(tmp_path, _with("2", _meta={"parameters": {"images": "images"}}))
    bad_link = _with("2", inputs={**MINI["2"]["inputs"], "images": ["9", 0]})
    assert "links to missing node '9'" in _bad(tmp_path, bad_link)
    short_link = _with("2", inputs={**MINI["2"]["inputs"], "images": ["1"]})
    assert "a link must be [node_id, output_index]" in _bad(tmp_path, short_link)
    undeclared = _with("2", _meta={"title": "Save"})
    assert "could never be filled" in _bad(tmp_path, undeclared)


def test_bad_names_and_missing_files(tmp_path: Path) -> None:
    for name in ("../t2v_ltx2.json", "t2v_ltx2", "", "sub/x.json"):
        with pytest.raises(WorkflowError, match="plain file name"):
            load_workflow(name, user_dir=tmp_path)
    with pytest.raises(WorkflowError, match="not found"):
        load_workflow("nope.json", user_dir=tmp_path)
    (tmp_path / "latin1.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(WorkflowError, match="cannot read"):
        load_workflow("latin1.json", user_dir=tmp_path)


def test_workflow_is_a_frozen_value() -> None:
    workflow = Workflow(name="x.json", graph={"1": {"class_type": "A", "inputs": {}}})
    assert workflow.node_classes() == {"A"} and workflow.model_files() == {}
    with pytest.raises(AttributeError):
        workflow.name = "y.json"  # type: ignore[misc]


def test_ladder_workflows_are_the_mode_model_matrix() -> None:
    names = {workflow_name_for(mode, model) for mode in ("t2v", "i2v") for model in ("full", "distilled")}
    assert set(LADDER_WORKFLOWS) == names
