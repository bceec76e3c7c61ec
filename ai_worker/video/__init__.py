"""LTX-2 video clips for the scenes of a script (Phase 4.5, 6 and 7 of the content pipeline).

The seed's public API, plus the backends that stand beside the ComfyUI client.
"""

from ai_worker.video.comfy_client import ComfyUIClient
from ai_worker.video.comfy_pool import ComfyUIPool
from ai_worker.video.events import VideoGenerationResult
from ai_worker.video.image_filter import ImageSuitability, evaluate_image
from ai_worker.video.local_backend import LocalBackend
from ai_worker.video.manager import VideoManager
from ai_worker.video.prompt_engine import VideoPromptEngine
from ai_worker.video.video_utils import (
    loop_or_trim_clip,
    normalize_clip_format,
    prepare_clip_for_render,
    resize_clip_to_layout,
    validate_frame_count,
    validate_resolution,
)

__all__ = [
    "ComfyUIClient",
    "ComfyUIPool",
    "ImageSuitability",
    "LocalBackend",
    "VideoGenerationResult",
    "VideoManager",
    "VideoPromptEngine",
    "evaluate_image",
    "loop_or_trim_clip",
    "normalize_clip_format",
    "prepare_clip_for_render",
    "resize_clip_to_layout",
    "validate_frame_count",
    "validate_resolution",
]
