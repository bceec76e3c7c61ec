"""Phase 7 orchestration benchmark: the order of docs/spec.md (per scene, depth-first, one server) against ours
(breadth-first, every server at once), on the fake ComfyUI with simulated GPU time.

Run: ``.venv/bin/python -m bench.orchestration``

Simulated GPU time per job is ``seconds_per_unit * width * height * frames * steps`` plus a checkpoint load
whenever a server's checkpoint changes (the fake server's own model). A failing job is made to burn half of
its sampling time first (an OOM or an error part-way through sampling costs GPU time on a real server too).
The post has 8 scenes with a fixed pattern of failures (``PATTERN``), injected per scene and rung so that
both orders meet exactly the same failures. The clips are real mp4s (FFmpeg) and are validated.

Printed: wall time / summed simulated GPU time (goal <= 1.05); wall time / summed server busy time (the
whole job on the server, including the fake's copy of a cached mp4 per clip, which is not simulated GPU
time); checkpoint switches (goal <= 1 per server); our speed-up with 2 and 4 servers over 1 for one post
(goals >= 1.8x and >= 3.5x), and for a batch of BATCH_POSTS posts in one run sharing the servers through the
one scheduler, 4 servers over 1 (goal >= 3.8x: the tail of one post is filled with the next post's work).
"ours, 1 slot" is our order without pipelining (one job per server at a time), for comparison.

What the ratio cannot reach 1.0 for, even with pipelining: the first job's submit and the last job's download
and validation (no GPU work overlaps them), and on several servers the tail, where fewer jobs are left than
servers. Between jobs the server's own queue already holds the next one, so those round trips are hidden.

Each server is one `ComfyUIClient` with its two slots (one prompt running, one queued behind it; each run has
its own client id). Faults are keyed by the attempt's seed (not pushed to the server's queue just before
submitting), because with two submissions in flight a pushed fault could be taken by the other one.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_worker.comfy.client import ComfyUIClient
from ai_worker.comfy.pool import ComfyUIPool
from ai_worker.core.errors import ComfyUIOutOfMemoryError, GeneratorError, MediaError
from ai_worker.media.probe import validate_clip
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks, VideoGenerator
from ai_worker.model.capabilities import Backend
from ai_worker.model.scene import SceneDecision
from ai_worker.orchestration.conductor import PostJob, VideoManager
from ai_worker.orchestration.ladder import build_ladder
from ai_worker.orchestration.scene_identity import attempt_seed, scene_fingerprint
from config.settings import Settings
from tests.fakes.fake_comfyui import SAMPLER_CLASSES, FakeComfyUI, Fault
from tests.fakes.settings import tiny_clip_settings

SECONDS_PER_FULL_JOB = 0.8
SWITCH_SECONDS = 0.15
"""Checkpoint load: about 15-30 s for LTX-2's 27 GB against 200-250 s per clip, scaled."""
FAILED_FRACTION = 0.5

PATTERN: dict[int, dict[int, str]] = {
    # scene -> {rung: fault}; rungs not named succeed
    1: {1: "error"},
    3: {1: "oom", 2: "oom"},
    4: {1: "error", 2: "error", 3: "error"},  # distilled
    6: {1: "zero_byte"},
    7: {1: "error", 2: "error", 3: "error"},  # distilled
}
SCENES = 8
BATCH_POSTS = 8


def bench_settings() -> Settings:
    return tiny_clip_settings(
        video_steps=20, video_steps_fallback=15, video_steps_distilled=8, video_gen_timeout=60,
        comfyui_poll_interval=0.05,
    )


class TimedFake(FakeComfyUI):
    """The fake server, summing the simulated GPU time it spends (checkpoint loads and sampling)."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.gpu_seconds = 0.0
        self.busy_seconds = 0.0
        """The whole job on the server: GPU time plus writing the output file."""
        self.faults_by_seed: dict[int, str] = {}

    async def _execute(self, job: Any) -> None:
        if job.fault is None:
            seeds = [node.get("inputs", {}).get("noise_seed") for node in job.graph.values()]
            kind = next((self.faults_by_seed.pop(s) for s in seeds if s in self.faults_by_seed), None)
            if kind is not None:
                job.fault = Fault(kind)
        started = time.monotonic()
        try:
            await super()._execute(job)
        finally:
            self.busy_seconds += time.monotonic() - started

    async def _run_node(self, job: Any, node_id: str, cls: str, states: dict[str, Any]) -> int:
        if cls not in SAMPLER_CLASSES:
            return await super()._run_node(job, node_id, cls, states)
        started = time.monotonic()
        try:
            if job.fault is not None and job.fault.kind in ("error", "oom"):
                width, height, frames, _fps = self.clip_shape(job.graph)
                await asyncio.sleep(FAILED_FRACTION * self.seconds_per_unit * width * height * frames
                                    * self._steps(job.graph))
            return await super()._run_node(job, node_id, cls, states)
        finally:
            self.gpu_seconds += time.monotonic() - started


class FaultingClient(ComfyUIClient):
    """Pushes the pattern's fault for (scene, rung) to its server just before submitting."""

    def __init__(self, server: TimedFake, folder: Path, settings: Settings) -> None:
        super().__init__(server.url, folder, settings=settings)
        self.server = server

    def _inject(self, request: ClipRequest) -> None:
        stem = request.output_path.stem  # scene_{index}_{fingerprint}_r{rung}[_t{n}]
        scene = int(stem.split("_")[1])
        rung = int(stem.split("_r")[-1].split("_")[0])
        tries = stem.count("_t")
        fault = PATTERN.get(scene, {}).get(rung) if not tries else None
        if fault is not None:
            self.server.faults_by_seed[request.seed] = fault

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        self._inject(request)
        return await super().generate_t2v(request, hooks)


def make_scenes(post: int = 0) -> list[SceneDecision]:
    return [
        SceneDecision(type="text_only", text_lines=[f"글 {post} 장면 {i}"], video_mode="t2v",
                      video_prompt=f"A street vendor in Busan pours coffee, take {i}. The camera pans slowly.")
        for i in range(SCENES)
    ]


async def seed_order(generator: VideoGenerator, scenes: list[SceneDecision], settings: Settings, out: Path) -> int:
    """The spec's loop: scene after scene, each down its four rungs; every error retried, OOM frees memory."""
    made = 0
    payload: dict[str, object] = {}
    for index, scene in enumerate(scenes):
        fp = scene_fingerprint(scene, "daily", payload)
        for rung in build_ladder(settings):
            request = ClipRequest(
                prompt=scene.video_prompt or "", negative_prompt="", width=rung.width, height=rung.height,
                num_frames=rung.num_frames, fps=settings.video_fps, steps=rung.steps, cfg=rung.cfg,
                seed=attempt_seed(fp, rung.number, 0), model=rung.model,
                output_path=out / "clips" / f"scene_{index:02d}_{fp}_r{rung.number}.mp4",
            )
            try:
                result = await generator.generate_t2v(request)
                await asyncio.to_thread(validate_clip, result.path, width=rung.width, height=rung.height)
            except ComfyUIOutOfMemoryError:
                if isinstance(generator, ComfyUIClient):
                    await generator.free_memory()
                continue
            except (GeneratorError, MediaError):
                continue
            made += 1
            break
    return made


@dataclass
class Outcome:
    label: str
    servers: int
    wall: float
    gpu: float
    busy: float
    switches: list[int]
    clips: int

    @property
    def ratio(self) -> float:
        return self.wall / (self.gpu / self.servers)

    @property
    def busy_ratio(self) -> float:
        return self.wall / (self.busy / self.servers)


async def scenario(label: str, servers: int, root: Path, *, slots: int = 2, posts: int = 1) -> Outcome:
    settings = bench_settings()
    full = build_ladder(settings)[0]  # the simulated cost is scaled so that one full-model job takes this long
    per_unit = SECONDS_PER_FULL_JOB / (full.width * full.height * full.num_frames * full.steps)
    fakes = [TimedFake(root / f"{label}-{i}", seconds_per_unit=per_unit, checkpoint_switch_seconds=SWITCH_SECONDS)
             for i in range(servers)]
    for fake in fakes:
        await fake.start()
    out = root / f"{label}-out"
    members: list[FaultingClient] = [FaultingClient(fake, out / "tmp", settings) for fake in fakes]
    for member in members:
        member.slots = slots
    backend: Backend = members[0] if servers == 1 else ComfyUIPool(members)
    try:
        started = time.monotonic()
        if label == "seed":
            clips = await seed_order(members[0], make_scenes(), settings, out / "post")
        else:
            manager = VideoManager(comfy_client=backend, prompt_engine=None, config=settings)
            batch = [PostJob(make_scenes(n), "daily", f"bench{n}", out / f"bench{n}") for n in range(posts)]
            results = await manager.generate_batch(batch)
            clips = sum(r.success for post in results for r in post)
        wall = time.monotonic() - started
    finally:
        await backend.aclose()
        for fake in fakes:
            await fake.stop()
    # Every server's first checkpoint load is part of the GPU time but not a switch.
    return Outcome(label, servers, wall, sum(f.gpu_seconds for f in fakes), sum(f.busy_seconds for f in fakes),
                   [f.checkpoint_switches for f in fakes], clips)


async def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outcomes = [
            await scenario("seed", 1, root, slots=1),
            await scenario("ours1slot", 1, root, slots=1),
            await scenario("ours", 1, root),
            await scenario("ours2", 2, root),
            await scenario("ours4", 4, root),
            await scenario("batch1", 1, root, posts=BATCH_POSTS),
            await scenario("batch4", 4, root, posts=BATCH_POSTS),
        ]
    print(f"post: {SCENES} scenes, failures {PATTERN}; batch: {BATCH_POSTS} such posts in one run")
    print(f"{'order':<24}{'servers':>8}{'clips':>7}{'wall s':>9}{'GPU s':>8}{'wall/(GPU/n)':>14}"
          f"{'wall/(busy/n)':>15}{'switches':>11}")
    names = {"seed": "seed (depth-first)", "ours1slot": "ours, 1 slot", "ours": "ours (breadth-first)",
             "ours2": "ours", "ours4": "ours"}
    names["batch1"] = names["batch4"] = f"ours, {BATCH_POSTS} posts"
    for o in outcomes:
        print(f"{names[o.label]:<24}{o.servers:>8}{o.clips:>7}{o.wall:>9.2f}{o.gpu:>8.2f}{o.ratio:>14.3f}"
              f"{o.busy_ratio:>15.3f}{','.join(map(str, o.switches)):>11}")
    one = outcomes[2].wall
    print(f"one post, speed-up over 1 server: 2 servers {one / outcomes[3].wall:.2f}x (goal >= 1.8x), "
          f"4 servers {one / outcomes[4].wall:.2f}x (goal >= 3.5x)")
    print(f"batch of {BATCH_POSTS} posts, 4 servers over 1: {outcomes[5].wall / outcomes[6].wall:.2f}x (goal >= 3.8x); "
          f"most switches on one server: {max(outcomes[5].switches + outcomes[6].switches)} (goal <= 1)")
    print(f"ours vs seed on 1 server: {outcomes[0].wall / one:.2f}x faster; "
          f"switches {outcomes[0].switches[0]} -> {outcomes[2].switches[0]} (goal <= 1)")


if __name__ == "__main__":
    asyncio.run(main())
