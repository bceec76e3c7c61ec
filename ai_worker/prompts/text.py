"""Pure prompt text: the spec's negative prompt, the checks every LLM answer goes through, and the
deterministic simplification the fallback ladder's later rungs use. No LLM, no I/O: Phase 7 (the manager)
imports this without depending on the LLM client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypedDict

PromptMode = Literal["t2v", "i2v"]

# The negative prompt of docs/spec.md, 4 'Prompt engine', item for item, as one line.
NEGATIVE_PROMPT = (
    "worst quality, inconsistent motion, blurry, jittery, distorted, "
    "watermarks, anime, cartoon, 3d render, CGI, "
    "cyberpunk, sci-fi, futuristic, neon lights, abstract, "
    "deformed hands, extra fingers, bad anatomy, "
    "ugly, duplicate, morbid, mutilated, "
    "western faces, caucasian, european setting"
)

# --- checking the LLM's answer (pure functions) -------------------------------------------------------------
# A local 14B model sometimes answers in Korean, opens with "Here is your prompt:", wraps the answer in quotes
# or markdown, runs past the length it was given (and is then cut off mid-sentence by `num_predict`), or
# follows instructions hidden in the post. `clean_answer` removes the harmless wrapping; `check_prompt` then
# accepts the paragraph (trimmed to the limits at a sentence end) or says why not.


class PromptLimits(TypedDict):
    """What a usable answer looks like for one mode.

    The system prompts ask for 3 to 6 (T2V) and 2 to 4 (I2V) sentences; one sentence fewer is accepted
    because a `num_predict` cut can remove the last one, and a short prompt still makes a clip.
    """

    min_sentences: int
    max_sentences: int
    min_words: int
    max_words: int


LIMITS: dict[str, PromptLimits] = {
    "t2v": {"min_sentences": 2, "max_sentences": 6, "min_words": 20, "max_words": 200},
    "i2v": {"min_sentences": 1, "max_sentences": 4, "min_words": 8, "max_words": 100},
}


@dataclass(frozen=True)
class PromptCheck:
    """The outcome of checking one answer: the usable prompt, or the reason it was refused."""

    prompt: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.prompt is not None


# Hangul (syllables, jamo, compatibility jamo), kana, CJK ideographs and their extensions, and full-width forms.
CJK_RE = re.compile(
    "[\u1100-\u11ff\u3000-\u303f\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\uff00-\uffef]"
)

_THINK_RE = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_FENCE_RE = re.compile(r"^\s*```[\w-]*\s*$")
_LIST_MARK_RE = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+\u2022]\s+|\d{1,2}[.)]\s+)")
_INLINE_MARK_RE = re.compile(r"\*\*|__|`|(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)")
_LABEL_RE = re.compile(
    r"^\s*(?:\*\*)?(?:(?:final|english|video|t2v|i2v|motion|text-to-video|image-to-video|ltx-2)\s+)*"
    r"(?:prompt|answer|output|description)\s*(?:\*\*)?\s*[:\-\u2013\u2014]\s*",
    re.IGNORECASE,
)
# "Shot: ...", "Camera: ..." lines: the six elements written as a form instead of prose.
_ELEMENT_LABEL_RE = re.compile(
    r"^(?:shot|scene|setting|action|character|characters|camera|camera movement|audio|sound|lighting|style|mood)"
    r"\s*[:\-\u2013\u2014]\s+(?=\S)",
    re.IGNORECASE,
)
_PREAMBLE_RE = re.compile(
    r"^\s*(?:(?:sure|okay|ok|certainly|of course|absolutely|alright|great)\b\s*[,!.]?\s*)?"
    r"(?:(?:here(?:'s| is| are)|below is)\b[^:\n]*:\s*)?",
    re.IGNORECASE,
)
_META_PARAGRAPH_RE = re.compile(
    r"^\s*\(?\s*(?:note|notes|this prompt|this video prompt|this description|i hope|let me know|word count"
    r"|explanation|feel free|hope this|i've|i have)\b",
    re.IGNORECASE,
)
_QUOTES = "\"'\u201c\u201d\u2018\u2019\u300c\u300d\u300e\u300f`"

# Meta-talk and echoes of instructions: a video prompt never talks about prompts, rules or itself.
_META_RE = re.compile(
    r"\b(?:as an ai|language model|i cannot|i can't|i can not|i won't|i will not|i'm sorry|i am sorry"
    r"|i apologi[sz]e|here is|here's|here are|system prompt|instructions?|prompts?|disregard"
    r"|ignor(?:e|es|ing)\s+(?:all\s+|the\s+|any\s+|previous\s+|prior\s+|above\s+|earlier\s+|these\s+|those\s+"
    r"|my\s+|your\s+|of\s+)*(?:instructions?|rules|directions|text|above)"
    r"|word count|the (?:user|post) (?:says|asks|wants)|jailbreak)\b"
    r"|https?://|www\.|<<<|>>>",
    re.IGNORECASE,
)
# Looks the negative prompt forbids; a post steering the model toward them gets a fallback instead.
_OFF_STYLE_RE = re.compile(
    r"\b(?:anime|cartoon|cartoonish|3d render|cgi|cyberpunk|sci-fi|science fiction|futuristic|caucasian"
    r"|watermark)\b",
    re.IGNORECASE,
)
CAMERA_RE = re.compile(
    r"\b(?:camera|shot|frame|framing|close-up|closeup|dolly|pans?|panning|tilts?|tilting|zooms?|zooming"
    r"|tracking|tracks|handheld|static|lens|angle|pov|push(?:es)? in|pull(?:s)? back|pushes|glides|drifts)\b",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)\]])\s+")
_TERMINAL_RE = re.compile(r"[.!?][\"'\u201d\u2019)\]]?$")
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['\u2019-][A-Za-z0-9]+)*")


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, punctuation kept (a sentence ends with . ! or ? and a space)."""
    return [part.strip() for part in _SENTENCE_SPLIT_RE.split(text.strip()) if part.strip()]


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def has_cjk(text: str) -> bool:
    return CJK_RE.search(text) is not None


def _strip_quotes(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = text.strip()
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
            text = text[1:-1]
        elif text and text[0] in _QUOTES and text.count(text[0]) == 1:
            text = text[1:]
        elif text and text[-1] in _QUOTES and text.count(text[-1]) == 1:
            text = text[:-1]
    return text.strip()


def clean_answer(raw: str) -> str:
    """Remove the wrapping a chat model adds (thinking, fences, markdown, labels, preambles, notes, quotes)
    and join what is left into one paragraph."""
    text = _THINK_RE.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    for line in text.split("\n"):
        if _FENCE_RE.match(line):
            continue
        stripped = _LIST_MARK_RE.sub("", line)
        stripped = _INLINE_MARK_RE.sub("", stripped).strip()
        # A short line ending in a colon ("Here is your prompt:", "Video prompt:") only introduces the answer.
        if stripped.endswith(":") and count_words(stripped) <= 14:
            continue
        labelled = _ELEMENT_LABEL_RE.sub("", stripped, count=1)
        if labelled != stripped:
            # Each labelled line becomes a sentence of the paragraph.
            labelled = labelled[0].upper() + labelled[1:]
            stripped = labelled if labelled.endswith((".", "!", "?")) else labelled + "."
        lines.append(stripped)

    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []

    kept: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        paragraph = _LABEL_RE.sub("", paragraph, count=1)
        if index == 0 or not kept:
            paragraph = _PREAMBLE_RE.sub("", paragraph, count=1)
            paragraph = _LABEL_RE.sub("", paragraph, count=1)
        paragraph = _strip_quotes(paragraph)
        if not paragraph:
            continue
        # Trailing notes about the answer ("Note: ...", "(Word count: 120)") are dropped, not refused.
        if kept and (_META_PARAGRAPH_RE.match(paragraph) or (paragraph.startswith("(") and paragraph.endswith(")"))):
            continue
        kept.append(paragraph)
    joined = " ".join(kept)
    return re.sub(r"\s+", " ", _strip_quotes(joined)).strip()


def _fit(sentences: list[str], limits: PromptLimits) -> list[str]:
    """Keep whole sentences only, up to the sentence and word limits."""
    fitted: list[str] = []
    words = 0
    for sentence in sentences[: limits["max_sentences"]]:
        n = count_words(sentence)
        if words + n > limits["max_words"]:
            break
        fitted.append(sentence)
        words += n
    return fitted


def meta_talk(text: str) -> str | None:
    """Why `text` is not a description (talk about prompts or rules, or a forbidden look), or None."""
    meta = _META_RE.search(text)
    if meta:
        return f"meta-talk or instructions in the answer ({meta.group(0)!r})"
    off = _OFF_STYLE_RE.search(text)
    if off:
        return f"off-style content ({off.group(0)!r})"
    return None


def check_prompt(raw: str, mode: PromptMode) -> PromptCheck:
    """Clean an LLM answer and accept it as a `mode` prompt, or give the reason it cannot be used."""
    limits = LIMITS[mode]
    text = clean_answer(raw)
    if not text:
        return PromptCheck(None, "empty answer")
    if has_cjk(text):
        return PromptCheck(None, "not English (Hangul or other CJK characters)")
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) / len(letters) < 0.95:
        return PromptCheck(None, "not English (non-Latin letters)")
    problem = meta_talk(text)
    if problem:
        return PromptCheck(None, problem)

    sentences = split_sentences(text)
    if sentences and not _TERMINAL_RE.search(sentences[-1]):
        # Cut off by num_predict: the unfinished sentence goes, the finished ones stay.
        sentences = sentences[:-1]
        if not sentences:
            return PromptCheck(None, "unfinished sentence (answer cut off)")
    fitted = _fit(sentences, limits)
    if not fitted:
        return PromptCheck(None, f"too long (first sentence over {limits['max_words']} words)")
    if len(fitted) < limits["min_sentences"]:
        return PromptCheck(None, f"too short ({len(fitted)} sentence(s), need {limits['min_sentences']})")
    prompt = " ".join(fitted)
    if count_words(prompt) < limits["min_words"]:
        return PromptCheck(None, f"too short ({count_words(prompt)} words, need {limits['min_words']})")
    if not CAMERA_RE.search(prompt):
        return PromptCheck(None, "no shot or camera direction")
    return PromptCheck(prompt)


# --- simplification for the ladder's later rungs (no LLM) --------------------------------------------------

_CAMERA_MOVE_RE = re.compile(
    r"\b(?:camera|dolly|dollies|pans?|panning|tilts?|tilting|zooms?|zooming|tracking|tracks|handheld|"
    r"push(?:es)? in|pull(?:s)? back|orbits?|crane)\b",
    re.IGNORECASE,
)
_AUDIO_RE = re.compile(
    r"\b(?:sounds?|audio|hums?|humming|murmurs?|murmuring|chatter|noise|music|voices?|ambience|ambient|"
    r"silence|ringing|rings|beeps?|buzz(?:es|ing)?|creaks?|creaking|footsteps|sighs?|breath|"
    r"hear|heard|echo(?:es)?|rustle|rustling|clicks?|taps|soundscape|tone of)\b",
    re.IGNORECASE,
)
_LIGHT_RE = re.compile(
    r"\b(?:\w*light(?:s|ing)?|lit|glow|glows|shadows?|tones?|colou?rs?|palette|hues?|"
    r"contrast|saturated|desaturated|depth of field)\b",
    re.IGNORECASE,
)
_SECONDARY_RE = re.compile(
    r"\b(?:in the background|behind (?:him|her|them)|passers-by|passersby|another (?:man|woman|person)|"
    r"other people|a crowd|coworkers? nearby)\b",
    re.IGNORECASE,
)
SIMPLE_CAMERA_DEFAULT = "The camera holds steady."


def _prune_clauses(sentence: str) -> str:
    """Drop the comma clauses after the first that carry sound or secondary characters."""
    clauses = [c.strip() for c in sentence.rstrip(".!? ").split(",")]
    kept = [clauses[0]] + [c for c in clauses[1:] if not (_AUDIO_RE.search(c) or _SECONDARY_RE.search(c))]
    return ", ".join(c for c in kept if c) + "."


def simplify_prompt(prompt: str) -> str:
    """The prompt cut to 2 or 3 sentences: the main action (and one more action sentence when there is one)
    and the camera; sound, lighting detail and secondary characters go. Deterministic, no LLM."""
    sentences = split_sentences(re.sub(r"\s+", " ", prompt).strip())
    if not sentences:
        return ""
    camera = next((s for s in sentences if _CAMERA_MOVE_RE.search(s)), None)
    actions = [s for s in sentences if s is not camera and not _AUDIO_RE.search(s) and not _LIGHT_RE.search(s)]
    if not actions:
        # Every sentence mentions sound or light: keep the first non-camera one, pruned.
        actions = [s for s in sentences if s is not camera][:1]
    kept = [_prune_clauses(s) for s in actions[:2]]
    if len(kept) == 2 and count_words(" ".join(kept)) > 60:
        kept = kept[:1]
    kept.append(_prune_clauses(camera) if camera is not None else SIMPLE_CAMERA_DEFAULT)
    return " ".join(kept)
