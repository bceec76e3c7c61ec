"""Settings for tests that make real (tiny) clips: small sizes and frame counts so FFmpeg takes milliseconds."""

from __future__ import annotations

from typing import Any

from config.settings import Settings

TINY_CLIPS: dict[str, Any] = {
    "video_resolution": (96, 64),
    "video_resolution_fallback": (64, 64),
    "video_num_frames": 17,
    "video_num_frames_fallback": 9,
    "video_fps": 8,
    # The spec's single pass: these tests are about the ladder and the clips, not the sampling recipe (whose
    # own tests name it), and its sizes need only multiples of 32.
    "video_recipe": "single-pass",
}


def tiny_clip_settings(**values: Any) -> Settings:
    """`TINY_CLIPS`, then `values`; never reads a `.env` file."""
    return Settings(_env_file=None, **{**TINY_CLIPS, **values})
