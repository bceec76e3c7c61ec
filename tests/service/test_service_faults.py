"""The service under faults, against a real Temporal dev server and the fake ComfyUI: the same post submitted
again, a worker killed with SIGKILL mid-clip, the Temporal server restarted mid-batch, a server down, a
cancel. In every case: no job executed twice on the servers, no line of the script lost."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from rich.logging import RichHandler
from temporalio.client import Client

from ai_worker.cli.console import make_console
from ai_worker.model.post_file import load_post
from ai_worker.model.scene import line_text
from ai_worker.service.client import cancel_post, post_states, submit_post
from ai_worker.service.messages import pool_workflow_id
from ai_worker.service.pool_workflow import ServerPoolWorkflow
from ai_worker.service.post_workflow import PostWorkflow
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.service.service_env import (
    in_process_worker,
    load_manifest,
    service_settings,
    start_worker_process,
    until,
    write_post,
)
from tests.service.temporal_server import TemporalDevServer, free_port

LINES = ["첫 번째 장면", "두 번째 장면", "세 번째 장면"]


class LoadRecordingComfyUI(FakeComfyUI):
    """Records, at every POST /prompt, how many jobs the server already had (queued or running)."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.load_at_submit: list[int] = []

    async def _post_prompt(self, request: web.Request) -> web.Response:
        self.load_at_submit.append(len(self.pending) + (1 if self.running is not None else 0))
        return await super()._post_prompt(request)


def submitted_ids(server: FakeComfyUI) -> list[str]:
    return [str(body.get("prompt_id")) for body in server.submitted]


def assert_nothing_twice(*servers: FakeComfyUI) -> None:
    runs = Counter(pid for server in servers for pid in server.jobs_run)
    posts = Counter(pid for server in servers for pid in submitted_ids(server))
    assert [pid for pid, n in runs.items() if n > 1] == []
    assert [pid for pid, n in posts.items() if n > 1] == []


def assert_every_line_kept(out: Path, post_id: str, lines: list[str]) -> None:
    manifest = load_manifest(out / post_id)
    kept = [line_text(line) for final in manifest.final_scenes for line in final.text_lines]
    assert kept == lines


async def test_the_same_post_again_attaches_and_makes_nothing_new(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out")
        post, _ = load_post(write_post(tmp_path / "posts", "again", LINES))
        async with in_process_worker(settings) as client:
            first = await submit_post(client, settings, post, tmp_path / "out")
            while_running = await submit_post(client, settings, post, tmp_path / "out")
            await first.handle.result()
            jobs = list(comfy.jobs_run)
            after = await submit_post(client, settings, post, tmp_path / "out")
            summary = await after.handle.result()
        assert not first.attached and while_running.attached and after.attached
        assert first.workflow_id == while_running.workflow_id == after.workflow_id
        assert summary.made == 3 and comfy.jobs_run == jobs and len(jobs) == 3
        assert_nothing_twice(comfy)


async def test_one_clip_at_a_time_per_server_across_posts_and_workers(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    one, two = LoadRecordingComfyUI(tmp_path / "a"), LoadRecordingComfyUI(tmp_path / "b")
    async with one, two:
        settings = service_settings(temporal_server, [one.url, two.url], tmp_path / "out")
        posts = [load_post(write_post(tmp_path / "posts", f"lease_{n}", LINES))[0] for n in range(3)]
        async with in_process_worker(settings) as client, in_process_worker(settings):
            handles = [(await submit_post(client, settings, post, tmp_path / "out")).handle for post in posts]
            summaries = await asyncio.gather(*(handle.result() for handle in handles))
        assert [s.made for s in summaries] == [3, 3, 3]
        assert one.load_at_submit and two.load_at_submit  # both servers worked
        assert max(one.load_at_submit + two.load_at_submit) == 0  # never a second clip on a busy server
        assert_nothing_twice(one, two)


async def test_a_worker_killed_mid_clip_costs_only_the_heartbeat(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    release = asyncio.Event()
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        comfy.faults.push("hold", until=release)
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out", service_heartbeat_seconds=2.0)
        post, _ = load_post(write_post(tmp_path / "posts", "killed", LINES))
        client = await Client.connect(settings.temporal_address)  # a client only: no worker in this process
        doomed = start_worker_process(settings, tmp_path / "worker1.log")
        try:
            submitted = await submit_post(client, settings, post, tmp_path / "out")
            await until(lambda: comfy.running is not None, "the first clip to run on the server")
            held = comfy.running
            assert held is not None
            doomed.send_signal(signal.SIGKILL)
            await asyncio.to_thread(doomed.wait, 30)
        finally:
            if doomed.poll() is None:
                doomed.kill()
        asked = ("GET", f"/history/{held.prompt_id}")
        before = comfy.requests.count(asked)
        survivor = start_worker_process(settings, tmp_path / "worker2.log")
        try:
            await until(lambda: comfy.requests.count(asked) > before, "another worker to ask for the held job")
            release.set()
            summary = await submitted.handle.result()
        finally:
            survivor.terminate()
            await asyncio.to_thread(survivor.wait, 30)
        assert summary.made == 3 and summary.failed == 0
        assert submitted_ids(comfy).count(held.prompt_id) == 1  # never submitted again
        assert_nothing_twice(comfy)
        assert_every_line_kept(tmp_path / "out", "killed", LINES)
        scene = load_manifest(tmp_path / "out" / "killed").scenes[0]
        assert [a.prompt_id for a in scene.attempts] == [held.prompt_id] and scene.attempts[0].reattached


async def test_the_temporal_server_restarted_mid_batch_with_the_same_database(tmp_path: Path) -> None:
    temporal = TemporalDevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    temporal.start()
    release = asyncio.Event()
    try:
        async with FakeComfyUI(tmp_path / "comfy") as comfy:
            comfy.faults.push("hold", until=release)
            settings = service_settings(temporal, [comfy.url], tmp_path / "out")
            posts = [load_post(write_post(tmp_path / "posts", f"restart_{n}", LINES))[0] for n in range(2)]
            async with in_process_worker(settings) as client:
                handles = [(await submit_post(client, settings, p, tmp_path / "out")).handle for p in posts]
                await until(lambda: comfy.running is not None, "the first clip to run")
                await asyncio.to_thread(temporal.stop)
                await asyncio.to_thread(temporal.start)  # same port, same SQLite file
                release.set()
                summaries = await asyncio.gather(*(h.result() for h in handles))
        assert [s.made for s in summaries] == [3, 3]
        assert_nothing_twice(comfy)
        for n in range(2):
            assert_every_line_kept(tmp_path / "out", f"restart_{n}", LINES)
    finally:
        temporal.stop()


async def test_a_server_down_is_benched_and_the_other_makes_every_clip(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        settings = service_settings(temporal_server, [down, comfy.url], tmp_path / "out")
        post, _ = load_post(write_post(tmp_path / "posts", "one_down", LINES))
        async with in_process_worker(settings) as client:
            summary = await (await submit_post(client, settings, post, tmp_path / "out")).handle.result()
            pool_id = pool_workflow_id(settings.temporal_task_queue)
            pool = client.get_workflow_handle_for(ServerPoolWorkflow.run, pool_id)
            servers = {view.name: view for view in await pool.query(ServerPoolWorkflow.servers)}
        assert summary.made == 3 and summary.failed == 0
        manifest = load_manifest(tmp_path / "out" / "one_down")
        assert {a.server for s in manifest.scenes for a in s.attempts} == {comfy.url}
        assert all(a.rung == 1 for s in manifest.scenes for a in s.attempts)  # the down server cost no rung
        assert servers[down].benched and not servers[comfy.url].benched


async def test_cancel_interrupts_the_running_comfyui_job(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        comfy.faults.push("hang")
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out")
        post, _ = load_post(write_post(tmp_path / "posts", "stopped", LINES))
        async with in_process_worker(settings) as client:
            await submit_post(client, settings, post, tmp_path / "out")
            await until(lambda: comfy.running is not None, "the first clip to run")
            running = comfy.running
            assert running is not None
            cancelled = await cancel_post(client, "stopped")
            states = await post_states(client, "stopped")
        assert len(cancelled) == 1
        assert [s.status for s in states] == ["canceled"]
        assert {"prompt_id": running.prompt_id} in comfy.interrupts
        assert running.prompt_id in comfy.jobs_run  # it ended (interrupted), and nothing else ran after it
        assert len(comfy.jobs_run) == 1
        manifest = load_manifest(tmp_path / "out" / "stopped")
        assert manifest.scenes[0].status == "pending" and manifest.scenes[0].attempts[0].action == "cancelled"


async def test_a_terminated_post_gives_its_server_back(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    # The worker command logs through rich, and the pool logs the lease it frees: that must work in the sandbox.
    handler = RichHandler(console=make_console(stderr=True))
    logging.getLogger().addHandler(handler)
    try:
        await _terminated_post_gives_its_server_back(temporal_server, tmp_path)
    finally:
        logging.getLogger().removeHandler(handler)


async def _terminated_post_gives_its_server_back(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        comfy.faults.push("hang")
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out", service_lease_audit_seconds=1.0)
        stuck, _ = load_post(write_post(tmp_path / "posts", "stuck", LINES[:1]))
        later, _ = load_post(write_post(tmp_path / "posts", "later", LINES[:1]))
        async with in_process_worker(settings) as client:
            first = await submit_post(client, settings, stuck, tmp_path / "out")
            await until(lambda: comfy.running is not None, "the first post's clip to run")
            await first.handle.terminate("an operator stops it from outside")
            second = await submit_post(client, settings, later, tmp_path / "out")
            try:
                summary = await asyncio.wait_for(second.handle.result(), timeout=120)
            except TimeoutError:
                pool = client.get_workflow_handle_for(ServerPoolWorkflow.run,
                                                      pool_workflow_id(settings.temporal_task_queue))
                raise AssertionError(f"the lease never came back: {await pool.query(ServerPoolWorkflow.servers)}, "
                                     f"{await second.handle.query(PostWorkflow.status)}") from None
        assert summary.made == 1
        assert_nothing_twice(comfy)
