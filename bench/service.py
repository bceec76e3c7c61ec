"""The service benchmark: posts through Temporal with worker processes and several ComfyUI servers, against
`run` on one server, side by side in one run, on the fake ComfyUI with simulated GPU time.

Run: ``.venv/bin/python -m bench.service`` (needs the `service` extra: it starts `temporal server start-dev`
from the environment's own binary on free ports, and two `wagglebot-video worker` processes).

1. Scale-out: POSTS posts of SCENES scenes, each clip CLIP_SECONDS of simulated GPU time. `run` on one
   server, then the service with WORKERS worker processes on SERVERS servers. Printed: both wall times and the
   ratio (goal >= 3.8x).
2. Overhead: the same posts with zero-time clips, `run` and the service both on one server. Printed: the
   service's extra wall time per clip (goal < 100 ms): Temporal round trips, the pool's lease, the post's
   books read and merged per activity.

Each side gets its own fresh output folder, so nothing is reused; the servers' histories are emptied in
between (a restart), so the service cannot re-attach to the jobs `run` made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import Client

from ai_worker.model.post_file import Post, load_post
from ai_worker.pipeline.content_processor import PostInput, process_posts
from ai_worker.preview.report import record_run_summary, write_report
from ai_worker.service.client import submit_post
from config.settings import Settings
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.service.service_env import service_settings, start_worker_process, write_post
from tests.service.temporal_server import TemporalDevServer

POSTS = 8
SCENES = 3
SERVERS = 4
WORKERS = 2
CLIP_SECONDS = 2.0
LINES = ["출근길에 비가 쏟아졌다", "우산이 바람에 뒤집혔다", "결국 모두가 웃고 말았다"]


def units(settings: Settings) -> int:
    width, height = settings.video_resolution
    return width * height * settings.video_num_frames * settings.video_steps


def make_posts(folder: Path, tag: str) -> list[Post]:
    return [load_post(write_post(folder, f"{tag}_{n}", LINES[:SCENES]))[0] for n in range(POSTS)]


async def time_run(settings: Settings, posts: list[Post], out: Path) -> float:
    """`run` as the command does it: the stage, then each post's summary and report.html (the service's
    finish writes them too)."""
    started = time.perf_counter()
    results = await process_posts([PostInput(p) for p in posts],
                                  settings=settings.model_copy(update={"video_gen_enabled": True}), out_dir=out)
    for result in results:
        record_run_summary(result.output_dir, run_started_at=time.time())
        await write_report(result.output_dir, settings)
    elapsed = time.perf_counter() - started
    made = sum(1 for r in results for s in r.results if s.success)
    assert made == POSTS * SCENES, f"run made {made} clips"
    return elapsed


async def time_service(client: Client, settings: Settings, posts: list[Post], out: Path) -> float:
    started = time.perf_counter()
    handles = [(await submit_post(client, settings, post, out)).handle for post in posts]
    summaries = await asyncio.gather(*(handle.result() for handle in handles))
    elapsed = time.perf_counter() - started
    made = sum(s.made for s in summaries)
    assert made == POSTS * SCENES, f"the service made {made} clips"
    return elapsed


@contextlib.asynccontextmanager
async def workers(settings: Settings, folder: Path) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    processes = [start_worker_process(settings, folder / f"worker{n}.log") for n in range(WORKERS)]
    try:
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()


async def warm_up(client: Client, settings: Settings, root: Path) -> None:
    """One post first: the workers have connected and the pool workflow is running before timing starts."""
    post = load_post(write_post(root / "warm", f"warm_{settings.temporal_task_queue}", LINES[:1]))[0]
    await (await submit_post(client, settings, post, root / "warm_out")).handle.result()


async def scale_out(temporal: TemporalDevServer, root: Path) -> tuple[float, float]:
    servers = [FakeComfyUI(root / f"comfy{n}") for n in range(SERVERS)]
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
        one = service_settings(temporal, [servers[0].url], root / "out")
        per_unit = CLIP_SECONDS / units(one)
        for server in servers:
            server.seconds_per_unit = per_unit
        run_seconds = await time_run(one, make_posts(root / "posts_run", "run"), root / "run_out")
        for server in servers:
            await server.restart()
        many = service_settings(temporal, [s.url for s in servers], root / "out")
        async with workers(many, root):
            client = await Client.connect(many.temporal_address)
            for server in servers:
                server.seconds_per_unit = 0.0
            await warm_up(client, many, root)
            for server in servers:
                server.seconds_per_unit = per_unit
            service_seconds = await time_service(client, many, make_posts(root / "posts_svc", "svc"), root / "svc_out")
    return run_seconds, service_seconds


async def overhead(temporal: TemporalDevServer, root: Path) -> tuple[float, float]:
    async with FakeComfyUI(root / "comfy_zero") as server:
        settings = service_settings(temporal, [server.url], root / "out0")
        run_seconds = await time_run(settings, make_posts(root / "posts_run0", "zrun"), root / "run0_out")
        await server.restart()
        async with workers(settings, root / "posts_run0"):
            client = await Client.connect(settings.temporal_address)
            await warm_up(client, settings, root)
            service_seconds = await time_service(client, settings, make_posts(root / "posts_svc0", "zsvc"),
                                                 root / "svc0_out")
    return run_seconds, service_seconds


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        root = Path(tmp)
        temporal = TemporalDevServer(root / "temporal.db", root / "temporal.log")
        temporal.start()
        try:
            run_s, service_s = await scale_out(temporal, root / "scale")
            zero_run_s, zero_service_s = await overhead(temporal, root / "zero")
        finally:
            temporal.stop()
    clips = POSTS * SCENES
    print(f"{POSTS} posts x {SCENES} scenes = {clips} clips of {CLIP_SECONDS:g} s simulated GPU time each")
    print(f"run, 1 server:                              {run_s:7.2f} s")
    print(f"service, {WORKERS} workers, {SERVERS} servers:              {service_s:7.2f} s")
    print(f"speed-up:                                   {run_s / service_s:7.2f}x (goal >= 3.8x)")
    print(f"zero-time clips, 1 server: run {zero_run_s:.2f} s, service {zero_service_s:.2f} s")
    extra_ms = (zero_service_s - zero_run_s) / clips * 1000
    print(f"service overhead per clip:                  {extra_ms:7.1f} ms (goal < 100 ms)")


if __name__ == "__main__":
    asyncio.run(main())
