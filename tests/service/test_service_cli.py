"""`submit`, `status` and `cancel` as a user runs them: the real command in its own process, against a real
Temporal dev server, with a worker and the fake ComfyUI in the test's process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from config.settings import Settings
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.service.service_env import in_process_worker, service_settings, worker_env, write_post
from tests.service.temporal_server import TemporalDevServer, free_port

LINES = ["첫 장면", "둘째 장면"]


async def command(settings: Settings, *args: str, cwd: Path) -> tuple[int, str]:
    binary = Path(sys.executable).parent / "wagglebot-video"
    process = await asyncio.create_subprocess_exec(
        str(binary), *args, env={**worker_env(settings), "COLUMNS": "200"}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8", "replace")


async def test_submit_wait_status_and_cancel_from_the_command_line(
    temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    async with FakeComfyUI(tmp_path / "comfy") as comfy:
        settings = service_settings(temporal_server, [comfy.url], tmp_path / "out")
        post = write_post(tmp_path / "posts", "cli_post", LINES)
        async with in_process_worker(settings):
            code, out = await command(settings, "submit", str(post), "--out", str(tmp_path / "out"), "--wait",
                                      cwd=tmp_path)
            assert code == 0, out
            assert "submitted post-cli_post-" in out and "2 made" in out
            code, again = await command(settings, "submit", str(post), "--out", str(tmp_path / "out"), "--wait",
                                        cwd=tmp_path)
            assert code == 0 and "attached to post-cli_post-" in again, again
            code, status = await command(settings, "status", "cli_post", "--json", cwd=tmp_path)
            assert code == 0, status
            states = json.loads(status)
            assert [(s["status"], s["summary"]["made"]) for s in states] == [("completed", 2)]
            code, nothing = await command(settings, "cancel", "cli_post", cwd=tmp_path)
            assert code == 2 and "no running workflow for post cli_post" in nothing
        assert len(comfy.jobs_run) == 2


async def test_a_bad_post_file_is_one_line_and_exit_2(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    settings = service_settings(temporal_server, ["http://127.0.0.1:9"], tmp_path / "out")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    code, out = await command(settings, "submit", str(bad), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert code == 2 and "bad.json" in out


async def test_no_healthy_server_exits_3_naming_it(temporal_server: TemporalDevServer, tmp_path: Path) -> None:
    settings = service_settings(temporal_server, [f"http://127.0.0.1:{free_port()}"], tmp_path / "out")
    post = write_post(tmp_path / "posts", "nobody_home", LINES)
    async with in_process_worker(settings):
        code, out = await command(settings, "submit", str(post), "--out", str(tmp_path / "out"), "--wait",
                                  cwd=tmp_path)
    assert code == 3, out
    assert settings.comfyui_url[0] in out and "no ComfyUI server is healthy" in out
