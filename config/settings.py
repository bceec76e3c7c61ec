"""Every setting of the video stage, typed, read from the environment and `.env`.

This is the only module that reads the environment. Build one `Settings` with `load_settings()` at the
edge (the CLI, the pipeline's entry) and pass it down; library code never calls it itself.

The spec's table (docs/spec.md, 'Settings') comes first, with its defaults; settings this project adds follow.
Where the spec's number is only a choice, the official LTX-2 value is noted beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.generations import DEFAULT_GENERATION, GENERATIONS, GenerationName

RecipeName = Literal["distilled-two-stage", "dev-two-stage", "single-pass"]
BackendChoice = Literal["auto", "comfyui", "local"]
VramMode = Literal["lowvram", "novram", "normalvram", "highvram", "gpu-only", "cpu"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STYLES_PATH = Path(__file__).resolve().parent / "video_styles.json"
DEFAULT_WORKFLOW_DIR = PROJECT_ROOT / "ai_worker" / "comfy" / "workflows"


def _split_csv(value: object) -> object:
    """Accept `a,b,c` (the form an environment variable can hold) as well as a JSON list."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            import json

            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


def _parse_size(value: object) -> object:
    """Accept `1280x720`, `1280,720` or a two-item list for a resolution."""
    if isinstance(value, str):
        for sep in ("x", "X", ","):
            if sep in value:
                left, right = value.split(sep, 1)
                return (int(left.strip().strip("([")), int(right.strip().strip(")]")))
        raise ValueError(f"expected WIDTHxHEIGHT, got {value!r}")
    return value


class Settings(BaseSettings):
    """The whole configuration of the video stage."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    # --- the spec's table (docs/spec.md, 'Settings') --------------------------------------------------
    comfyui_url: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://comfyui:8188"],
        description="ComfyUI server URL, or several separated by commas (one per GPU).",
    )
    comfyui_vram_mode: VramMode = "lowvram"
    comfyui_reserve_vram: float = Field(default=2, ge=0)
    video_gen_enabled: bool = False
    video_gen_timeout: float = Field(default=300, gt=0, description="Seconds one clip may take.")
    video_model_generation: GenerationName = Field(
        default=DEFAULT_GENERATION, description="Which LTX generation's files the graphs load: ltx-2 or ltx-2.3 "
        "(config/generations.py); VIDEO_MODEL_FULL, VIDEO_MODEL_DISTILLED, COMFYUI_UPSCALE_MODEL and "
        "COMFYUI_DISTILLED_LORA default to its files.",
    )
    video_recipe: RecipeName = Field(
        default="distilled-two-stage", description="How a clip is sampled (ai_worker/model/recipes.py): "
        "distilled-two-stage (Lightricks' recommended pipeline), dev-two-stage (ComfyUI's LTX-2 template), "
        "single-pass (the spec's one full-resolution pass).",
    )
    video_model_full: str = ""
    video_model_distilled: str = ""
    video_resolution: Annotated[tuple[int, int], NoDecode] = (1280, 720)
    video_resolution_fallback: Annotated[tuple[int, int], NoDecode] = (768, 512)
    # Official LTX-2 workflows use 121 frames (about 5 s); 97 is the spec's choice.
    video_num_frames: int = Field(default=97, ge=1)
    video_num_frames_fallback: int = Field(default=65, ge=1)
    video_fps: int = Field(default=24, ge=1, le=120)
    video_steps: int = Field(default=20, ge=1)
    video_steps_distilled: int = Field(default=8, ge=1)
    # Official full-model CFG is 4.0; 3.5 is the spec's choice.
    video_cfg: float = Field(default=3.5, ge=0)
    video_cfg_distilled: float = Field(default=1.0, ge=0)
    video_i2v_threshold: float = Field(default=0.6, ge=0, le=1)
    # Official I2V strength is 1.0 (first frame kept exactly); 0.75 is the spec's choice.
    video_i2v_denoise: float = Field(default=0.75, ge=0, le=1)
    video_max_clips_per_post: int = Field(default=8, ge=0)
    video_max_retry: int = Field(default=4, ge=1, le=4)
    video_output_dir: Path = Path("media/tmp/videos")

    # --- clip length from the narration (the origin system's caps: 145 frames, 73 on the lower rungs) --------
    video_max_frames: int = Field(
        default=145, ge=9, description="Most frames a clip with narration may ask for at rungs 1-2 (1 + 8k)."
    )
    video_max_frames_fallback: int = Field(
        default=73, ge=9, description="Most frames a clip with narration may ask for at the fallback rungs 3-4."
    )

    # --- the ladder's third rung (docs/spec.md, 'Fallback ladder', gives it 15 steps) ---------------------
    video_steps_fallback: int = Field(default=15, ge=1)

    # --- Phase 7 orchestration (VideoManager) ----------------------------------------------------------------
    video_server_max_failures: int = Field(
        default=3, ge=1, description="Server faults in a row (transport, timeout, lost prompt) before a post drops it."
    )

    # --- backend choice and output ------------------------------------------------------------------------
    video_backend: BackendChoice = "auto"
    output_dir: Path = Path("media")

    # --- ComfyUI beyond the spec ---------------------------------------------------------------------------
    comfyui_auth_header: str | None = Field(
        default=None, description="A full header line for a server behind a proxy, e.g. 'Authorization: Bearer X'."
    )
    comfyui_workflow_dir: Path | None = Field(
        default=None, description="A folder of the user's own API-format workflows, used before the bundled ones."
    )
    comfyui_shared_output_dir: Path | None = Field(
        default=None, description="ComfyUI's output folder as seen from here (a shared volume), if there is one."
    )
    comfyui_health_timeout: float = Field(default=5.0, gt=0)
    comfyui_http_timeout: float = Field(default=30.0, gt=0)
    comfyui_poll_interval: float = Field(default=3.0, gt=0)
    comfyui_queue_timeout: float = Field(
        default=900.0, gt=0, description="Seconds a prompt may wait in the server queue before it starts; "
        "VIDEO_GEN_TIMEOUT counts from the start.",
    )
    comfyui_max_poll_errors: int = Field(default=10, ge=1)
    comfyui_download_max_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="Largest clip accepted from GET /view (bytes)."
    )
    comfyui_download_deadline: float = Field(
        default=600.0, gt=0, description="Seconds one clip download from GET /view may take in all."
    )
    comfyui_max_response_bytes: int = Field(
        default=64 * 1024**2, gt=0, description="Largest JSON answer read from a server (/object_info, /history...)."
    )
    comfyui_bench_seconds: float = Field(default=60.0, ge=0, description="How long a failing server is benched.")
    comfyui_bench_rechecks: int = Field(
        default=3, ge=0, description="While every server is benched, queued scenes wait for this many failed "
        "re-checks of each server (about this many times COMFYUI_BENCH_SECONDS) before they end as unavailable.",
    )
    comfyui_workflow_set: Literal["core", "ltxvideo"] = Field(
        default="core", description="Which bundled LTX-2 workflows run: core ComfyUI nodes, or ComfyUI-LTXVideo's "
        "Gemma loader (docs/models.md).",
    )
    comfyui_text_encoder: str | None = Field(
        default=None, description="The text-encoder file under models/text_encoders; unset: the workflow set's own.",
    )
    comfyui_upscale_model: str = ""
    comfyui_distilled_lora: str = Field(
        default="", description="The distilled LoRA stage 2 of dev-two-stage applies to the dev model (models/loras).",
    )

    # --- Ollama (Phase 6) ---------------------------------------------------------------------------------
    ollama_host: str = "http://localhost:11434"
    ollama_model: str = "qwen2.5:14b"
    ollama_timeout: float = Field(default=120.0, gt=0)
    video_styles_path: Path = DEFAULT_STYLES_PATH

    # --- image downloads (Phase 4.5) ----------------------------------------------------------------------
    image_download_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    image_download_timeout: float = Field(default=15.0, gt=0)
    image_download_concurrency: int = Field(default=4, ge=1)
    image_download_max_redirects: int = Field(default=5, ge=0)
    image_allow_private_hosts: bool = False
    image_private_host_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names (as written in URLs) that may be private even when IMAGE_ALLOW_PRIVATE_HOSTS is off.",
    )
    image_referer_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["dcinside.com", "dcinside.co.kr"],
        description="Host suffixes that need the DCInside cookie warm-up and Referer.",
    )
    image_max_pixels: int = Field(default=64_000_000, gt=0, description="Larger images are refused unread.")
    image_download_deadline: float = Field(
        default=60.0, gt=0, description="Seconds one download may take in all (stops an endless slow body)."
    )
    image_warmup_url: str = Field(
        default="https://www.dcinside.com/",
        description="Page fetched once for its cookies before images from IMAGE_REFERER_HOSTS.",
    )
    image_referer: str = Field(
        default="https://gall.dcinside.com/", description="Referer sent with images from IMAGE_REFERER_HOSTS."
    )

    # --- FFmpeg -------------------------------------------------------------------------------------------
    ffmpeg_binary: Path | None = Field(default=None, description="Use this FFmpeg instead of imageio-ffmpeg's.")
    ffmpeg_timeout: float = Field(default=300.0, gt=0)
    ffmpeg_preset: str = "ultrafast"
    ffmpeg_crf: int = Field(default=23, ge=0, le=51)

    # --- preview (`wagglebot-video preview`, `run --preview`) ------------------------------------------------
    preview_area: Literal["box", "full"] = Field(
        default="box",
        description="Where the clip sits: 'box' is the renderer's layout (a 16:9 box, PREVIEW_BOX_WIDTH wide at "
        "1080, centred in the upper half, over a background); 'full' fills the frame.",
    )
    preview_box_width: int = Field(default=820, ge=64, le=1080, description="The box's width at a 1080 px wide frame.")
    preview_background: Literal["blur", "color"] = Field(
        default="blur", description="Behind the box: a blurred, darkened copy of the clip, or the mood's colour."
    )
    preview_size: Annotated[tuple[int, int], NoDecode] = (1080, 1920)
    preview_fps: int = Field(default=24, ge=1, le=60)
    preview_font: Path | None = Field(
        default=None, description="A font file with Hangul for subtitles, instead of the one found automatically."
    )
    preview_workers: int = Field(default=0, ge=0, description="Scenes prepared at once; 0 means one per CPU core.")

    # --- the service (`submit`, `worker`: posts through Temporal; the `service` extra) --------------------
    temporal_address: str = Field(default="127.0.0.1:7233", description="host:port of the Temporal server.")
    temporal_namespace: str = "default"
    temporal_task_queue: str = Field(default="wagglebot-video", min_length=1)
    service_heartbeat_seconds: float = Field(
        default=30.0, gt=0,
        description="A clip activity silent this long is taken as lost (its worker died): another worker "
        "re-attaches to the same ComfyUI job.",
    )
    service_lease_audit_seconds: float = Field(
        default=60.0, gt=0,
        description="How often the server pool frees the leases of posts that ended without giving them back "
        "(a workflow terminated from outside).")
    service_attempt_retries: int = Field(
        default=5, ge=1, description="Times Temporal runs one clip activity at most (a lost worker uses one).")

    @field_validator("comfyui_url", "image_referer_hosts", "image_private_host_allowlist", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("video_resolution", "video_resolution_fallback", "preview_size", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        return _parse_size(value)

    @field_validator("comfyui_url")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"COMFYUI_URL entry {url!r} must start with http:// or https://")
        return [url.rstrip("/") for url in value]

    @model_validator(mode="before")
    @classmethod
    def _generation_files(cls, data: Any) -> Any:
        """Unset model file names are the chosen generation's (an unknown generation is left to the field's
        own validation, which names it)."""
        if not isinstance(data, dict):
            return data
        generation = GENERATIONS.get(data.get("video_model_generation", DEFAULT_GENERATION))
        if generation is None:
            return data
        files = {"video_model_full": generation.full, "video_model_distilled": generation.distilled,
                 "comfyui_upscale_model": generation.upscaler, "comfyui_distilled_lora": generation.distilled_lora}
        return {**data, **{key: value for key, value in files.items() if not data.get(key)}}

    @model_validator(mode="after")
    def _sizes_positive(self) -> Settings:
        for name in ("video_resolution", "video_resolution_fallback"):
            width, height = getattr(self, name)
            if width < 64 or height < 64:
                raise ValueError(f"{name.upper()} must be at least 64x64, got {width}x{height}")
        width, height = self.preview_size
        if not (64 <= width <= 4096 and 64 <= height <= 4096) or width % 2 or height % 2:
            raise ValueError(f"PREVIEW_SIZE must be even sides within 64..4096, got {width}x{height}")
        return self


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the environment (and `.env`, or `env_file`) once; keyword overrides win over both."""
    if env_file is not None:
        return Settings(_env_file=env_file, **overrides)
    return Settings(**overrides)
