"""Phase 6: Korean scenes into English LTX-2 prompts (`VideoPromptEngine`, docs/spec.md, 4).

For every scene Phase 4.5 gave a video mode, the local LLM (Ollama) writes one English prompt following the
official LTX-2 advice: one flowing present-tense paragraph with shot, scene, action, character, camera and
audio for text-to-video, or only the motion for image-to-video. The post is strangers' text, so it goes to
the model as delimited data, and every answer is checked before use (`check_prompt`): wrapping removed, one
paragraph, English only, within the limits (cut at a sentence end), no meta-talk. An unusable answer is
retried once; then a deterministic per-mood fallback (`prompt_fallback`) is used and `scene.prompt_source`
says why.

One look per post: before the scenes, one call writes the post's visual anchor (`visual_anchor`: main
character, place, time of day, palette; a deterministic one when the LLM cannot). Every T2V system prompt
carries it and every T2V prompt must name its main character. Image-to-video prompts are told what the
photo looks like (`image_look`: light, colour, orientation), measured, since no vision model is assumed.

The simplified prompt for the ladder's later rungs is made here too (`simplify_prompt`, no LLM), so Phase 7
never needs the LLM; at the end of the batch Ollama is asked to unload the model (`keep_alive: 0`) so the
video model gets the VRAM (docs/spec.md, 14).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

from ai_worker.core.errors import ImageError, LLMConnectionError, LLMError, LLMResponseError, LLMTimeoutError
from ai_worker.images.look import ImageLook, image_look
from ai_worker.model.anchor import VisualAnchor
from ai_worker.model.scene import SceneDecision
from ai_worker.model.styles import VideoStyles
from ai_worker.prompts.anchor import (
    ANCHOR_MAX_TOKENS,
    ANCHOR_TEMPERATURE,
    anchor_system_prompt,
    mentions_subject,
    parse_anchor,
)
from ai_worker.prompts.fallback import content_subject, default_anchor, fallback_prompt
from ai_worker.prompts.llm_client import OllamaClient
from ai_worker.prompts.messages import LLM_PARAMS, anchor_user_prompt, system_prompt, user_prompt
from ai_worker.prompts.text import (
    LIMITS,
    NEGATIVE_PROMPT,
    PromptCheck,
    PromptMode,
    check_prompt,
    clean_answer,
    simplify_prompt,
)
from config.settings import Settings

__all__ = [
    "LIMITS",
    "NEGATIVE_PROMPT",
    "PromptCheck",
    "VideoPromptEngine",
    "anchor_user_prompt",
    "check_prompt",
    "clean_answer",
    "content_subject",
    "fallback_prompt",
    "simplify_prompt",
    "system_prompt",
    "user_prompt",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# --- the engine ---------------------------------------------------------------------------------------------


class PromptLLM(Protocol):
    """What the engine needs from an LLM (the `OllamaClient` has it)."""

    async def generate(
        self, prompt: str, system: str | None = None, max_tokens: int = 256, temperature: float = 0.7
    ) -> str: ...

    async def unload(self) -> None: ...


@dataclass
class _BatchState:
    """Whether the LLM can still be asked during this batch, and whether it ever answered."""

    available: bool = True
    unavailable_reason: str = ""
    answered: bool = False


@dataclass(frozen=True)
class ScenePrompt:
    """One scene's result."""

    prompt: str
    simple: str
    source: str


class VideoPromptEngine:
    """Writes the post's visual anchor, then `video_prompt`, `video_prompt_simple` and `prompt_source` for
    every scene with a video mode."""

    def __init__(self, settings: Settings, styles: VideoStyles | None = None, llm: PromptLLM | None = None) -> None:
        self._settings = settings
        # Loaded and checked here, at start: a malformed styles file stops the run before any work.
        self._styles = styles if styles is not None else VideoStyles.load(settings.video_styles_path)
        self._llm = llm

    negative_prompt: ClassVar[str] = NEGATIVE_PROMPT
    """The spec's negative prompt, passed with every T2V and I2V job."""

    @property
    def styles(self) -> VideoStyles:
        return self._styles

    def simplify_prompt(self, prompt: str) -> str:
        """The module's `simplify_prompt` (the spec calls it through the engine)."""
        return simplify_prompt(prompt)

    async def generate_batch(
        self,
        scenes: Sequence[SceneDecision],
        mood: str,
        title: str,
        body_summary: str,
        *,
        only: Sequence[SceneDecision] | None = None,
        anchor: VisualAnchor | None = None,
    ) -> VisualAnchor:
        """The post's anchor, and prompts for every scene whose `video_mode` is "t2v" or "i2v" (other scenes
        are left alone). The LLM is asked for the anchor only when some scene is text-to-video.

        `only` limits the prompts written to those scenes (the others keep prompts saved by an earlier run);
        the anchor is still about the whole post. A given `anchor` (saved by an earlier run) is used as it is,
        so new prompts share the look of the kept ones."""
        pool = scenes if only is None else only
        targets = [scene for scene in pool if scene.video_mode in ("t2v", "i2v")]
        if anchor is not None:
            kept = anchor
            if targets:
                await self._with_llm(lambda llm: self._run(llm, targets, mood, title, body_summary, kept))
            return kept
        if not any(scene.video_mode == "t2v" for scene in targets):
            anchor = default_anchor(mood, self._styles, title, body_summary, scenes, "no text-to-video scene")
            if targets:
                await self._with_llm(lambda llm: self._run(llm, targets, mood, title, body_summary, anchor))
            return anchor

        async def anchored(llm: PromptLLM) -> VisualAnchor:
            state = _BatchState()
            made = await self._anchor(llm, state, scenes, mood, title, body_summary)
            await self._run(llm, targets, mood, title, body_summary, made, state)
            return made

        return await self._with_llm(anchored)

    async def _with_llm(self, work: Callable[[PromptLLM], Awaitable[T]]) -> T:
        if self._llm is not None:
            return await work(self._llm)
        async with OllamaClient(self._settings) as client:
            return await work(client)

    async def _anchor(
        self,
        llm: PromptLLM,
        state: _BatchState,
        scenes: Sequence[SceneDecision],
        mood: str,
        title: str,
        body_summary: str,
    ) -> VisualAnchor:
        """One LLM call for the anchor; any failure gives the deterministic one, and an unreachable or slow
        LLM is not asked again in this batch."""
        key = self._styles.resolve(mood)
        prompt = anchor_user_prompt(scenes, mood=key, title=title, body_summary=body_summary)
        system = anchor_system_prompt(self._styles.get(key))
        raw, reason = await _ask(llm, state, "the anchor", prompt, system, ANCHOR_MAX_TOKENS, ANCHOR_TEMPERATURE)
        if raw is None:
            return default_anchor(mood, self._styles, title, body_summary, scenes, reason)
        parsed = parse_anchor(raw)
        if isinstance(parsed, str):
            logger.warning("unusable anchor answer: %s", parsed)
            return default_anchor(mood, self._styles, title, body_summary, scenes, f"invalid answer: {parsed}")
        logger.info("visual anchor: %s", parsed.brief())
        return parsed

    async def _run(
        self,
        llm: PromptLLM,
        targets: list[SceneDecision],
        mood: str,
        title: str,
        body_summary: str,
        anchor: VisualAnchor,
        state: _BatchState | None = None,
    ) -> None:
        key = self._styles.resolve(mood)
        state = state or _BatchState()
        post = _Post(key, title, body_summary, anchor, len(targets))
        for index, scene in enumerate(targets):
            result = await self._scene_prompt(llm, state, scene, post, index)
            scene.video_prompt = result.prompt
            scene.video_prompt_simple = result.simple
            scene.prompt_source = result.source
            logger.info("scene %d (%s): prompt from %s", index, scene.video_mode, result.source)
        if state.answered:
            try:
                await llm.unload()
            except LLMError as exc:
                # Not fatal: Ollama unloads on its own after keep_alive; Phase 7's VRAM check covers the rest.
                logger.warning("could not ask Ollama to unload the model: %s", exc)
        else:
            logger.info("Ollama never answered in this batch; no unload requested")

    async def _scene_prompt(
        self, llm: PromptLLM, state: _BatchState, scene: SceneDecision, post: _Post, index: int
    ) -> ScenePrompt:
        mode: PromptMode = "i2v" if scene.video_mode == "i2v" else "t2v"
        style = self._styles.get(post.mood)
        params = LLM_PARAMS[mode]
        system = system_prompt(mode, style, post.anchor)
        look = await _look(scene) if mode == "i2v" else None
        reason = state.unavailable_reason
        tell_model: str | None = None
        for attempt in range(2):
            if not state.available:
                break
            prompt = user_prompt(
                scene,
                mode=mode,
                mood=post.mood,
                index=index,
                total=post.total,
                title=post.title,
                body_summary=post.body_summary,
                retry_reason=tell_model,
                look=look,
            )
            what = f"scene {index} (attempt {attempt + 1})"
            raw, failure = await _ask(llm, state, what, prompt, system, params["max_tokens"], params["temperature"])
            if raw is None:
                reason, tell_model = failure, None
                continue
            check = check_prompt(raw, mode)
            if check.prompt is not None and mode == "t2v" and not mentions_subject(check.prompt, post.anchor.subject):
                check = PromptCheck(None, f"the main character is not named as {post.anchor.subject!r}")
            if check.prompt is not None:
                source = "llm" if attempt == 0 else "llm_retry"
                return ScenePrompt(check.prompt, simplify_prompt(check.prompt), source)
            reason = tell_model = f"invalid answer: {check.reason}"
            logger.warning("scene %d: unusable answer (attempt %d): %s", index, attempt + 1, check.reason)
        fallback = fallback_prompt(
            post.mood,
            scene,
            mode,
            styles=self._styles,
            index=index,
            title=post.title,
            body_summary=post.body_summary,
            anchor=post.anchor,
            look=look,
        )
        return ScenePrompt(fallback, simplify_prompt(fallback), f"fallback: {reason or 'no answer'}")


async def _ask(
    llm: PromptLLM, state: _BatchState, what: str, prompt: str, system: str, max_tokens: int, temperature: float
) -> tuple[str | None, str]:
    """One LLM call: (the answer, "") or (None, why not). A refused or slow LLM will not come back within
    this batch, so it is marked unavailable and nothing more is asked; an error answer may be retried."""
    try:
        raw = await llm.generate(prompt, system, max_tokens, temperature)
    except (LLMConnectionError, LLMTimeoutError) as exc:
        reason = "ollama unreachable" if isinstance(exc, LLMConnectionError) else "ollama timed out"
        logger.warning("%s for %s, using fallback prompts for this batch: %s", reason, what, exc)
        state.available, state.unavailable_reason = False, reason
        return None, reason
    except LLMResponseError as exc:
        state.answered = True
        logger.warning("%s: Ollama answered with an error: %s", what, exc)
        return None, "ollama error"
    state.answered = True
    return raw, ""


@dataclass(frozen=True)
class _Post:
    """What every scene's prompt of one post shares."""

    mood: str
    title: str
    body_summary: str
    anchor: VisualAnchor
    total: int


async def _look(scene: SceneDecision) -> ImageLook | None:
    """The measured look of an image-to-video scene's photo, or None when it cannot be read."""
    if not scene.video_init_image:
        return None
    try:
        return await asyncio.to_thread(image_look, Path(scene.video_init_image))
    except ImageError as exc:
        logger.warning("cannot measure the image for its motion prompt: %s", exc)
        return None
