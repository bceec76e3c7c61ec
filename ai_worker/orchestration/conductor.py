"""`VideoManager`, the one conductor of Phase 7 (docs/spec.md 5, 9, 10): every scene's clip through the
fallback ladder, on every server at once, with failed scenes merged away so that no line of the script is
lost. `generate_all_clips` runs one post, `generate_batch` many posts on the same servers.

The parts it conducts, each in its own module:

* `post_run`: one post's books, and the one place that writes a scene's record;
* `reconcile`: the manifest against the scenes (reuse, clip cap, resume, re-attach, retries);
* `scheduler`: the one, pure scheduler (breadth-first, distilled last, slots, affinity, benching);
* `slots`: every server slot taking jobs from the scheduler;
* `attempt`: one attempt (request via `clip_plan`, guard, re-attach, cancel), returning its outcome;
* `error_policy`: what a failed attempt's error type means for the scene and the server;
* `finish`: merge, final scenes, superseded clips.

Health check first; when no server passes, no clip is attempted and the scenes stay as they are (static).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ai_worker.core.errors import OutputError
from ai_worker.model.capabilities import Backend, servers_of
from ai_worker.model.manifest import ManifestStore
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.events import EventCallback, VideoGenerationResult
from ai_worker.orchestration.finish import merge_results
from ai_worker.orchestration.gpu_manager import GPUManager
from ai_worker.orchestration.ladder import Rung, build_ladder
from ai_worker.orchestration.merge import MergePlan
from ai_worker.orchestration.post_run import PostRun
from ai_worker.orchestration.scheduler import Clock, Scheduler
from ai_worker.orchestration.slots import ServerSlots
from ai_worker.prompts.text import NEGATIVE_PROMPT, simplify_prompt
from config.settings import Settings

logger = logging.getLogger(__name__)


@runtime_checkable
class PromptStyle(Protocol):
    """What Phase 7 takes from the prompt engine, when it has one: the negative prompt and the simplifier
    for rungs 2-4 when Phase 6 left no simplified prompt."""

    @property
    def negative_prompt(self) -> str: ...

    def simplify_prompt(self, prompt: str) -> str: ...


@dataclass
class PostJob:
    """One post of a batch."""

    scenes: list[SceneDecision]
    mood: str
    post_id: str
    output_dir: Path
    title: str = ""
    store: ManifestStore | None = None
    on_event: EventCallback | None = None


class VideoManager:
    """Phase 7: clips for posts' scenes (see the module docstring)."""

    def __init__(
        self,
        comfy_client: Backend,
        prompt_engine: PromptStyle | None,
        config: Settings,
        *,
        gpu_manager: GPUManager | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.generator = comfy_client
        self.prompt_engine = prompt_engine
        self.settings = config
        self.gpu = gpu_manager or GPUManager(config, servers=servers_of(comfy_client), use_local_probes=False)
        self.ladder: tuple[Rung, ...] = build_ladder(config)
        self.clock = clock

    def simplify(self, prompt: str) -> str:
        result = self.prompt_engine.simplify_prompt(prompt) if self.prompt_engine else simplify_prompt(prompt)
        return result if result.strip() else prompt

    def negative_prompt(self) -> str:
        return self.prompt_engine.negative_prompt if self.prompt_engine else NEGATIVE_PROMPT

    async def generate_all_clips(
        self,
        scenes: list[SceneDecision],
        mood: str,
        post_id: str,
        title: str = "",
        body_summary: str = "",
        *,
        output_dir: Path | None = None,
        store: ManifestStore | None = None,
        on_event: EventCallback | None = None,
        retry_failed: bool = False,
    ) -> list[VideoGenerationResult]:
        """Make a clip for every scene that gets one, merge failed scenes into survivors (mutating `scenes`),
        and return one result per input scene, in input order."""
        del body_summary  # the prompts were written in Phase 6; kept for the spec's signature
        out = Path(output_dir) if output_dir is not None else self.settings.video_output_dir / post_id
        job = PostJob(scenes, mood, post_id, out, title, store, on_event)
        return (await self.generate_batch([job], retry_failed=retry_failed))[0]

    async def generate_batch(
        self, posts: list[PostJob], *, retry_failed: bool = False
    ) -> list[list[VideoGenerationResult]]:
        """Many posts at once on the same servers (one scheduler): results per post, in order."""
        runs = [self.post_run(n, p, retry_failed=retry_failed) for n, p in enumerate(posts)]
        await self._run(runs)
        return [run.results for run in runs]

    def post_run(self, number: int, post: PostJob, *, retry_failed: bool = False) -> PostRun:
        """The books of one post of a batch (the service builds the same ones in each of its activities)."""
        return PostRun(number=number, scenes=post.scenes, mood=post.mood, post_id=post.post_id, title=post.title,
                       output_dir=post.output_dir, store=post.store, on_event=post.on_event, settings=self.settings,
                       ladder=self.ladder, negative_prompt=self.negative_prompt(), simplify=self.simplify,
                       retry_failed=retry_failed)

    async def _run(self, posts: list[PostRun]) -> None:
        """Every post's scenes to the end (clip or failure), then each post's finish (merge, final scenes)."""
        clock = self.clock or time.monotonic
        scheduler = Scheduler(self.ladder, bench_seconds=self.settings.comfyui_bench_seconds,
                              max_failures=self.settings.video_server_max_failures, clock=clock,
                              wait_rechecks=self.settings.comfyui_bench_rechecks)
        slots = ServerSlots(self.generator, scheduler, self.settings, self.gpu, clock=clock)
        for post in posts:
            for work in await post.prepare():
                slots.add(work)
        try:
            if any(job.state == "queued" for job in scheduler.jobs):
                if await slots.health_check():
                    await slots.work()
                else:
                    reason = f"video backend {self.generator.name} failed its health check; clips skipped"
                    logger.warning("%s", reason)
                    for post in posts:
                        post.backend_down(reason)
        except BaseException:
            for post in posts:
                post.interrupted()
                with contextlib.suppress(OutputError):  # the error being raised says more
                    post.save()
            raise
        for post in posts:
            post.finish()
        if slots.switches():
            logger.info("checkpoint switches asked of each server: %s", slots.switches())

    def _merge_failed_scenes(self, scenes: list[SceneDecision], results: list[VideoGenerationResult]) -> MergePlan:
        return merge_results(scenes, results)
