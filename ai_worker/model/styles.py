"""The mood styles (`config/video_styles.json`): loaded and checked once at start, looked up by mood.

The file maps each of the nine moods to::

    {"style_hint": str, "camera_hints": [str, ...], "color_palette": ["#RRGGBB" x 4], "atmosphere": str}

`atmosphere` fills the `{style_hint}` placeholder of the prompt engine's system prompts; `style_hint` is the
longer visual direction used in fallback prompts; each camera hint completes the sentence "The camera ...";
the palette colours the local backend's clips. A malformed file is a `ConfigError` naming the file and the
problem; an unknown mood falls back to `daily` with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ai_worker.core.errors import ConfigError

logger = logging.getLogger(__name__)

MOODS: tuple[str, ...] = (
    "humor",
    "touching",
    "anger",
    "sadness",
    "horror",
    "info",
    "controversy",
    "daily",
    "shock",
)
DEFAULT_MOOD = "daily"
MAX_STYLES_FILE_BYTES = 1024 * 1024

HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]


class MoodStyle(BaseModel):
    """One mood's look."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    style_hint: str
    camera_hints: list[str] = Field(min_length=1)
    color_palette: list[HexColour] = Field(min_length=4, max_length=4)
    atmosphere: str

    @field_validator("style_hint", "atmosphere")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("camera_hints")
    @classmethod
    def _hints(cls, value: list[str]) -> list[str]:
        if any(not hint.strip() for hint in value):
            raise ValueError("camera hints must not be empty")
        return [hint.strip() for hint in value]


class VideoStyles:
    """All nine moods' styles, checked."""

    def __init__(self, styles: Mapping[str, MoodStyle], *, source: Path | None = None) -> None:
        missing = [mood for mood in MOODS if mood not in styles]
        if missing:
            raise ConfigError(f"{source or 'video styles'}: missing mood(s) {', '.join(missing)}")
        self._styles = dict(styles)
        self.source = source

    @classmethod
    def load(cls, path: Path) -> VideoStyles:
        """Read and check the file; any problem is a `ConfigError` naming the file and what is wrong."""
        if not path.is_file():
            raise ConfigError(f"{path}: video styles file not found")
        size = path.stat().st_size
        if size > MAX_STYLES_FILE_BYTES:
            raise ConfigError(f"{path}: {size} bytes, larger than the {MAX_STYLES_FILE_BYTES} byte limit")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
        return cls.from_mapping(data, source=path)

    @classmethod
    def from_mapping(cls, data: object, *, source: Path | None = None) -> VideoStyles:
        name = str(source) if source is not None else "video styles"
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: top level must be an object of moods, got {type(data).__name__}")
        # Keys starting with "_" are comments; any other unknown key is most likely a misspelt mood.
        unknown = sorted(key for key in data if key not in MOODS and not str(key).startswith("_"))
        if unknown:
            raise ConfigError(f"{name}: unknown mood(s) {', '.join(unknown)} (expected {', '.join(MOODS)})")
        styles: dict[str, MoodStyle] = {}
        for mood in MOODS:
            if mood not in data:
                continue
            try:
                styles[mood] = MoodStyle.model_validate(data[mood])
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
                )
                raise ConfigError(f"{name}: mood '{mood}': {problems}") from exc
        return cls(styles, source=source)

    @property
    def moods(self) -> tuple[str, ...]:
        return MOODS

    def resolve(self, mood: str) -> str:
        """The mood actually used for `mood`: itself when known, else `daily` (with a warning)."""
        key = mood.strip().lower()
        if key in self._styles:
            return key
        logger.warning("unknown mood %r; using %r", mood, DEFAULT_MOOD)
        return DEFAULT_MOOD

    def get(self, mood: str) -> MoodStyle:
        """The style for `mood`, or `daily`'s with a warning when the mood is unknown."""
        return self._styles[self.resolve(mood)]

    def palettes(self) -> dict[str, list[str]]:
        """Every mood's four colours, for the local backend."""
        return {mood: list(style.color_palette) for mood, style in self._styles.items()}


def known_mood(mood: str) -> str | None:
    """`mood` as a known mood's name (case and spaces forgiven), or None when it is not one."""
    key = mood.strip().lower()
    return key if key in MOODS else None


def load_video_styles(path: Path) -> VideoStyles:
    """Load and check the styles file at `path` (normally `settings.video_styles_path`)."""
    return VideoStyles.load(path)
