"""What a real ComfyUI 0.8.0 did that the client must survive, and the fake server now does too: permanent
loader errors (from a captured payload), large execution_error messages, the Origin check, cache hits, a
restart with downtime and the cooperative interrupt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from ai_worker.comfy import protocol as proto
from ai_worker.comfy.client import ComfyUIClient
from ai_worker.core.errors import (
    ComfyUIExecutionError,
    ComfyUIInterruptedError,
    ComfyUIOutOfMemoryError,
    ComfyUIPermanentExecutionError,
    PromptLostError,
)
from ai_worker.model.backend import GenerationHooks
from ai_worker.orchestration.ladder import ErrorAction, classify
from config.settings import Settings
from tests.comfy.test_client import Sleeps, make_request, until
from tests.fakes.fake_comfyui import DATA_DIR, FakeComfyUI

CAPTURED: dict[str, Any] = json.loads((DATA_DIR / "execution_error_bad_header.json").read_text(encoding="utf-8"))
BAD_HEADER: dict[str, Any] = CAPTURED["history_message"][1]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FakeComfyUI]:
    async with FakeComfyUI(tmp_path / "comfy") as fake:
        yield fake


@pytest.fixture
async def client(server: FakeComfyUI, tmp_path: Path) -> AsyncIterator[ComfyUIClient]:
    async with ComfyUIClient(server.url, tmp_path / "out", settings=Settings(_env_file=None),
                             sleep=Sleeps()) as made:
        yield made


# --- permanent execution errors ---------------------------------------------------------------------------


def test_captured_bad_header_is_permanent_and_names_node_class_and_file() -> None:
    assert BAD_HEADER["exception_type"] == "safetensors._safetensors_rust.SafetensorError"
    error = proto.execution_error(BAD_HEADER, server="S", prompt_id="p")
    assert isinstance(error, ComfyUIPermanentExecutionError)
    assert (error.node_id, error.node_type) == ("1", "CheckpointLoaderSimple")
    assert str(error) == (
        "ComfyUI at S: node 1 (CheckpointLoaderSimple) cannot load wagglebot-bad-header.safetensors: "
        "safetensors._safetensors_rust.SafetensorError: Error while deserializing header: invalid JSON in header: "
        "EOF while parsing a value at line 1 column 0 (this does not fix itself: check the file and the node pack "
        "with `wagglebot-video doctor`)"
    )
    assert classify(error) is ErrorAction.BLOCK_KIND


@pytest.mark.parametrize(("node_type", "exception_type", "inputs", "expected"), [
    ("LTXVGemmaCLIPModelLoader", "TypeError", {"max_length": [1024]}, True),  # LTXVideo too new for 0.8.0
    ("LTXAVTextEncoderLoader", "RuntimeError", {"text_encoder": ["g.safetensors"]}, True),  # size mismatch
    ("LatentUpscaleModelLoader", "FileNotFoundError", {}, True),
    ("MyCustomNode", "KeyError", {"ckpt_name": ["x.safetensors"]}, True),  # given a model file: a loader
    ("SamplerCustomAdvanced", "AttributeError", {}, True),  # code that does not fit this ComfyUI
    ("SamplerCustomAdvanced", "RuntimeError", {}, False),
    ("VHS_VideoCombine", "Exception", {"filename_prefix": ["wagglebot/x"]}, False),
    ("LoadImage", "FileNotFoundError", {"image": ["up.png"]}, False),  # the upload vanished: upload again
])  # fmt: skip
def test_is_permanent(node_type: str, exception_type: str, inputs: dict[str, Any], expected: bool) -> None:
    assert proto.is_permanent(node_type, exception_type, inputs) is expected


def test_oom_in_a_loader_is_not_permanent() -> None:
    data = {**BAD_HEADER, "exception_type": "torch.OutOfMemoryError", "exception_message": "Allocation on device"}
    error = proto.execution_error(data, server="S", prompt_id="p")
    assert type(error) is ComfyUIOutOfMemoryError
    assert classify(error) is ErrorAction.FREE_AND_NEXT


def test_a_huge_exception_message_is_cut() -> None:
    data = {**BAD_HEADER, "node_type": "SamplerCustomAdvanced", "current_inputs": {},
            "exception_type": "RuntimeError", "exception_message": "x" * 50_000}
    error = proto.execution_error(data, server="S", prompt_id="p")
    assert type(error) is ComfyUIExecutionError and classify(error) is ErrorAction.NEXT
    assert len(str(error)) < 800 and str(error).endswith("... (50000 characters)")


async def test_loader_failure_through_the_client_is_permanent(server: FakeComfyUI, client: ComfyUIClient,
                                                              tmp_path: Path) -> None:
    server.faults.push("error", at="CheckpointLoaderSimple", exception_type=BAD_HEADER["exception_type"],
                       message=BAD_HEADER["exception_message"])
    with pytest.raises(ComfyUIPermanentExecutionError) as caught:
        await client.generate_t2v(make_request(tmp_path))
    assert caught.value.node_id == "1"
    assert "cannot load ltx-2-19b-dev-fp8.safetensors" in str(caught.value)


async def test_large_execution_error_arrives_whole(server: FakeComfyUI, client: ComfyUIClient, tmp_path: Path) -> None:
    server.faults.push("error", exception_type="RuntimeError", message="mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(ComfyUIExecutionError) as caught:
        await client.generate_t2v(make_request(tmp_path))
    assert type(caught.value) is ComfyUIExecutionError
    entry = next(iter(server.history.values()))
    error = entry["status"]["messages"][-1][1]
    assert len(json.dumps(error)) > 12_000  # tensor reprs in current_inputs, as the real server sends
    assert error["current_inputs"]["sigmas"][0].startswith("tensor([")


# --- the Origin check ------------------------------------------------------------------------------------


async def test_foreign_origin_is_refused_like_the_real_server(server: FakeComfyUI) -> None:
    port = server.port
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/system_stats")).status_code == 200
        assert (await http.get("/system_stats", headers={"Origin": f"http://127.0.0.1:{port}"})).status_code == 200
        refused = await http.get("/system_stats", headers={"Origin": "http://evil.example"})
        assert (refused.status_code, refused.content) == (403, b"")
        assert (await http.get("/queue", headers={"Origin": f"http://localhost:{port}"})).status_code == 403
    with pytest.raises(InvalidStatus) as caught:
        await connect(f"ws://127.0.0.1:{port}/ws?clientId=x", origin="http://evil.example")  # type: ignore[arg-type]
    assert caught.value.response.status_code == 403


async def test_the_client_sends_no_foreign_origin(server: FakeComfyUI, client: ComfyUIClient, tmp_path: Path) -> None:
    result = await client.generate_t2v(make_request(tmp_path))
    assert result.path.is_file()
    assert all(headers.get("Origin") in (None, f"http://127.0.0.1:{server.port}")
               for headers in server.request_headers)


# --- cache hits ------------------------------------------------------------------------------------------


async def test_same_graph_twice_is_a_cache_hit_without_a_new_file(server: FakeComfyUI, client: ComfyUIClient,
                                                                  tmp_path: Path) -> None:
    graph = server_graph(client, tmp_path)
    first = await client.run_graph(json.loads(json.dumps(graph)), make_request(tmp_path, "a.mp4"))
    files = sorted(p.name for p in (server.output_dir / "wagglebot").iterdir())
    second = await client.run_graph(json.loads(json.dumps(graph)), make_request(tmp_path, "b.mp4"))
    assert server.cache_hits == [second.prompt_id]
    assert sorted(p.name for p in (server.output_dir / "wagglebot").iterdir()) == files  # nothing new written
    assert first.path.read_bytes() == second.path.read_bytes()
    cached = server.history[str(second.prompt_id)]["status"]["messages"][1]
    assert cached[0] == "execution_cached" and set(cached[1]["nodes"]) == set(graph)
    # POST /free with free_memory empties the cache: the same graph runs again
    await client.free_memory()
    third = await client.run_graph(json.loads(json.dumps(graph)), make_request(tmp_path, "c.mp4"))
    assert server.cache_hits == [second.prompt_id] and third.prompt_id in server.jobs_run


def server_graph(client: ComfyUIClient, tmp_path: Path) -> dict[str, Any]:
    from ai_worker.comfy import workflows

    workflow = workflows.load_workflow("t2v_ltx2.json")
    params = workflows.build_params(make_request(tmp_path, "same.mp4"), client.settings)
    return workflows.patch_workflow(workflow, workflows.params_for(workflow, params))


# --- restart with downtime -------------------------------------------------------------------------------


async def test_restart_refuses_connections_until_up_and_forgets_everything(server: FakeComfyUI,
                                                                            client: ComfyUIClient,
                                                                            tmp_path: Path) -> None:
    done = await client.generate_t2v(make_request(tmp_path))
    assert server.history
    up = asyncio.Event()
    restarting = asyncio.create_task(server.restart(up=up))
    await until(lambda: server.restarts == 1 and not server.history)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(200):  # the listener closes once restart() reaches it
            try:
                await http.get("/system_stats")
            except httpx.ConnectError:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(httpx.ConnectError):
            await http.get("/system_stats")
        assert not await client.health_check()
        up.set()
        await restarting
        assert (await http.get("/system_stats")).status_code == 200
        assert (await http.get(f"/history/{done.prompt_id}")).json() == {}
    assert (await client.generate_t2v(make_request(tmp_path, "after.mp4"))).path.is_file()


async def test_restart_mid_job_loses_the_prompt_after_downtime(server: FakeComfyUI, tmp_path: Path) -> None:
    up = asyncio.Event()

    def wake_after_polls() -> None:
        if len(sleeps.calls) >= 3:
            up.set()  # the server comes back after three failed polls

    sleeps = Sleeps(hook=wake_after_polls)

    server.faults.push("restart", up=up)
    async with ComfyUIClient(server.url, tmp_path / "out", settings=Settings(_env_file=None),
                             sleep=sleeps) as client:
        with pytest.raises(PromptLostError):
            await client.generate_t2v(make_request(tmp_path))
    assert len(sleeps.calls) >= 3 and server.restarts == 1


# --- cooperative interrupt -------------------------------------------------------------------------------


async def test_interrupt_lands_at_the_next_progress_update_not_at_once(server: FakeComfyUI, client: ComfyUIClient,
                                                                       tmp_path: Path) -> None:
    release = asyncio.Event()
    server.faults.push("hold", until=release)
    ids: list[str] = []
    hooks = GenerationHooks(on_submitted=lambda _server, prompt_id: ids.append(prompt_id))
    job = asyncio.create_task(client.generate_t2v(make_request(tmp_path), hooks))
    await until(lambda: server.running is not None and server.running.current_node == "11")
    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.post("/interrupt", json={"prompt_id": ids[0]})
    # The flag is set (the server answered), but the held node has no progress update to honour it at.
    assert server.running is not None and server.running.interrupted.is_set() and not server.history
    release.set()
    with pytest.raises(ComfyUIInterruptedError, match="at node 11"):
        await job
    assert server.history[ids[0]]["status"]["messages"][-1][0] == "execution_interrupted"
