"""TEST-ONLY ComfyUI custom node written by `tests.real.make_tiny_models`: a narrow Gemma 3 12B.

Core ComfyUI builds the LTX text encoder's Gemma 3 12B from the class defaults of
``comfy.text_encoders.llama.Gemma3_12B_Config``; no file can make it smaller. This module, loaded by a TEST
server from its custom_nodes/ folder, replaces that class with a subclass whose defaults are narrow (2 heads
of 16, an MLP of 64, a 1024-token vocabulary, a one-layer vision tower). Width (3840) and depth (48 layers)
stay real: the loader routes a file to Gemma 3 12B by its layer-47 keys, and the LTX text projection's input
is 3840 x 49 hidden states. Real Gemma weights cannot load on a server with this file: never put it next to
real models. Nothing is done if ComfyUI changed the class: the import fails and says so.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, cast

import comfy.text_encoders.llama as llama

NAME = "Gemma3_12B_Config"
TINY = {"vocab_size": 1024, "intermediate_size": 64, "num_attention_heads": 2, "num_key_value_heads": 1}
TINY_CLASS_ATTRIBUTES: dict[str, Any] = {
    "head_dim": 16,
    "mm_tokens_per_image": 4,
    "vision_config": {"num_channels": 3, "hidden_act": "gelu_pytorch_tanh", "hidden_size": 16, "image_size": 28,
                      "intermediate_size": 32, "model_type": "siglip_vision_model", "num_attention_heads": 2,
                      "num_hidden_layers": 1, "patch_size": 14},
}


def narrow_config() -> type:
    """The narrow subclass of this ComfyUI's Gemma 3 12B config (idempotent: a second import reuses it)."""
    real: Any = getattr(llama, NAME, None)
    real = getattr(real, "REAL_CONFIG", real)
    if real is None or not dataclasses.is_dataclass(real):
        raise RuntimeError(f"tiny_gemma_shim: comfy.text_encoders.llama.{NAME} is gone or not a dataclass")
    fields = {field.name for field in dataclasses.fields(real)}
    missing = [name for name in TINY if name not in fields]
    missing += [name for name in TINY_CLASS_ATTRIBUTES if not hasattr(real, name)]
    if missing:
        raise RuntimeError(f"tiny_gemma_shim: {NAME} of this ComfyUI has no {missing}; update the shim")
    namespace: dict[str, Any] = {"__annotations__": {name: int for name in TINY}, **TINY,
                                 **TINY_CLASS_ATTRIBUTES, "REAL_CONFIG": real}
    return dataclasses.dataclass(type("TinyGemma3_12B_Config", (cast(type, real),), namespace))


TINY_CONFIG = narrow_config()
setattr(llama, NAME, TINY_CONFIG)
logging.warning("[tiny_gemma_shim] TEST ONLY: Gemma 3 12B narrowed for tiny LTX files; real Gemma weights will "
                "not load on this server")

NODE_CLASS_MAPPINGS: dict[str, Any] = {}
