"""LTX model generations: the model files each needs, and the oldest ComfyUI that runs it.

Declared once here (the settings fill unset file names from it; `doctor`, docs/models.md and the tiny-model
writer follow it). The graphs are the same for every generation: LTX-2.3 added no node class, and core
ComfyUI reads the text projection and the transformer's shape from the checkpoint itself (the text-encoder
loader is therefore given the generation's checkpoint). The Gemma 3 12B text encoder is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GenerationName = Literal["ltx-2", "ltx-2.3"]


@dataclass(frozen=True)
class Generation:
    """One LTX generation's files (names in ComfyUI's models/ folders) and what ComfyUI it needs."""

    name: GenerationName
    summary: str
    full: str
    """The dev (full) checkpoint: models/checkpoints."""
    distilled: str
    """The distilled checkpoint: models/checkpoints."""
    upscaler: str
    """The x2 spatial latent upscaler: models/latent_upscale_models."""
    distilled_lora: str
    """The LoRA that makes the dev model distilled for stage 2 of `dev-two-stage`: models/loras."""
    comfyui_min_version: tuple[int, int, int]


GENERATIONS: dict[GenerationName, Generation] = {
    "ltx-2": Generation(
        name="ltx-2",
        summary="LTX-2 19B (Lightricks/LTX-2)",
        full="ltx-2-19b-dev-fp8.safetensors",
        distilled="ltx-2-19b-distilled-fp8.safetensors",
        upscaler="ltx-2-spatial-upscaler-x2-1.0.safetensors",
        distilled_lora="ltx-2-19b-distilled-lora-384.safetensors",
        comfyui_min_version=(0, 8, 0),
    ),
    "ltx-2.3": Generation(
        name="ltx-2.3",
        summary="LTX-2.3 22B (Lightricks/LTX-2.3)",
        full="ltx-2.3-22b-dev-fp8.safetensors",
        distilled="ltx-2.3-22b-distilled-1.1.safetensors",
        upscaler="ltx-2.3-spatial-upscaler-x2-1.1.safetensors",
        distilled_lora="ltx-2.3-22b-distilled-lora-384-1.1.safetensors",
        # v0.16.0 taught core ComfyUI the LTX-2.3 transformer (gated attention, the two text projections).
        comfyui_min_version=(0, 16, 0),
    ),
}

DEFAULT_GENERATION: GenerationName = "ltx-2"
