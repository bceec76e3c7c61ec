"""Tiny random-weight LTX model files of the real key layout, for the `real_comfyui` test tier on a CPU.

    python -m tests.real.make_tiny_models COMFYUI_DIR [--generation ltx-2|ltx-2.3|all] [--seed N]

(default: the default generation, ltx-2; every recipe's files of it: both checkpoints, upscaler, LoRA).

Run it from the repository root in the ComfyUI server's own Python (it needs torch, safetensors and
sentencepiece, and imports ``comfy`` from COMFYUI_DIR). It writes into ``COMFYUI_DIR/models`` every file a
generation's graphs load, under the names `config.generations` gives them (a generation's dev and distilled
checkpoints are hard links of one file; the clips are noise either way), the single-file Gemma 3 text encoder
of the `core` workflow set, and the test-only custom node ``tiny_gemma_shim.py`` into
``COMFYUI_DIR/custom_nodes`` (the text encoder only loads with it). Restart the server afterwards: ComfyUI
caches its folder listings. Downloads nothing. A file this tool did not write is never overwritten.

Every tensor comes from the ComfyUI tree's own classes (``LTXAVModel``, ``Embeddings1DConnector``,
``VideoVAE``, ``LatentUpsampler``, ``Gemma3_12B``) built with tiny sizes, so names and shapes match by
construction; the sizes the loaders cannot read from shapes travel in the safetensors header's ``config``
(its ``transformer`` section), as in Lightricks' files. What tells the generations apart (docs/models.md):

* ``ltx-2``: one text projection ``text_embedding_projection.aggregate_embed.weight`` (3840 x 49 hidden
  states -> 3840) and two 3840-wide, 2-layer text connectors stored under ``model.diffusion_model.``. ComfyUI
  0.8.0 hard-wires those sizes, so this checkpoint is ~2.9 GB; v0.33.0 loads the same file (its
  compatibility path for LTX-2's connectors).
* ``ltx-2.3``: two projections (``...video_aggregate_embed.weight``, ``...audio_aggregate_embed.weight``),
  connectors inside the transformer sized by the header (``connector_*``), gated attention, cross-attention
  AdaLN and the caption projection before the connectors. Tiny (~0.2 GB: the projection input stays
  3840 x 49). Needs ComfyUI v0.16.0 or later.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from config.generations import DEFAULT_GENERATION, GENERATIONS, Generation

MARKER = "wagglebot_tiny_model"
MARKER_TEXT = "random weights for pipeline tests only (tests/real/make_tiny_models.py)"
TEXT_ENCODER = "gemma_3_12B_it_fp4_mixed.safetensors"
SHIM = Path(__file__).resolve().parent / "tiny_gemma_shim.py"

GEMMA_WIDTH, GEMMA_LAYERS = 3840, 48
"""Kept real: the loader routes by the layer-47 keys and the projection reads 3840 x 49 hidden states."""
VIDEO_HEADS, VIDEO_HEAD_DIM = 2, 16
AUDIO_HEADS, AUDIO_HEAD_DIM = 2, 8
LTX2_CONNECTOR = {"heads": 30, "head_dim": 128, "layers": 2}
"""ComfyUI 0.8.0 builds LTX-2's text connectors with these fixed sizes and loads them strictly."""

VAE = {
    "_class_name": "CausalVideoAutoencoder", "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128,
    # x32 in space (a patch of 4, then three compress_all) and x8 in time (the three compress_all)
    "encoder_blocks": [["res_x", {"num_layers": 1}], ["compress_all", {}], ["compress_all", {}], ["compress_all", {}]],
    # ComfyUI recognises the LTX VAE by decoder.up_blocks.0.res_blocks.0: the last decoder block is a res_x
    "decoder_blocks": [["compress_all", {}], ["compress_all", {}], ["compress_all", {}], ["res_x", {"num_layers": 1}]],
    "scaling_factor": 1.0, "norm_layer": "pixel_norm", "patch_size": 4, "latent_log_var": "uniform",
    "use_quant_conv": False, "causal_decoder": False, "timestep_conditioning": False,
}
UPSCALER = {"_class_name": "LatentUpsampler", "in_channels": 128, "mid_channels": 32, "num_blocks_per_stage": 1,
            "dims": 3, "spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 2.0,
            "rational_resampler": False}
LORA_RANK = 4
TOKENIZER_TEXT = (
    "A cat walks along a rainy street at night, neon light on the wet asphalt.\n"
    "The camera pushes in slowly on a desk where paper towers form a small fort.\n"
    "Commuters hurry under umbrellas; a bus splashes through a puddle, people laugh.\n"
    "blurry, low quality, still frame, watermark, overlay, titles, subtitles\n"
    "Close-up of a smiling face in warm sunset light, shallow depth of field, natural motion.\n"
    "비 오는 출근길, 종이 요새, 잃어버린 고양이, 생일 케이크와 촛불, 따뜻한 조명.\n"
    "0 1 2 3 4 5 6 7 8 9 . , ! ? : ; ' \" - ( ) [ ] / \\ & % + = * # @\n"
)


def fail(message: str) -> None:
    sys.stderr.write(f"make_tiny_models: {message}\n")
    raise SystemExit(2)


def transformer_config(generation: Generation) -> dict[str, Any]:
    """The header's ``transformer`` section: what ComfyUI cannot read from the shapes."""
    base: dict[str, Any] = {
        "_class_name": "AVTransformer3DModel", "num_layers": 1,
        "num_attention_heads": VIDEO_HEADS, "attention_head_dim": VIDEO_HEAD_DIM,
        "cross_attention_dim": VIDEO_HEADS * VIDEO_HEAD_DIM,
        "audio_num_attention_heads": AUDIO_HEADS, "audio_attention_head_dim": AUDIO_HEAD_DIM,
        "audio_cross_attention_dim": AUDIO_HEADS * AUDIO_HEAD_DIM, "in_channels": 128, "audio_in_channels": 128,
        "positional_embedding_theta": 10000.0, "positional_embedding_max_pos": [20, 2048, 2048],
        "audio_positional_embedding_max_pos": [20], "timestep_scale_multiplier": 1000, "rope_type": "split",
        "frequencies_precision": "float64",
    }
    if generation.name == "ltx-2":
        width = LTX2_CONNECTOR["heads"] * LTX2_CONNECTOR["head_dim"]
        return {**base, "caption_channels": width, "connector_num_attention_heads": LTX2_CONNECTOR["heads"],
                "connector_attention_head_dim": LTX2_CONNECTOR["head_dim"],
                "connector_num_layers": LTX2_CONNECTOR["layers"]}
    # LTX-2.3: the text arrives already projected to each stream's width, the connectors run at that width.
    return {**base, "caption_channels": VIDEO_HEADS * VIDEO_HEAD_DIM, "apply_gated_attention": True,
            "cross_attention_adaln": True, "caption_proj_before_connector": True,
            "caption_projection_first_linear": False, "connector_apply_gated_attention": True,
            "connector_num_attention_heads": VIDEO_HEADS, "connector_attention_head_dim": VIDEO_HEAD_DIM,
            "audio_connector_num_attention_heads": AUDIO_HEADS, "audio_connector_attention_head_dim": AUDIO_HEAD_DIM,
            "connector_num_layers": 1}


def fill(module: Any, torch: Any, gen: Any) -> None:
    """Small deterministic weights that keep activations finite through every layer."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.ndim == 1 and "norm" in name:
                param.fill_(1.0)
            elif name.endswith("bias"):
                param.zero_()
            elif "scale_shift_table" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.1)
            elif name.endswith("learnable_registers"):
                param.copy_(torch.rand(param.shape, generator=gen) * 2 - 1)
            elif param.ndim >= 2:
                param.copy_(torch.randn(param.shape, generator=gen) / param[0].numel() ** 0.5)
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.02)


def bf16(state: dict[str, Any], prefix: str, torch: Any) -> dict[str, Any]:
    return {prefix + key: value.detach().to(torch.bfloat16).contiguous() for key, value in state.items()}


def random_rows(torch: Any, gen: Any, rows: int, cols: int) -> Any:
    """A bf16 N(0, 1/cols) matrix built a block of rows at a time (no full fp32 copy of 3840 x 188160)."""
    out = torch.empty((rows, cols), dtype=torch.bfloat16)
    for start in range(0, rows, 256):
        count = min(256, rows - start)
        out[start:start + count] = torch.randn((count, cols), generator=gen) / cols ** 0.5
    return out


def build_checkpoint(generation: Generation, seed: int) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Transformer (with LTX-2's connectors beside it), text projection(s) and video VAE, as one file."""
    import comfy.ops
    import torch
    from comfy.ldm.lightricks.av_model import LTXAVModel
    from comfy.ldm.lightricks.embeddings_connector import Embeddings1DConnector
    from comfy.ldm.lightricks.vae.causal_video_autoencoder import VideoVAE

    gen = torch.Generator().manual_seed(seed)
    ops = comfy.ops.disable_weight_init
    config = transformer_config(generation)
    model = LTXAVModel(**{k: v for k, v in config.items() if not k.startswith("_")}, dtype=torch.float32,
                       device="cpu", operations=ops)
    fill(model, torch, gen)
    transformer = bf16(model.state_dict(), "model.diffusion_model.", torch)
    state = dict(transformer)
    projection_in = GEMMA_WIDTH * (GEMMA_LAYERS + 1)
    if generation.name == "ltx-2":
        # 0.8.0 does not build the connectors in the transformer; the real files carry them under its prefix.
        for name in ("video_embeddings_connector", "audio_embeddings_connector"):
            connector = Embeddings1DConnector(num_attention_heads=LTX2_CONNECTOR["heads"],
                                              attention_head_dim=LTX2_CONNECTOR["head_dim"],
                                              num_layers=LTX2_CONNECTOR["layers"], split_rope=True,
                                              double_precision_rope=True, dtype=torch.bfloat16, device="cpu",
                                              operations=ops)
            fill(connector, torch, gen)
            state.update(bf16(connector.state_dict(), f"model.diffusion_model.{name}.", torch))
        state["text_embedding_projection.aggregate_embed.weight"] = random_rows(
            torch, gen, config["caption_channels"], projection_in)
    else:
        for stream, width in (("video", config["cross_attention_dim"]), ("audio", config["audio_cross_attention_dim"])):
            state[f"text_embedding_projection.{stream}_aggregate_embed.weight"] = random_rows(
                torch, gen, width, projection_in)
            state[f"text_embedding_projection.{stream}_aggregate_embed.bias"] = torch.zeros(width,
                                                                                          dtype=torch.bfloat16)
    vae = VideoVAE(config=VAE)
    fill(vae, torch, gen)
    with torch.no_grad():
        for name, buffer in vae.per_channel_statistics.named_buffers():
            if name == "channel":
                buffer.copy_(torch.arange(buffer.numel(), dtype=buffer.dtype))
            elif name == "mean-of-means":
                buffer.zero_()
            else:
                buffer.fill_(1.0)
    state.update(bf16(vae.state_dict(), "vae.", torch))
    header = {"config": json.dumps({"transformer": config, "vae": VAE})}
    return state, header, transformer


def build_text_encoder(seed: int) -> dict[str, Any]:
    """Core ComfyUI's single-file Gemma 3 12B (narrowed by the shim) with its SentencePiece model as the
    ``spiece_model`` uint8 tensor, which is where the core loader reads the tokenizer from."""
    import comfy.ops
    import comfy.text_encoders.llama as llama
    import sentencepiece
    import torch

    sys.path.insert(0, str(SHIM.parent))
    import tiny_gemma_shim  # narrows the config in this process too

    config = llama.Gemma3_12B_Config
    if config is not tiny_gemma_shim.TINY_CONFIG:
        fail("the Gemma shim did not take effect in this ComfyUI")
    with tempfile.TemporaryDirectory() as folder:
        prefix = str(Path(folder) / "spm")
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(TOKENIZER_TEXT.splitlines() * 30), model_prefix=prefix, vocab_size=1000,
            model_type="bpe", byte_fallback=True, character_coverage=1.0, num_threads=1, hard_vocab_limit=False,
            pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
            unk_piece="<unk>", minloglevel=2,
            user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                                  "<end_of_image>", "<image_soft_token>"])
        spm = Path(prefix + ".model").read_bytes()
    gen = torch.Generator().manual_seed(seed + 1)
    model = llama.Gemma3_12B({}, torch.float32, "cpu", comfy.ops.disable_weight_init)
    fill(model, torch, gen)
    state = bf16(model.state_dict(), "", torch)
    state["spiece_model"] = torch.frombuffer(bytearray(spm), dtype=torch.uint8).clone()
    return state


def build_upscaler(seed: int) -> dict[str, Any]:
    import inspect

    import comfy.ops
    import torch
    from comfy.ldm.lightricks.latent_upsampler import LatentUpsampler

    # ComfyUI from v0.1x passes the layer operations in; 0.8.0 takes the config alone.
    takes_ops = "operations" in inspect.signature(LatentUpsampler.from_config).parameters
    model = (LatentUpsampler.from_config(UPSCALER, operations=comfy.ops.disable_weight_init) if takes_ops
             else LatentUpsampler.from_config(UPSCALER))
    fill(model, torch, torch.Generator().manual_seed(seed + 2))
    return {key: value.detach().contiguous() for key, value in model.state_dict().items()}


def build_lora(transformer: dict[str, Any], seed: int) -> dict[str, Any]:
    """A rank-4 LoRA on every Linear of the transformer blocks, in the diffusers naming LoRA files use."""
    import torch

    gen = torch.Generator().manual_seed(seed + 3)
    lora: dict[str, Any] = {}
    for key, weight in transformer.items():
        if ".transformer_blocks." in key and key.endswith(".weight") and weight.ndim == 2:
            base = "diffusion_model." + key.removeprefix("model.diffusion_model.").removesuffix(".weight")
            rows, cols = weight.shape
            lora[f"{base}.lora_A.weight"] = (torch.randn((LORA_RANK, cols), generator=gen) / cols ** 0.5).to(
                torch.bfloat16)
            lora[f"{base}.lora_B.weight"] = (torch.randn((rows, LORA_RANK), generator=gen) * 0.01).to(torch.bfloat16)
    return lora


def ours(path: Path) -> bool:
    """Absent, or a file this tool wrote (its header carries the marker)."""
    if not path.exists():
        return True
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length)) if length < 100_000_000 else {}
    except (OSError, ValueError, struct.error):
        return False
    return MARKER in header.get("__metadata__", {})


def save(state: dict[str, Any], path: Path, header: dict[str, str], written: list[Path]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    save_file(state, str(part), metadata={MARKER: MARKER_TEXT, **header})
    part.replace(path)
    written.append(path)


def link(source: Path, target: Path, written: list[Path]) -> None:
    if target == source:
        return
    target.unlink(missing_ok=True)
    os.link(source, target)
    written.append(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.real.make_tiny_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("comfyui_dir", type=Path, help="the ComfyUI tree of a TEST server")
    parser.add_argument("--generation", choices=[*GENERATIONS, "all"], default=DEFAULT_GENERATION,
                        help=f"which generation's files (default {DEFAULT_GENERATION}; all: every generation)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tree: Path = args.comfyui_dir.resolve()
    if not (tree / "comfy" / "model_management.py").is_file():
        fail(f"{tree} is not a ComfyUI tree (no comfy/model_management.py)")
    sys.path.insert(0, str(tree))
    try:
        import comfy.cli_args
    except ImportError as exc:
        fail(f"cannot import ComfyUI from {tree} ({exc}); run this in that server's Python")
    comfy.cli_args.args.cpu = True  # never probe an accelerator
    started = time.monotonic()
    models = tree / "models"
    generations = list(GENERATIONS.values()) if args.generation == "all" else [GENERATIONS[args.generation]]
    plan = [models / "text_encoders" / TEXT_ENCODER]
    for generation in generations:
        plan += [models / "checkpoints" / generation.full, models / "checkpoints" / generation.distilled,
                 models / "latent_upscale_models" / generation.upscaler, models / "loras" / generation.distilled_lora]
    foreign = [str(path) for path in plan if not ours(path)]
    if foreign:
        fail("refusing to overwrite files this tool did not write: " + ", ".join(foreign))
    shutil.copyfile(SHIM, tree / "custom_nodes" / SHIM.name)
    written: list[Path] = [tree / "custom_nodes" / SHIM.name]
    save(build_text_encoder(args.seed), plan[0], {}, written)
    for generation in generations:
        state, header, transformer = build_checkpoint(generation, args.seed)
        full = models / "checkpoints" / generation.full
        save(state, full, header, written)
        del state
        link(full, models / "checkpoints" / generation.distilled, written)
        save(build_upscaler(args.seed), models / "latent_upscale_models" / generation.upscaler,
             {"config": json.dumps(UPSCALER)}, written)
        save(build_lora(transformer, args.seed), models / "loras" / generation.distilled_lora, {}, written)
    for path in written:
        sys.stdout.write(f"{path.relative_to(tree)}  {path.stat().st_size:,} B\n")
    sys.stdout.write(f"done in {time.monotonic() - started:.0f} s; restart the server so it lists the new files\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
