"""What one attempt of one scene asks the model for: its size and its length.

The orchestration asks `plan_clip` for every attempt and records `ClipShape.as_record()` in the manifest,
so every number there says where it came from.

* Size: text-to-video keeps the rung's size (VIDEO_RESOLUTION, the fallback resolution on rungs 3-4).
  Image-to-video follows the image's aspect at about the rung's pixel count (multiples of 32), so the
  whole picture is animated instead of a centre crop that cuts a portrait photo's subject out.
* Length: the narration's (`narration`): its seconds at VIDEO_FPS rounded up to 1 + 8k, at least
  `MIN_CLIP_SECONDS`, at most VIDEO_MAX_FRAMES on rungs 1-2 and VIDEO_MAX_FRAMES_FALLBACK on the fallback
  rungs. A scene with nothing to say keeps the rung's VIDEO_NUM_FRAMES.

Reads each narration audio file and image header once (cached by file version), so planning every rung
costs nothing after the first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ai_worker.core.errors import ImageError
from ai_worker.images.look import image_size, orientation_of
from ai_worker.media.narration import (
    NarrationLength,
    frames_for_narration,
    min_narration_frames,
    narration_length,
    snap_frames_down,
)
from ai_worker.model.clip_sizes import validate_resolution
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.ladder import Rung
from config.settings import Settings

FIRST_FALLBACK_RUNG = 3
"""Rungs 3 and 4 render at the fallback resolution and take the lower frame cap."""


@dataclass(frozen=True)
class ClipShape:
    """Width, height and frame count of one request, and why."""

    width: int
    height: int
    num_frames: int
    size_reason: str
    frames_reason: str
    narration_seconds: float | None = None
    narration_source: str = "none"
    frames_asked: int | None = None
    """Frames the narration asked for before the rung's cap (None without narration)."""
    fps: int = 24

    @property
    def clip_seconds(self) -> float:
        return self.num_frames / self.fps

    def as_record(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "num_frames": self.num_frames,
            "size_reason": self.size_reason,
            "frames_reason": self.frames_reason,
            "narration_seconds": None if self.narration_seconds is None else round(self.narration_seconds, 3),
            "narration_source": self.narration_source,
            "frames_asked": self.frames_asked,
            "clip_seconds": round(self.clip_seconds, 3),
        }


def aspect_size(
    image_width: int, image_height: int, base_width: int, base_height: int, *, multiple: int = 32
) -> tuple[int, int]:
    """A generation size with the image's aspect and about `base`'s pixel count, multiples of `multiple`
    (32; 64 for a two-stage recipe).

    The aspect is clamped to the base's own elongation (16:9 for 1280x720, either way up): a picture more
    extreme than that is padded by the backend rather than given a frame the model was never tuned for.
    """
    longest = max(base_width, base_height) / min(base_width, base_height)
    aspect = min(max(image_width / image_height, 1 / longest), longest)
    area = base_width * base_height
    return validate_resolution(round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect)), multiple=multiple)


def _size(scene: SceneDecision, rung: Rung) -> tuple[int, int, str]:
    base = f"{rung.width}x{rung.height}"
    if scene.video_mode != "i2v" or not scene.video_init_image:
        return rung.width, rung.height, f"text-to-video: rung {rung.number} size {base}"
    try:
        image_width, image_height = image_size(Path(scene.video_init_image))
    except ImageError as exc:
        return rung.width, rung.height, f"image-to-video, image size unreadable ({exc}): rung size {base}"
    width, height = aspect_size(image_width, image_height, rung.width, rung.height, multiple=rung.size_multiple)
    shape = orientation_of(image_width, image_height)
    return width, height, (
        f"image-to-video: {shape} image {image_width}x{image_height} -> {width}x{height}, its aspect at about "
        f"the pixel count of rung {rung.number}'s {base}, so the whole picture is kept"
    )


def _frames(narration: NarrationLength, rung: Rung, settings: Settings) -> tuple[int, int | None, str]:
    if narration.seconds is None:
        return rung.num_frames, None, f"no narration: rung {rung.number}'s {rung.num_frames} frames"
    fps = settings.video_fps
    fallback = rung.number >= FIRST_FALLBACK_RUNG
    cap_name = "VIDEO_MAX_FRAMES_FALLBACK" if fallback else "VIDEO_MAX_FRAMES"
    cap = snap_frames_down(settings.video_max_frames_fallback if fallback else settings.video_max_frames)
    floor = min(min_narration_frames(fps), cap)
    asked = frames_for_narration(narration.seconds, fps)
    reason = f"narration {narration.seconds:.2f} s ({narration.source}) -> {asked} frames at {fps} fps"
    frames = asked
    if asked > cap:
        frames = cap
        reason += f", capped to {cap} ({cap_name}, rung {rung.number})"
    elif asked < floor:
        frames = floor
        reason += f", raised to the {floor}-frame minimum"
    if narration.detail:
        reason += f" [{narration.detail}]"
    return frames, asked, reason


def plan_clip(scene: SceneDecision, rung: Rung, settings: Settings) -> ClipShape:
    """The shape of `scene`'s clip at `rung`."""
    width, height, size_reason = _size(scene, rung)
    narration = narration_length(scene)
    frames, asked, frames_reason = _frames(narration, rung, settings)
    return ClipShape(
        width=width,
        height=height,
        num_frames=frames,
        size_reason=size_reason,
        frames_reason=frames_reason,
        narration_seconds=narration.seconds,
        narration_source=narration.source,
        frames_asked=asked,
        fps=settings.video_fps,
    )
