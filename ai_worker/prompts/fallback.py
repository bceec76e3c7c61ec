"""Deterministic prompts for when the LLM cannot write them: per mood, built from the scene's content.

T2V: one subject sentence from what the scene names (`prompt_lexicon`) or, with the post's visual anchor,
around its main character; then light for the time of day and the palette, the mood's style hint, a camera
hint and the sound. Every optional part goes through `consistent_clauses` first, so a night scene never gets
the mood's golden-hour light and an office scene never a street: the result has no contradiction
(`prompt_consistency.EXCLUSIONS`). I2V stays motion-only, shaped by the weather and the image's look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from ai_worker.images.look import ImageLook
from ai_worker.model.anchor import VisualAnchor
from ai_worker.model.scene import SceneDecision
from ai_worker.model.styles import MoodStyle, VideoStyles
from ai_worker.prompts.anchor import LEXICON_TIMES, fallback_anchor, outdoors
from ai_worker.prompts.consistency import agrees, consistent_clauses, contradictions, found
from ai_worker.prompts.lexicon import SceneElements, Term, find_terms, scene_elements
from ai_worker.prompts.text import PromptMode

__all__ = ["content_subject", "default_anchor", "fallback_prompt"]


class _MoodScenes(TypedDict):
    subjects: tuple[str, str]
    audio: str


_FALLBACK_SCENES: dict[str, _MoodScenes] = {
    "humor": {
        "subjects": (
            "A medium shot of a Korean man in his twenties in a grey hoodie standing at a convenience store "
            "counter in Seoul, staring at his phone as his expression slowly turns into a crooked grin before "
            "he bursts out laughing and covers his mouth.",
            "A medium shot of two Korean office workers in their thirties sitting side by side at their desks, "
            "one leaning over to show the other a phone screen, and both of them freezing for a beat before "
            "breaking into laughter.",
        ),
        "audio": "Light chatter, a short burst of laughter and soft room tone fill the background.",
    },
    "touching": {
        "subjects": (
            "A medium shot of an elderly Korean woman with short grey hair sitting at a small kitchen table in "
            "a Seoul apartment, holding an old photograph in both hands as her eyes soften and she gently smiles.",
            "A medium shot of a Korean father in his fifties in a worn work jacket standing at a bus stop at "
            "dusk, reading a message on his phone and then slowly lowering it as he nods quietly to himself.",
        ),
        "audio": "Quiet room tone, a distant passing car and a soft breath carry the moment.",
    },
    "anger": {
        "subjects": (
            "A medium shot of a Korean woman in her thirties in an office blouse standing by a photocopier in a "
            "Seoul office, gripping a stack of papers as her jaw tightens and she exhales sharply.",
            "A medium shot of a Korean man in his forties in a padded jacket standing in an apartment parking "
            "lot, staring at a car that blocks his own as he presses his lips together and rubs his forehead.",
        ),
        "audio": "A tense low hum, a door closing somewhere and a sharp exhale cut through the quiet.",
    },
    "sadness": {
        "subjects": (
            "A medium shot of a Korean woman in her twenties in a knit cardigan sitting alone by a rain-streaked "
            "window in a small studio apartment, looking at her phone as she lowers her head and pulls her "
            "sleeves over her hands.",
            "A full shot of a Korean man in his thirties in a dark coat sitting alone on a bench by the Han River "
            "on a grey afternoon, his shoulders slumped as he turns a paper cup slowly in his hands.",
        ),
        "audio": "Soft rain, distant traffic and a quiet breath fill the silence.",
    },
    "horror": {
        "subjects": (
            "A medium shot of a Korean woman in her twenties in pajamas standing in the dark hallway of an old "
            "apartment building, holding up her phone light as she freezes and stares at a half-open door at "
            "the end of the corridor.",
            "A medium shot of a Korean man in his twenties standing in a dim stairwell of a Seoul apartment "
            "block, slowly looking up the stairs as the motion-sensor light above him flickers and goes out.",
        ),
        "audio": "A low electrical buzz, a faint creak and slow breathing fill the silence.",
    },
    "info": {
        "subjects": (
            "A medium shot of a Korean man in his thirties in a neat shirt sitting at a tidy office desk, "
            "pointing at a printed chart and then turning a page in his notebook as he nods thoughtfully.",
            "A close-up of a Korean woman's hands at a bright desk in a Seoul office, sorting receipts beside an "
            "open laptop and a calculator, then typing a few numbers as she checks her notes.",
        ),
        "audio": "Keyboard taps, the rustle of paper and quiet office ambience fill the room.",
    },
    "controversy": {
        "subjects": (
            "A medium two-shot of two Korean coworkers in their thirties sitting across a meeting table in a "
            "Seoul office, one speaking with open hands while the other leans back with crossed arms and raises "
            "an eyebrow.",
            "A medium shot of a group of Korean people in winter coats waiting at a crosswalk in Seoul, a young "
            "man glancing at his phone and then at the others as they exchange doubtful looks.",
        ),
        "audio": "Overlapping murmurs, a chair creaking and distant traffic hang in the air.",
    },
    "daily": {
        "subjects": (
            "A medium shot of a Korean woman in her twenties in a beige sweater sitting by the window of a small "
            "Seoul cafe, scrolling through her phone and then taking a slow sip from a paper coffee cup.",
            "A full shot of a Korean man in his thirties with a backpack walking down a quiet neighbourhood "
            "street lined with low brick buildings, stopping to check his phone before walking on.",
        ),
        "audio": "Soft everyday ambience, distant traffic and footsteps fill the background.",
    },
    "shock": {
        "subjects": (
            "A medium shot of a Korean woman in her twenties in a crowded Seoul subway car, reading her phone and "
            "suddenly freezing with wide eyes as her hand rises to cover her mouth.",
            "A medium shot of a Korean man in his thirties in a shirt and tie at an office desk, leaning back in "
            "his chair in disbelief as he stares at the monitor and slowly takes off his glasses.",
        ),
        "audio": "The background noise drops away to a low hum as a sharp breath is heard.",
    },
}

_I2V_FALLBACK_MOTION = (
    "Subtle natural motion runs through the image as any people in it breathe and blink, hair and fabric stir "
    "slightly, and "
)
_I2V_FALLBACK_CAMERA = "The camera holds steady with a very slow dolly-in."

# The scene's matched content (see `prompt_lexicon`) goes into one subject sentence; these complete it.
# Participles, so they read after one person or several without verb agreement. Each pair: (one, several).
# No sound or light words here: `simplify_prompt` keeps the subject sentence only when it has none.
_MOOD_ACTIONS: dict[str, tuple[str, str]] = {
    "humor": (
        "staring for a beat before breaking into a crooked grin and laughing behind one hand",
        "exchanging a stunned look before bursting into laughter",
    ),
    "touching": ("eyes softening into a gentle, quiet smile", "sharing a quiet, warm smile"),
    "anger": ("jaw tightening, hands clenched at the sides", "facing each other with tight jaws and clenched hands"),
    "sadness": ("head lowered, moving slowly with heavy shoulders", "standing quietly side by side with lowered eyes"),
    "horror": ("freezing mid-step and staring into the dark", "huddled together, freezing and staring into the dark"),
    "info": ("pointing at something and nodding thoughtfully", "going over the details together and nodding"),
    "controversy": (
        "crossing the arms and raising an eyebrow",
        "exchanging doubtful looks with crossed arms",
    ),
    "daily": ("going about an ordinary moment at an unhurried pace", "chatting casually at an unhurried pace"),
    "shock": (
        "freezing with wide eyes as one hand rises to cover the mouth",
        "freezing with wide eyes and turning to each other",
    ),
}
# Where a scene with matched content but no matched place happens; every phrase names Korea.
_MOOD_SETTINGS: dict[str, str] = {
    "humor": "in a small Korean office in Seoul",
    "touching": "in a small Korean apartment in Seoul",
    "anger": "in a busy Korean office in Seoul",
    "sadness": "in a small Korean studio apartment",
    "horror": "in the dim hallway of an old Korean apartment building",
    "info": "in a tidy Korean office in Seoul",
    "controversy": "in a Korean office meeting room",
    "daily": "on a quiet residential street of a Korean neighbourhood",
    "shock": "in a busy Korean office in Seoul",
}
_OUTDOOR_SETTINGS = frozenset(
    {"alley", "street", "neighbourhood", "park", "beach", "han_river", "bus_stop", "campus", "parking_lot"}
)
_OUTDOOR_MOODS = frozenset({"daily"})
_INDOOR_WEATHER: dict[str, str] = {"rain": "while it rains outside", "snow": "while snow falls outside"}
_ANIMAL_ACTION = "blinking slowly with ears twitching as it takes a few careful steps forward"
_OBJECTS_ACTION = "as a hand reaches into the frame for a moment and then withdraws"
_WEATHER_SOUND: dict[tuple[str, bool], str] = {
    ("rain", True): "The steady sound of rain on the ground fills the air.",
    ("rain", False): "The steady patter of rain on the windows fills the room.",
}
_I2V_WEATHER_MOTION: dict[str, str] = {
    "rain": "Rain streaks keep falling through the frame and the wet surfaces shimmer.",
    "snow": "Snowflakes drift slowly down through the frame.",
}
_I2V_UMBRELLA = "Rain streaks keep falling through the frame as the umbrella sways gently."

# Light that fits the time of day, indoors (False) or outdoors (True); joined with the palette.
_TIME_LIGHT: dict[tuple[str, bool], str] = {
    ("dawn", False): "Pale early light comes in through the windows",
    ("dawn", True): "Pale blue early light spreads over the rooftops",
    ("morning", False): "Fresh morning light comes in through the windows",
    ("morning", True): "Fresh morning light falls across the scene",
    ("daytime", False): "Even daytime light fills the room",
    ("daytime", True): "Soft, even daytime light falls across the scene",
    ("evening", False): "Warm lamps glow against the darkening windows",
    ("evening", True): "Streetlamps flicker on as the last light fades",
    ("night", False): "Lamps and overhead lights glow against the dark windows",
    ("night", True): "Streetlights and shop signs glow against the dark",
}
# The end of the motion sentence, after "...hair and fabric stir slightly, and", by the image's light.
_I2V_LOOK_LIGHT: dict[str, str] = {
    "dark": "small points of light flicker softly as the shadows shift in the dark.",
    "bright": "bright light shimmers gently across the surfaces as the air stirs.",
    "even": "the light shifts softly across the surfaces.",
}
_I2V_CAMERA: dict[str, str] = {
    "portrait": "The camera holds steady with a very slow push-in toward the centre of the frame.",
    "landscape": "The camera pans very slowly across the frame from left to right.",
    "square": _I2V_FALLBACK_CAMERA,
}


def _join(phrases: Sequence[str]) -> str:
    return " and ".join(phrases)


def _where(setting: str, outdoor: bool, weather: Term | None, time: str) -> str:
    """The place, then weather and time: indoors the rain falls outside the windows."""
    said = weather.phrase if weather else ""
    if weather is not None and not outdoor:
        # Nobody stands "in the rain" inside a convenience store: indoors it falls outside the windows.
        said = _INDOOR_WEATHER.get(weather.key, said)
    when = f"{time} {said}" if said.startswith("while") else f"{said} {time}"
    return f"{setting} {when.strip()}".strip()


def content_subject(mood: str, elements: SceneElements) -> str | None:
    """The T2V subject sentence built from the scene's matched content, or None when nothing to show matched.

    The spec's order of subjects: (1) the matched people, with a matched animal and the first object as what
    they hold or stand by; (2) without people, the matched objects and the place; a matched animal is then
    the subject (the spec's "cute dog or cat", here because the scene names it). Weather and time of day
    follow the place. Only a place, weather or time alone is not enough: the mood's own subjects stay.
    """
    setting = elements.setting.phrase if elements.setting else _MOOD_SETTINGS[mood]
    outdoor = elements.setting.key in _OUTDOOR_SETTINGS if elements.setting else mood in _OUTDOOR_MOODS
    where = _where(setting, outdoor, elements.weather, elements.time.phrase if elements.time else "")
    if elements.people:
        several = len(elements.people) > 1 or elements.people[0].plural
        who = _join([term.phrase for term in elements.people])
        with_animal = f" with {elements.animals[0].phrase}" if elements.animals else ""
        near = f", {elements.objects[0].near}," if elements.objects else ""
        action = _MOOD_ACTIONS[mood][1 if several else 0]
        return f"A medium shot of {who}{with_animal}{near} {where}, {action}."
    if elements.animals:
        beside = f" beside {_join([term.phrase for term in elements.objects])}" if elements.objects else ""
        return f"A medium shot of {elements.animals[0].phrase}{beside} {where}, {_ANIMAL_ACTION}."
    if elements.objects:
        return f"A medium shot of {_join([term.phrase for term in elements.objects])} {where}, {_OBJECTS_ACTION}."
    return None


def _anchored_subject(
    mood: str, scene_text: str, elements: SceneElements, anchor: VisualAnchor
) -> tuple[str, bool, str | None]:
    """The subject sentence around the anchor's main character, whether it is outdoors, and its time.

    The scene's own place and time win over the anchor's (a scene that says "at the cafe" is at the cafe);
    otherwise the anchor's hold, so every scene of the post shares them.
    """
    own = find_terms(scene_text)
    own_setting = next((t for t in own if t.kind == "setting"), None)
    own_time = next((t for t in own if t.kind == "time"), None)
    setting = own_setting.phrase if own_setting else anchor.place
    outdoor = own_setting.key in _OUTDOOR_SETTINGS if own_setting else outdoors(anchor)
    time_key = LEXICON_TIMES.get(own_time.key) if own_time else anchor.time_of_day
    time = own_time.phrase if own_time else anchor.time_phrase
    where = _where(setting, outdoor, elements.weather, time)
    if contradictions(where):
        # The LLM's place says what this scene's weather or time cannot ("in a sunny park" on a snowy
        # night): the mood's plain place instead, which says nothing about either.
        outdoor = mood in _OUTDOOR_MOODS
        where = _where(_MOOD_SETTINGS[mood], outdoor, elements.weather, time)
    others = [t.phrase for t in elements.people if t.phrase != anchor.subject][:1]
    animals = [t.phrase for t in elements.animals if t.phrase != anchor.subject]
    near = f", {elements.objects[0].near}," if elements.objects else ""
    if anchor.subject_kind == "animal" and not others:
        beside = f" beside {_join([t.phrase for t in elements.objects])}" if elements.objects else ""
        return f"A medium shot of {anchor.subject}{beside} {where}, {_ANIMAL_ACTION}.", outdoor, time_key
    if anchor.subject_kind == "animal":
        who, with_animal = _join(others), f" with {anchor.subject}"
        several = len(others) > 1 or any(t.plural for t in elements.people)
    else:
        who = _join([anchor.subject, *others])
        with_animal = f" with {animals[0]}" if animals else ""
        several = anchor.subject_kind == "people" or bool(others)
    action = _MOOD_ACTIONS[mood][1 if several else 0]
    return f"A medium shot of {who}{with_animal}{near} {where}, {action}.", outdoor, time_key


def default_anchor(
    mood: str, styles: VideoStyles, title: str, body_summary: str, scenes: Sequence[SceneDecision], reason: str
) -> VisualAnchor:
    """`visual_anchor.fallback_anchor` with the mood's own place as the last resort."""
    key = styles.resolve(mood)
    return fallback_anchor(
        key, styles.get(key), title, body_summary, scenes, default_place=_MOOD_SETTINGS[key], reason=reason
    )


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return text if text.endswith((".", "!", "?")) else text + "."


def _camera(style: MoodStyle, index: int, context: str) -> str:
    """The first camera hint, from the scene's turn on, that agrees with the prompt so far."""
    hints = style.camera_hints
    for step in range(len(hints)):
        hint = hints[(index + step) % len(hints)].rstrip(". ")
        if agrees(context, hint):
            return f"The camera {hint}."
    return "The camera holds steady."


def _t2v(
    key: str, scene: SceneDecision, style: MoodStyle, index: int, elements: SceneElements,
    anchor: VisualAnchor | None,
) -> str:
    weather = elements.weather.key if elements.weather else ""
    if anchor is not None:
        subject, outdoor, time_key = _anchored_subject(key, scene.text, elements, anchor)
        palette = anchor.palette
    else:
        mood_subjects = _FALLBACK_SCENES[key]["subjects"]
        content = content_subject(key, elements)
        subject = content or mood_subjects[index % len(mood_subjects)]
        if content is None:
            outdoor = found("outdoors", subject) is not None
        else:
            outdoor = elements.setting.key in _OUTDOOR_SETTINGS if elements.setting else key in _OUTDOOR_MOODS
        time_key = LEXICON_TIMES.get(elements.time.key) if elements.time else None
        palette = ""
    light = _TIME_LIGHT[(time_key, outdoor)] if time_key else ""
    if light and palette:
        look = f"{light}, with {palette}"
    else:
        look = light or (f"The colours keep to {palette}" if palette else "")
    # What the scene fixes first (subject, light, rain); the optional parts must agree with it.
    look = consistent_clauses(subject, _sentence(look))
    rain = _WEATHER_SOUND.get((weather, outdoor), "")
    said = " ".join((subject, look, rain))
    # With a time of day, its light is said once: the style's own light clauses go.
    hint = consistent_clauses(said, _sentence(style.style_hint), drop="lighting" if light else None)
    camera = _camera(style, index, f"{said} {hint}")
    audio = consistent_clauses(f"{said} {hint} {camera}", _FALLBACK_SCENES[key]["audio"])
    return " ".join(part for part in (subject, look, hint, camera, rain, audio) if part)


def _i2v(key: str, scene: SceneDecision, elements: SceneElements, look: ImageLook | None) -> str:
    weather = elements.weather.key if elements.weather else ""
    umbrella = any(term.key == "umbrella" for term in find_terms(scene.text))
    motion = _I2V_UMBRELLA if weather == "rain" and umbrella else _I2V_WEATHER_MOTION.get(weather, "")
    shown = _I2V_FALLBACK_MOTION + _I2V_LOOK_LIGHT[look.light if look is not None else "even"]
    camera = _I2V_CAMERA[look.orientation] if look is not None else _I2V_FALLBACK_CAMERA
    parts = [motion, shown, camera]
    parts.append(consistent_clauses(" ".join(parts), _FALLBACK_SCENES[key]["audio"]))
    return " ".join(part for part in parts if part)


def fallback_prompt(
    mood: str,
    scene: SceneDecision,
    mode: PromptMode,
    *,
    styles: VideoStyles,
    index: int = 0,
    title: str = "",
    body_summary: str = "",
    anchor: VisualAnchor | None = None,
    look: ImageLook | None = None,
) -> str:
    """A usable prompt without the LLM, built from the scene's content (`prompt_lexicon`), deterministic,
    free of contradictions and checked by `check_prompt` in the tests.

    T2V: with the post's `anchor`, a subject sentence around its main character (plus the people, animal and
    object the scene names) at the scene's place and time, else the anchor's, then their light and the
    palette. Without one, the subject from the scene's content, or the mood's own subjects varied by the
    scene's position. Then the mood's style hint, a camera hint from the styles file, the rain when it rains,
    and the mood's sound, each kept only where it agrees. I2V stays motion-only: the matched weather moves,
    the image's measured `look` picks the light's motion and the camera, the rest of the photo barely moves."""
    key = styles.resolve(mood)
    if scene.source_index is not None:
        index = scene.source_index
    elements = scene_elements(scene.text, title, body_summary)
    if mode == "i2v":
        return _i2v(key, scene, elements, look)
    return _t2v(key, scene, styles.get(key), index, elements, anchor)
