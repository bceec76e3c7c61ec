"""The service end to end: a real Temporal dev server, in-process workers, the fake ComfyUI over real
sockets, real FFmpeg clips; `submit` makes the same decisions as `run`."""

from __future__ import annotations

import json
from pathlib import Path

from ai_worker.model.post_file import load_post
from ai_worker.pipeline.content_processor import PostInput, process_posts
from ai_worker.service.client import submit_post
from ai_worker.service.messages import PostSummary
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.service.service_env import (
    in_process_worker,
    load_manifest,
    service_settings,
    without_times,
    write_post,
)
from tests.service.temporal_server import TemporalDevServer

LINES = ["비가 오는 출근길이었다", "우산이 뒤집혔다", "모두가 웃었다"]


async def test_one_post_through_temporal(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out")
        post, _ = load_post(write_post(tmp_path / "posts", "svc_one", LINES))
        async with in_process_worker(settings) as client:
            submitted = await submit_post(client, settings, post, tmp_path / "out")
            summary = await submitted.handle.result()
        assert isinstance(summary, PostSummary)
        assert (summary.scenes, summary.made, summary.failed) == (3, 3, 0)
        manifest = load_manifest(tmp_path / "out" / "svc_one")
        assert [s.status for s in manifest.scenes] == ["done"] * 3
        assert sorted(comfy.jobs_run) == sorted({a.prompt_id or "" for s in manifest.scenes for a in s.attempts})
        assert (tmp_path / "out" / "svc_one" / "report.html").is_file()


async def test_submit_and_run_write_the_same_manifest(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out")
        post_file = write_post(tmp_path / "posts", "svc_same", LINES)
        post, errors = load_post(post_file)
        await process_posts([PostInput(post, errors)], settings=settings.model_copy(update={"video_gen_enabled": True}),
                            out_dir=tmp_path / "run")
        await comfy.restart()  # an empty history: the service must make its clips itself, not re-attach
        post, _ = load_post(post_file)
        async with in_process_worker(settings) as client:
            await (await submit_post(client, settings, post, tmp_path / "svc")).handle.result()
    # As written to disk: every path relative to the post's folder.
    by_run = without_times(json.loads((tmp_path / "run" / "svc_same" / "manifest.json").read_text("utf-8")))
    by_service = without_times(json.loads((tmp_path / "svc" / "svc_same" / "manifest.json").read_text("utf-8")))
    assert isinstance(by_run, dict) and isinstance(by_service, dict)
    by_run.pop("summary", None), by_service.pop("summary", None)  # written by the CLI after `run`
    assert by_service == by_run
    assert len(comfy.jobs_run) == 6  # three clips each way
