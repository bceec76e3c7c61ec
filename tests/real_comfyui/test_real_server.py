"""Every bundled workflow set at every ladder rung, and the protocol corners, on a real ComfyUI server.

Skipped unless WAGGLE_TEST_COMFYUI_URL is set (see conftest.py). Each test uses the project's own client.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai_worker.comfy import protocol as proto
from ai_worker.comfy import workflows
from ai_worker.comfy.client import ComfyUIClient
from ai_worker.comfy.workflow_names import workflow_name_for
from ai_worker.comfy.workflow_sets import all_sets
from ai_worker.core.errors import ComfyUIConnectionError, ComfyUIExecutionError, PromptLostError
from ai_worker.media.probe import probe_clip
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks
from ai_worker.model.recipes import recipe_rung
from ai_worker.orchestration.ladder import Rung, build_ladder
from tests.real_comfyui.conftest import RESTART_ENV, ClientFactory, real_settings

pytestmark = pytest.mark.real_comfyui

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "examples" / "posts" / "images" / "rainy_street.jpg"
PROMPT = "A tabby cat walks along a garden wall at dusk as the camera tracks left."
SETS = sorted(all_sets())
RUNGS = [rung.number for rung in build_ladder(real_settings())]


def rung_request(rung: Rung, tmp_path: Path, *, mode: str, prompt: str = PROMPT) -> ClipRequest:
    """The request the orchestration would send at `rung` (its recipe's passes at the rung's size)."""
    return ClipRequest(prompt=prompt, negative_prompt="blurry, low quality", width=rung.width, height=rung.height,
                       num_frames=rung.num_frames, fps=24, steps=rung.steps, cfg=rung.cfg,
                       seed=1000 + rung.number, model=rung.model, init_image=IMAGE if mode == "i2v" else None,
                       output_path=tmp_path / f"{mode}_rung{rung.number}.mp4",
                       recipe=rung.recipe.recipe if rung.recipe else "single-pass",
                       stages=rung.recipe.stages_at(rung.width, rung.height) if rung.recipe else ())


def assert_clip(path: Path, width: int, height: int, frames: int) -> None:
    info = probe_clip(path)
    assert (info.width, info.height, info.frames) == (width, height, frames)


@pytest.mark.parametrize("mode", ["t2v", "i2v"])
@pytest.mark.parametrize("rung_number", RUNGS)
@pytest.mark.parametrize("set_name", SETS)
async def test_every_set_at_every_rung(set_name: str, rung_number: int, mode: str, make_client: ClientFactory,
                                       tmp_path: Path) -> None:
    client = make_client(set_name)
    rung = build_ladder(client.settings)[rung_number - 1]
    request = rung_request(rung, tmp_path, mode=mode)
    result = await (client.generate_i2v(request) if mode == "i2v" else client.generate_t2v(request))
    assert_clip(result.path, rung.width, rung.height, rung.num_frames)


@pytest.mark.parametrize("set_name", SETS)
async def test_two_stage_upscale(set_name: str, make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client(set_name)
    request = ClipRequest(prompt=PROMPT, negative_prompt="blurry", width=128, height=128, num_frames=9, fps=24,
                          steps=8, cfg=1.0, seed=5, model="distilled", output_path=tmp_path / "up.mp4")
    request = replace(request, recipe="distilled-two-stage",
                      stages=recipe_rung("distilled-two-stage", 1, steps=8, cfg=1.0).stages_at(128, 128))
    result = await client.generate_t2v(request)
    assert_clip(result.path, 128, 128, 9)


def _graph(client: ComfyUIClient, request: ClipRequest, *, raw_prompt: str | None = None) -> dict[str, Any]:
    workflow = workflows.load_workflow(workflow_name_for("t2v", request.model), None,
                                       client.settings.comfyui_workflow_set)
    params = workflows.build_params(request, client.settings)
    if raw_prompt is not None:
        params["positive_prompt"] = raw_prompt  # bypass the escaping on purpose
    return workflows.patch_workflow(workflow, workflows.params_for(workflow, params))


@pytest.mark.parametrize("set_name", SETS)
async def test_prompt_with_parentheses_runs(set_name: str, make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client(set_name)
    rung = build_ladder(client.settings)[3]
    prompt = f"A cat (walks) in the rain (cinematic:1.2) {uuid.uuid4().hex[:6]}"
    result = await client.generate_t2v(rung_request(rung, tmp_path, mode="t2v", prompt=prompt))
    assert_clip(result.path, rung.width, rung.height, rung.num_frames)


async def test_unescaped_parentheses_break_the_core_encoder(make_client: ClientFactory, tmp_path: Path) -> None:
    """Why the core set escapes: the same short prompt sent raw crashes ComfyUI 0.8.0's Gemma encoder."""
    client = make_client("core")
    rung = build_ladder(client.settings)[3]
    raw = f"A cat (walks) in the rain {uuid.uuid4().hex[:6]}"
    request = rung_request(rung, tmp_path, mode="t2v")
    with pytest.raises(ComfyUIExecutionError) as caught:
        await client.run_graph(_graph(client, request, raw_prompt=raw), request)
    assert (caught.value.node_type, caught.value.exception_type) == ("CLIPTextEncode", "IndexError")


async def test_download_by_view_matches_the_servers_file(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client("core")
    assert client.settings.comfyui_shared_output_dir is None  # so the client itself fetched it over /view
    rung = build_ladder(client.settings)[3]
    result = await client.generate_t2v(rung_request(rung, tmp_path, mode="t2v"))
    async with httpx.AsyncClient(base_url=client.name, timeout=60) as http:
        history = proto.parse_history((await http.get(f"/history/{result.prompt_id}")).json(), str(result.prompt_id))
        assert history is not None
        output = proto.video_outputs(history.outputs, server=client.name, prompt_id=str(result.prompt_id))[-1]
        served = await http.get("/view", params=output.view_params())
    assert served.status_code == 200 and served.content == result.path.read_bytes()


async def test_i2v_upload_is_readable_back(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client("core")
    rung = build_ladder(client.settings)[3]
    result = await client.generate_i2v(rung_request(rung, tmp_path, mode="i2v"))
    async with httpx.AsyncClient(base_url=client.name, timeout=60) as http:
        entry = (await http.get(f"/history/{result.prompt_id}")).json()[str(result.prompt_id)]
        graph = entry["prompt"][2]
        names = [str(node["inputs"]["image"]) for node in graph.values() if node["class_type"] == "LoadImage"]
        image = await http.get("/view", params={"filename": names[0], "type": "input"})
    assert names[0].startswith("wagglebot_") and image.status_code == 200
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"


async def _wait_running(client: ComfyUIClient, prompt_id: str) -> None:
    # A shared server may hold other clients' jobs ahead of ours: wait up to half an hour for it to start.
    for _ in range(3600):
        if proto.queue_state(await client._get_json("/queue"), prompt_id) == "running":
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"prompt {prompt_id} never started")


async def _start_running(client: ComfyUIClient, request: ClipRequest) -> tuple[asyncio.Task[ClipResult], str]:
    """`request` as a text-to-video job in its own task, once the server runs it; the task and its prompt id."""
    ids: list[str] = []
    submitted = asyncio.Event()

    def on_submitted(_server: str, prompt_id: str) -> None:
        ids.append(prompt_id)
        submitted.set()

    job = asyncio.create_task(client.generate_t2v(request, GenerationHooks(on_submitted=on_submitted)))
    await submitted.wait()
    await _wait_running(client, ids[0])
    return job, ids[0]


async def test_cancel_a_running_job(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client("core")
    rung = build_ladder(client.settings)[0]
    # A prompt the server has not encoded yet: the text encoder keeps the job busy long enough to cancel.
    request = rung_request(rung, tmp_path, mode="t2v", prompt=f"A slow river at dawn {uuid.uuid4().hex}")
    job, prompt_id = await _start_running(client, request)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    for _ in range(600):
        if proto.queue_state(await client._get_json("/queue"), prompt_id) == "absent":
            break
        await asyncio.sleep(0.5)
    history = proto.parse_history(await client._get_json(f"/history/{prompt_id}"), prompt_id)
    assert history is not None and history.outcome == "interrupted"


async def test_same_graph_twice_is_a_cache_hit(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client("core")
    rung = build_ladder(client.settings)[3]
    request = rung_request(rung, tmp_path, mode="t2v", prompt=f"A kite over a beach {uuid.uuid4().hex[:6]}")
    graph = _graph(client, request)
    # Both queued back to back: ComfyUI's default (classic) cache keeps only what the previous prompt used, so
    # another client's job in between would evict it.
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    async with httpx.AsyncClient(base_url=client.name, timeout=60) as http:
        for prompt_id in ids:
            answer = await http.post("/prompt", json=proto.prompt_body(graph, "wagglebot-real-tier", prompt_id))
            assert answer.status_code == 200, answer.text
    first = await client.reattach(ids[0], request)
    second = await client.reattach(ids[1], replace(request, output_path=tmp_path / "b.mp4"))
    entries = [await client._get_json(f"/history/{prompt_id}") for prompt_id in ids]
    outputs = [entry[prompt_id]["outputs"] for entry, prompt_id in zip(entries, ids, strict=True)]
    assert outputs[0] == outputs[1]  # the same file reference: nothing new was written
    cached = entries[1][ids[1]]["status"]["messages"][1]
    assert cached[0] == "execution_cached" and set(cached[1]["nodes"]) == set(graph)
    assert first.path.read_bytes() == second.path.read_bytes()


@pytest.mark.skipif(not os.environ.get(RESTART_ENV), reason=f"{RESTART_ENV} is not set: cannot restart the server")
async def test_restart_mid_job_loses_the_prompt_and_the_server_comes_back(make_client: ClientFactory,
                                                                          tmp_path: Path) -> None:
    client = make_client("core", comfyui_max_poll_errors=1000)
    rung = build_ladder(client.settings)[0]
    request = rung_request(rung, tmp_path, mode="t2v", prompt=f"A train crosses a bridge {uuid.uuid4().hex}")
    job, _ = await _start_running(client, request)
    restart = await asyncio.create_subprocess_shell(os.environ[RESTART_ENV])
    async with asyncio.timeout(300):
        assert await restart.wait() == 0
    with pytest.raises((PromptLostError, ComfyUIConnectionError)):
        await job
    assert await client.health_check()
    result = await client.generate_t2v(rung_request(build_ladder(client.settings)[3], tmp_path, mode="t2v"))
    assert result.path.is_file()
