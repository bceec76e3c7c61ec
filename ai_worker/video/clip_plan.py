"""What one attempt of one scene asks the model for: its size and its length.

Pure. The orchestration asks `plan_clip` for every attempt and records `ClipShape.as_record()` in the
manifest, so every number there says where it came from. Today the shape is the rung's; image-aspect sizes
for image-to-video and narration-length frame counts plug in here without the orchestration changing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ai_worker.pipeline.scene_director import SceneDecision
from ai_worker.video.ladder import Rung
from config.settings import Settings


@dataclass(frozen=True)
class ClipShape:
    """Width, height and frame count of one request, and why."""

    width: int
    height: int
    num_frames: int
    size_reason: str
    frames_reason: str
    narration_seconds: float | None = None

    def as_record(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "size_reason": self.size_reason,
            "frames_reason": self.frames_reason,
            "narration_seconds": self.narration_seconds,
        }


def plan_clip(scene: SceneDecision, rung: Rung, settings: Settings) -> ClipShape:
    """The shape of `scene`'s clip at `rung`."""
    del scene, settings  # used once sizes follow the image and frames follow the narration
    return ClipShape(
        width=rung.width,
        height=rung.height,
        num_frames=rung.num_frames,
        size_reason=f"rung {rung.number} size",
        frames_reason=f"rung {rung.number} frames",
    )
