"""The public API of the video stage (docs/spec.md, 1) (`from ai_worker.video import VideoManager, ...`).

Each name is imported from its home package on first use (PEP 562), so importing this face loads no
backend, HTTP client or media library until a caller asks for one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ai_worker.comfy.client import ComfyUIClient
    from ai_worker.comfy.pool import ComfyUIPool
    from ai_worker.images.filter import ImageSuitability, evaluate_image
    from ai_worker.media.local_backend import LocalBackend
    from ai_worker.media.video_utils import (
        loop_or_trim_clip,
        normalize_clip_format,
        prepare_clip_for_render,
        resize_clip_to_layout,
        validate_frame_count,
        validate_resolution,
    )
    from ai_worker.orchestration.conductor import VideoManager
    from ai_worker.orchestration.events import VideoGenerationResult
    from ai_worker.prompts.engine import VideoPromptEngine

_HOMES = {
    "ComfyUIClient": "ai_worker.comfy.client",
    "ComfyUIPool": "ai_worker.comfy.pool",
    "ImageSuitability": "ai_worker.images.filter",
    "evaluate_image": "ai_worker.images.filter",
    "LocalBackend": "ai_worker.media.local_backend",
    "VideoGenerationResult": "ai_worker.orchestration.events",
    "VideoManager": "ai_worker.orchestration.conductor",
    "VideoPromptEngine": "ai_worker.prompts.engine",
    "loop_or_trim_clip": "ai_worker.media.video_utils",
    "normalize_clip_format": "ai_worker.media.video_utils",
    "prepare_clip_for_render": "ai_worker.media.video_utils",
    "resize_clip_to_layout": "ai_worker.media.video_utils",
    "validate_frame_count": "ai_worker.media.video_utils",
    "validate_resolution": "ai_worker.media.video_utils",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
