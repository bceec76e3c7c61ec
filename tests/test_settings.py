from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import Settings, load_settings

SEED_DEFAULTS: dict[str, object] = {
    "comfyui_url": ["http://comfyui:8188"],
    "comfyui_vram_mode": "lowvram",
    "comfyui_reserve_vram": 2,
    "video_gen_enabled": False,
    "video_gen_timeout": 300,
    "video_model_full": "ltx-2-19b-dev-fp8.safetensors",
    "video_model_distilled": "ltx-2-19b-distilled-fp8.safetensors",
    "video_resolution": (1280, 720),
    "video_resolution_fallback": (768, 512),
    "video_num_frames": 97,
    "video_num_frames_fallback": 65,
    "video_fps": 24,
    "video_steps": 20,
    "video_steps_distilled": 8,
    "video_cfg": 3.5,
    "video_cfg_distilled": 1.0,
    "video_i2v_threshold": 0.6,
    "video_i2v_denoise": 0.75,
    "video_max_clips_per_post": 8,
    "video_max_retry": 4,
    "video_output_dir": Path("media/tmp/videos"),
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in [*SEED_DEFAULTS, "video_backend", "ollama_host"]:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


@pytest.mark.parametrize(("name", "expected"), SEED_DEFAULTS.items())
def test_seed_defaults(clean_env: Path, name: str, expected: object) -> None:
    assert getattr(load_settings(), name) == expected


def test_environment_overrides_and_parses_lists_and_sizes(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYUI_URL", "http://gpu0:8188, https://gpu1.example/comfy/")
    monkeypatch.setenv("VIDEO_RESOLUTION", "1024x576")
    monkeypatch.setenv("VIDEO_GEN_ENABLED", "true")
    settings = load_settings()
    assert settings.comfyui_url == ["http://gpu0:8188", "https://gpu1.example/comfy"]
    assert settings.video_resolution == (1024, 576)
    assert settings.video_gen_enabled is True


def test_dotenv_file_is_read(clean_env: Path) -> None:
    env = clean_env / "custom.env"
    env.write_text("VIDEO_FPS=25\nOLLAMA_MODEL=qwen2.5:7b\n", encoding="utf-8")
    settings = load_settings(env_file=env)
    assert (settings.video_fps, settings.ollama_model) == (25, "qwen2.5:7b")


def test_keyword_overrides_win(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEO_BACKEND", "comfyui")
    assert load_settings(video_backend="local").video_backend == "local"


@pytest.mark.parametrize(
    ("env", "value", "fragment"),
    [
        ("COMFYUI_URL", "ftp://x", "must start with http"),
        ("VIDEO_RESOLUTION", "32x32", "at least 64x64"),
        ("VIDEO_RESOLUTION", "wide", "WIDTHxHEIGHT"),
        ("VIDEO_BACKEND", "gpu", "auto"),
        ("VIDEO_FPS", "0", "greater than or equal"),
    ],
)
def test_bad_values_name_the_setting(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, env: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError) as info:
        load_settings()
    assert fragment in str(info.value)
    assert env.lower() in str(info.value).lower()


def test_settings_are_frozen(clean_env: Path) -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.video_fps = 30  # type: ignore[misc]
