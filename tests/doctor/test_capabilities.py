"""doctor's per-generation, per-recipe verdicts from a real server's node schemas (captured, models added)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_worker.comfy.workflow_sets import workflow_set
from ai_worker.doctor.capabilities import check_capabilities
from config.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "fakes" / "data"


def _info(version: str, **files: list[str]) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((DATA / f"object_info_ltx_{version}.json").read_text(encoding="utf-8"))
    places = {"checkpoints": ("CheckpointLoaderSimple", "ckpt_name"),
              "text_encoders": ("LTXAVTextEncoderLoader", "text_encoder"),
              "latent_upscale_models": ("LatentUpscaleModelLoader", "model_name"),
              "loras": ("LoraLoaderModelOnly", "lora_name")}
    for folder, names in files.items():
        cls, name = places[folder]
        spec = info[cls]["input"]["required"][name]
        if spec[0] == "COMBO":
            spec[1]["options"] = names
        else:
            spec[0] = names
    return info


def _stats(version: str) -> dict[str, Any]:
    return {"system": {"comfyui_version": version}}


def _verdicts(stats: dict[str, Any], info: dict[str, Any], **settings: Any) -> list[tuple[str, bool, bool, str]]:
    values = Settings(_env_file=None, **settings)
    checks = check_capabilities(stats, info, workflow_set(values.comfyui_workflow_set), values, server="S")
    return [(c.name, c.ok, c.optional, c.detail) for c in checks]


def test_an_old_server_runs_ltx_2_only_and_says_what_each_recipe_lacks() -> None:
    info = _info("v080", checkpoints=["ltx-2-19b-distilled-fp8.safetensors"],
                 text_encoders=["gemma_3_12B_it_fp4_mixed.safetensors"],
                 latent_upscale_models=["ltx-2-spatial-upscaler-x2-1.0.safetensors"])
    assert _verdicts(_stats("0.8.0"), info) == [
        ("S: generation ltx-2", True, True,
         "runs distilled-two-stage; dev-two-stage needs checkpoints/ltx-2-19b-dev-fp8.safetensors, "
         "loras/ltx-2-19b-distilled-lora-384.safetensors; single-pass needs "
         "checkpoints/ltx-2-19b-dev-fp8.safetensors"),
        ("S: generation ltx-2.3", False, True,
         "LTX-2.3 22B (Lightricks/LTX-2.3) needs ComfyUI 0.16.0 or newer; this server is 0.8.0"),
    ]
    # Configured for LTX-2.3 there, the same answer is a failure, not a warning.
    assert _verdicts(_stats("0.8.0"), info, video_model_generation="ltx-2.3")[1][1:3] == (False, False)


def test_a_current_server_with_every_file_runs_every_recipe_of_both_generations() -> None:
    info = _info("v0330",
                 checkpoints=["ltx-2-19b-dev-fp8.safetensors", "ltx-2-19b-distilled-fp8.safetensors",
                              "ltx-2.3-22b-dev-fp8.safetensors", "ltx-2.3-22b-distilled-1.1.safetensors"],
                 text_encoders=["gemma_3_12B_it_fp4_mixed.safetensors"],
                 latent_upscale_models=["ltx-2-spatial-upscaler-x2-1.0.safetensors",
                                        "ltx-2.3-spatial-upscaler-x2-1.1.safetensors"],
                 loras=["ltx-2-19b-distilled-lora-384.safetensors", "ltx-2.3-22b-distilled-lora-384-1.1.safetensors"])
    every = "runs distilled-two-stage, dev-two-stage, single-pass"
    assert _verdicts(_stats("0.33.0"), info) == [("S: generation ltx-2", True, True, every),
                                                  ("S: generation ltx-2.3", True, True, every)]


def test_the_ltxvideo_set_on_a_newer_server_is_a_warning() -> None:
    verdicts = _verdicts(_stats("0.33.0"), _info("v0330"), comfyui_workflow_set="ltxvideo")
    assert verdicts[0][:3] == ("S: the ltxvideo set on ComfyUI 0.33.0", False, True)
    assert "proved on ComfyUI 0.8.0 only" in verdicts[0][3]
    assert "LTXVGemmaCLIPModelLoader" in verdicts[1][3]
