"""A post output folder made for preview and report tests: real tiny clips, a real WAV, a real manifest."""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from ai_worker.model.manifest import MANIFEST_NAME, AttemptRecord, FinalScene, Manifest, ManifestStore, SceneRecord
from ai_worker.preview.plan import MIN_LINE_SECONDS

EXAMPLE_IMAGE = Path(__file__).resolve().parents[2] / "examples" / "posts" / "images" / "rainy_street.jpg"
NARRATION_SECONDS = 1.3


def make_clip(path: Path, *, size: str = "160x96", fps: int = 12, frames: int = 17) -> Path:
    """A real H.264 clip from FFmpeg's test pattern."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=s={size}:r={fps}", "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def make_wav(path: Path, seconds: float, rate: int = 48000) -> Path:
    """A sine tone of exactly `seconds` (to the sample)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = round(seconds * rate)
    samples = bytearray()
    for n in range(count):
        value = int(8000 * math.sin(2 * math.pi * 440 * n / rate))
        samples += value.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(bytes(samples))
    return path


def expected_line_frames(text: str, fps: int, audio_seconds: float | None = None) -> int:
    """The spec's timing, computed independently: audio length, else spoken syllables (Hangul blocks, Latin
    letters, digits) at 6.5 a second."""
    if audio_seconds is not None:
        seconds = audio_seconds
    else:
        spoken = sum(1 for ch in text if "가" <= ch <= "힣" or (ch.isascii() and ch.isalnum()))
        seconds = max(MIN_LINE_SECONDS, spoken / 6.5)
    return math.ceil(seconds * fps - 1e-9)


@dataclass
class PostFolder:
    root: Path
    """The output folder (`--out`); the post folder is inside it."""
    folder: Path
    manifest: Manifest

    @property
    def store(self) -> ManifestStore:
        return ManifestStore(self.folder / MANIFEST_NAME)


LINES: dict[int, list[str | dict[str, str]]] = {
    0: ["첫 장면의 대사입니다"],
    1: [{"text": "목소리가 있는 줄", "audio": "AUDIO"}, "둘째 줄은 글자로만"],
    2: ["실패한 장면의 줄"],
    3: ["마지막 인사입니다"],
}


def make_post_folder(tmp_path: Path, *, title: str = "테스트 게시물 제목") -> PostFolder:
    """Four scenes: two with clips (one with narration audio), one failed and merged into scene 1, one static
    with an image. Clips live inside the folder; the narration and image beside it, as a post file's would."""
    root = tmp_path / "out"
    folder = root / "t_post"
    inputs = tmp_path / "inputs"
    audio = make_wav(inputs / "tts" / "line.wav", NARRATION_SECONDS)
    image = inputs / "images" / "photo.jpg"
    image.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE_IMAGE, image)
    clip0 = make_clip(folder / "clips" / "scene_00.mp4")
    clip1 = make_clip(folder / "clips" / "scene_01.mp4", size="128x128", frames=9)
    lines = {k: [dict(line, audio=str(audio)) if isinstance(line, dict) else line for line in v]
             for k, v in LINES.items()}
    attempt = AttemptRecord(rung=1, params={"width": 160, "height": 96, "num_frames": 17}, seed=7, server="local",
                            duration_s=0.5, label="full")
    failed = AttemptRecord(rung=1, params={"width": 160, "height": 96, "num_frames": 17}, seed=8, server="local",
                           duration_s=0.2, error="boom <script>", error_type="FFmpegError", label="full")
    scenes = [
        SceneRecord(index=0, fingerprint="a", type="intro", text_lines=lines[0], mode="t2v", prompt="A calm street.",
                    prompt_simple="A street.", prompt_source="fallback: test", status="done", attempts=[attempt],
                    clip_path=str(clip0)),
        SceneRecord(index=1, fingerprint="b", type="img_text", text_lines=lines[1], mode="i2v", prompt="Rain falls.",
                    image_url="images/photo.jpg", image_path=str(image), image_score=0.9, image_category="photo",
                    status="done", attempts=[attempt], clip_path=str(clip1), merged_from=[2]),
        SceneRecord(index=2, fingerprint="c", type="text_only", text_lines=lines[2], mode="t2v", status="failed",
                    attempts=[failed], failure_reason="every rung failed", failure_kind="exhausted", merged_into=1),
        SceneRecord(index=3, fingerprint="d", type="outro", text_lines=lines[3], status="skipped",
                    image_path=str(image), skip_reason="no video mode (scene stays static)"),
    ]
    final = [
        FinalScene(clip_path=str(clip0), text_lines=lines[0], source_indices=[0], type="intro"),
        FinalScene(clip_path=str(clip1), text_lines=lines[1] + lines[2], source_indices=[1, 2], type="img_text"),
        FinalScene(clip_path=None, text_lines=lines[3], source_indices=[3], type="outro"),
    ]
    manifest = Manifest(post_id="t_post", title=title, mood="humor", backend="local",
                        backend_reason="chosen by the test", scenes=scenes, final_scenes=final)
    post = PostFolder(root, folder, manifest)
    post.store.save(manifest)
    return post


def files_outside(tmp_path: Path, folder: Path) -> set[Path]:
    """Every file under `tmp_path` that is not inside `folder`."""
    return {p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(folder)}
