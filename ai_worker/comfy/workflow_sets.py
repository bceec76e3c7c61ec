"""The bundled workflow sets: which graphs ship, and what each needs from a ComfyUI server.

This is the one declaration of a set's needs. The client loads its graphs from it, `doctor` checks a server
against it, `Dockerfile.comfyui`'s build-argument defaults and `docs/models.md` repeat it (a test asserts
they agree).

* ``core`` (default): LTX-2 with core ComfyUI nodes only (``LTXAVTextEncoderLoader`` with a single-file
  Gemma 3 12B) plus VideoHelperSuite for the mp4. Fewest moving parts: no node pack that can fall out of
  step with ComfyUI's LTX classes.
* ``ltxvideo``: the spec's graphs with ComfyUI-LTXVideo's ``LTXVGemmaCLIPModelLoader`` (the Hugging Face
  Gemma folder). Pinned to LTXVideo ``82bd963``: from ``5c3d208`` (2026-03-06, LTX-2.3) on, the pack
  passes ``apply_gated_attention`` to ComfyUI's ``CrossAttention``, which ComfyUI 0.8.0 does not take,
  so every job fails in the loader with a TypeError.

Both sets were run end to end on ComfyUI 0.8.0 (commit ``3cd7b32f``) on a CPU with tiny random-weight model
files of the real layout; the ``core`` set (every recipe, LTX-2 and LTX-2.3) also on v0.33.0 (``2f35f4a0``),
which `Dockerfile.comfyui` builds by default; see docs/models.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from config.generations import DEFAULT_GENERATION, GENERATIONS

WorkflowSetName = Literal["core", "ltxvideo"]

BUNDLED_WORKFLOW_DIR = Path(__file__).resolve().parent / "workflows"

MIB = 1024**2

T2V, T2V_DISTILLED = "t2v_ltx2.json", "t2v_ltx2_distilled.json"
I2V, I2V_DISTILLED = "i2v_ltx2.json", "i2v_ltx2_distilled.json"
UPSCALE, I2V_UPSCALE = "t2v_ltx2_upscale.json", "i2v_ltx2_upscale.json"
DEV_UPSCALE, I2V_DEV_UPSCALE = "t2v_ltx2_dev_upscale.json", "i2v_ltx2_dev_upscale.json"


@dataclass(frozen=True)
class Source:
    """A git repository at a pinned commit, and the Dockerfile build argument that holds the commit."""

    name: str
    repo: str
    commit: str
    build_arg: str


@dataclass(frozen=True)
class NodePack:
    """A custom node pack and the node classes of it that a set's graphs use."""

    source: Source
    nodes: frozenset[str]


@dataclass(frozen=True)
class ModelFile:
    """One model file a set needs: the setting that names it, its default name and its models/ folder.

    `min_bytes` is far below the real file's size but far above a placeholder or an LFS pointer, so a file
    the server reports smaller than this is not the real thing.
    """

    setting: str
    folder: str
    default: str
    used_by: tuple[str, ...]
    min_bytes: int
    optional: bool = False


@dataclass(frozen=True)
class WorkflowSet:
    """A folder of graphs and what a server needs to run them."""

    name: WorkflowSetName
    summary: str
    comfyui: Source
    """The newest ComfyUI commit the set was proved on."""
    comfyui_min_version: tuple[int, int, int]
    node_packs: tuple[NodePack, ...]
    models: tuple[ModelFile, ...]
    escape_weight_syntax: bool
    """Whether the graphs' text encoder parses ComfyUI's ``(word:1.2)`` weight syntax (core ComfyUI's
    tokenizers do; ComfyUI-LTXVideo's Gemma tokenizer passes the text to Hugging Face as it is)."""

    @property
    def folder(self) -> Path:
        return BUNDLED_WORKFLOW_DIR / self.name

    @property
    def text_encoder(self) -> ModelFile:
        return next(model for model in self.models if model.setting == "comfyui_text_encoder")

    def sources(self) -> tuple[Source, ...]:
        """ComfyUI and every node pack, pinned."""
        return (self.comfyui, *self.node_packs_sources())

    def node_packs_sources(self) -> tuple[Source, ...]:
        return tuple(pack.source for pack in self.node_packs)


@cache
def all_sets() -> dict[WorkflowSetName, WorkflowSet]:
    """Every bundled set by name (built on first use: nothing runs at import time)."""
    comfyui_0330 = Source("ComfyUI", "https://github.com/comfyanonymous/ComfyUI.git",
                          "2f35f4a08176d993cded35dac3332be4f7287f41", "COMFYUI_REF")  # v0.33.0
    comfyui_080 = Source("ComfyUI", "https://github.com/comfyanonymous/ComfyUI.git",
                         "3cd7b32f1b7e7e90395cefe7d9f9b1f89276d8ce", "COMFYUI_REF")  # 0.8.0
    vhs = NodePack(Source("ComfyUI-VideoHelperSuite", "https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite.git",
                          "4ee72c065db22c9d96c2427954dc69e7b908444b", "VHS_REF"),
                   frozenset({"VHS_VideoCombine"}))
    ltxvideo = NodePack(Source("ComfyUI-LTXVideo", "https://github.com/Lightricks/ComfyUI-LTXVideo.git",
                               "82bd963cdeb66d023bed8c99324a307020907ef8", "LTXV_REF"),
                        frozenset({"LTXVGemmaCLIPModelLoader"}))
    every = (T2V, T2V_DISTILLED, I2V, I2V_DISTILLED, UPSCALE, I2V_UPSCALE, DEV_UPSCALE, I2V_DEV_UPSCALE)
    ltx2 = GENERATIONS[DEFAULT_GENERATION]
    checkpoints = (
        # The real checkpoints are ~27 GB; placeholders and LFS pointers are a few bytes to a few hundred.
        ModelFile("video_model_full", "checkpoints", ltx2.full, (T2V, I2V, DEV_UPSCALE, I2V_DEV_UPSCALE), 100 * MIB),
        ModelFile("video_model_distilled", "checkpoints", ltx2.distilled,
                  (T2V_DISTILLED, I2V_DISTILLED, UPSCALE, I2V_UPSCALE), 100 * MIB),
    )
    upscaler = ModelFile("comfyui_upscale_model", "latent_upscale_models", ltx2.upscaler,
                         (UPSCALE, I2V_UPSCALE, DEV_UPSCALE, I2V_DEV_UPSCALE), 1 * MIB)
    lora = ModelFile("comfyui_distilled_lora", "loras", ltx2.distilled_lora, (DEV_UPSCALE, I2V_DEV_UPSCALE),
                     1 * MIB)
    return {
        "core": WorkflowSet(
            name="core",
            summary="core ComfyUI LTX-2 nodes (LTXAVTextEncoderLoader, single-file Gemma 3 12B) + VideoHelperSuite",
            comfyui=comfyui_0330,
            comfyui_min_version=(0, 8, 0),  # LTXAVTextEncoderLoader with the fp4-mixed Gemma arrived in 0.8.0
            node_packs=(vhs,),
            models=(*checkpoints, ModelFile("comfyui_text_encoder", "text_encoders",
                                            "gemma_3_12B_it_fp4_mixed.safetensors", every, 50 * MIB), upscaler, lora),
            escape_weight_syntax=True,
        ),
        "ltxvideo": WorkflowSet(
            name="ltxvideo",
            summary="ComfyUI-LTXVideo's LTXVGemmaCLIPModelLoader (Hugging Face Gemma 3 12B folder) + VideoHelperSuite",
            comfyui=comfyui_080,
            comfyui_min_version=(0, 8, 0),
            node_packs=(vhs, ltxvideo),
            models=(*checkpoints, ModelFile(
                "comfyui_text_encoder", "text_encoders",
                "gemma-3-12b-it-qat-q4_0-unquantized/model-00001-of-00005.safetensors", every, 50 * MIB),
                upscaler, lora),
            escape_weight_syntax=False,
        ),
    }


DEFAULT_WORKFLOW_SET: WorkflowSetName = "core"


def workflow_set(name: str) -> WorkflowSet:
    """The set called `name`. Raises KeyError naming the known sets."""
    try:
        return all_sets()[name]  # type: ignore[index]
    except KeyError:
        raise KeyError(f"unknown workflow set {name!r}; known: {', '.join(all_sets())}") from None


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"0.8.0"`` (or ``"v0.8.0-12-gabc"``) as a tuple; None when it is not a version."""
    parts = text.strip().lstrip("v").split("-")[0].split(".")
    try:
        numbers = [int(part) for part in parts[:3]]
    except ValueError:
        return None
    if not numbers:
        return None
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]
