"""A scene's identity across runs, and the seeds derived from it.

The identity is a hash of the scene's content and of the settings that shape its clip. It deliberately
leaves out the prompt text: an LLM samples a new prompt on every run, and a scene whose content did not
change must keep its finished clip (Phase 6 reuses the saved prompt for it; see `prompt_reuse`).
"""

from __future__ import annotations

import hashlib
import uuid

from ai_worker.core.content import digest_or_none
from ai_worker.model.manifest import fingerprint
from ai_worker.model.scene import SceneDecision, line_text
from config.settings import Settings

SEED_SPACE = 2**32
PROMPT_ID_NAMESPACE = "6f1d2b8e-7c3a-5e41-9b0d-2a4c6e8f1a3b"
"""The uuid5 namespace of our ComfyUI prompt ids (any fixed UUID; changing it would orphan running jobs)."""


def clip_settings_payload(settings: Settings, negative_prompt: str) -> dict[str, object]:
    """The settings that shape a clip (part of every scene's fingerprint)."""
    return {
        "resolution": list(settings.video_resolution),
        "resolution_fallback": list(settings.video_resolution_fallback),
        "frames": settings.video_num_frames,
        "frames_fallback": settings.video_num_frames_fallback,
        "max_frames": [settings.video_max_frames, settings.video_max_frames_fallback],
        "fps": settings.video_fps,
        "steps": [settings.video_steps, settings.video_steps_fallback, settings.video_steps_distilled],
        "cfg": [settings.video_cfg, settings.video_cfg_distilled],
        "models": [settings.video_model_full, settings.video_model_distilled],
        "recipe": settings.video_recipe,
        "workflow_set": settings.comfyui_workflow_set,
        "i2v_denoise": settings.video_i2v_denoise,
        "negative_prompt": negative_prompt,
    }


def scene_fingerprint(scene: SceneDecision, mood: str, settings_payload: dict[str, object]) -> str:
    """Content (type, words, the bytes of its image and narration audio, mode, mood) and clip settings; not
    the index, not the paths of its files (they change with how the output folder is spelled, or when it is
    moved), and not the sampled prompt text. An image that could not be fetched counts by its reference."""
    image = digest_or_none(scene.image_path) or digest_or_none(scene.video_init_image)
    return fingerprint({
        "type": scene.type,
        "text": [line_text(line) for line in scene.text_lines],
        "audio": [digest_or_none(line.get("audio")) if isinstance(line, dict) else None for line in scene.text_lines],
        "image": image if image is not None else scene.image_url,
        "mode": scene.video_mode,
        "mood": mood,
        "settings": settings_payload,
    })


def attempt_seed(scene_fp: str, rung: int, try_number: int) -> int:
    """A reproducible seed per scene, rung and try (a retried rung gets a new seed, so ComfyUI's cache
    cannot hand back the same failed output)."""
    digest = hashlib.sha256(f"{scene_fp}:{rung}:{try_number}".encode()).hexdigest()
    return int(digest[:8], 16) % SEED_SPACE


def attempt_prompt_id(post_id: str, scene_fp: str, rung: int, try_number: int) -> str:
    """The ComfyUI prompt id of one attempt, derived from the job's identity (post, scene, rung, try): a
    lowercase canonical UUID, as ComfyUI 0.33+ requires. Whoever runs the attempt again (a retried activity
    on another worker, a resumed run) asks the server for this id before submitting, so a job is never
    queued twice."""
    return str(uuid.uuid5(uuid.UUID(PROMPT_ID_NAMESPACE), f"{post_id}/{scene_fp}/{rung}/{try_number}"))
