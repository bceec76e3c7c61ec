"""ComfyUIClient against the fake ComfyUI over real sockets (HTTP + WebSocket on 127.0.0.1), real FFmpeg files."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ai_worker.comfy import protocol as proto
from ai_worker.comfy.client import ComfyUIClient
from ai_worker.comfy.upload import upload_name
from ai_worker.core.errors import (
    ComfyUIConnectionError,
    ComfyUIError,
    ComfyUIExecutionError,
    ComfyUINotSubmittedError,
    ComfyUIOutOfMemoryError,
    ComfyUIServerError,
    ComfyUITimeoutError,
    ComfyUIValidationError,
    InvalidOutputError,
    PromptLostError,
)
from ai_worker.media.probe import validate_clip
from ai_worker.model.backend import ClipRequest, GenerationHooks, ModelVariant, ProgressEvent, VideoGenerator
from ai_worker.model.recipes import recipe_rung
from config.settings import Settings
from tests.fakes.fake_comfyui import DATA_DIR, FakeComfyUI

CAPTURED_GRAPH: dict[str, Any] = json.loads((DATA_DIR / "03_vhs_mp4_workflow_api.json").read_text())
CAPTURED_WS: dict[str, Any] = json.loads((DATA_DIR / "03_vhs_mp4_ws_main.json").read_text())


class Sleeps:
    """Injected sleep: records intervals, takes no time, and can run a hook on each call."""

    def __init__(self, hook: Callable[[], None] | None = None) -> None:
        self.calls: list[float] = []
        self.hook = hook

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.hook is not None:
            self.hook()
        await asyncio.sleep(0.01)


async def until(predicate: Callable[[], bool]) -> None:
    """Wait (a few seconds at most) for a condition the fake server reaches on its own."""
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def make_request(tmp_path: Path, name: str = "clip.mp4", *, model: ModelVariant = "full", size: int = 64,
                 init_image: Path | None = None) -> ClipRequest:
    return ClipRequest(prompt="바닷가를 걷는 고양이", negative_prompt="blurry", width=size, height=size, num_frames=9,
                       fps=24, steps=2, cfg=3.5, seed=7, output_path=tmp_path / "clips" / name, model=model,
                       init_image=init_image)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FakeComfyUI]:
    async with FakeComfyUI(tmp_path / "comfy") as fake:
        yield fake


ClientFactory = Callable[..., ComfyUIClient]


@pytest.fixture
async def make_client(server: FakeComfyUI, tmp_path: Path) -> AsyncIterator[ClientFactory]:
    made: list[ComfyUIClient] = []

    def factory(*, url: str | None = None, sleep: Sleeps | None = None, **values: Any) -> ComfyUIClient:
        client = ComfyUIClient(url or server.url, tmp_path / "out", settings=make_settings(**values),
                               sleep=sleep or Sleeps())
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


def recorder() -> tuple[GenerationHooks, list[ProgressEvent], list[tuple[str, str]]]:
    progress: list[ProgressEvent] = []
    submitted: list[tuple[str, str]] = []
    hooks = GenerationHooks(on_progress=progress.append, on_submitted=lambda s, p: submitted.append((s, p)))
    return hooks, progress, submitted


# --- success paths ----------------------------------------------------------------------------------------


async def test_t2v_success_downloads_with_view_and_reports_progress(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client()
    assert isinstance(client, VideoGenerator)
    hooks, progress, submitted = recorder()
    request = make_request(tmp_path)
    result = await client.generate_t2v(request, hooks)

    assert result.path == request.output_path and result.server == server.url
    info = validate_clip(result.path, width=64, height=64, min_frames=9, fps=24)
    assert info.frames == 9
    assert submitted == [(server.url, result.prompt_id)]
    body = server.submitted[0]
    assert set(body) == {"prompt", "client_id", "prompt_id"} and body["client_id"].startswith(client.client_id + "-")
    assert body["prompt_id"] == result.prompt_id
    assert body["prompt"]["1"]["inputs"]["ckpt_name"] == client.settings.video_model_full
    assert body["prompt"]["7"]["inputs"]["steps"] == 2
    sampler = [(e.value, e.maximum) for e in progress if e.node == "11"]
    assert sampler == [(1, 2), (2, 2)]
    assert all(e.prompt_id == result.prompt_id and e.server == server.url for e in progress)
    assert ("GET", "/view") in server.requests
    assert client.loaded_model == "full"
    assert not list(request.output_path.parent.glob("*.part*"))


async def test_shared_output_folder_is_used_when_the_file_is_there(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    client = make_client(comfyui_shared_output_dir=server.output_dir)
    result = await client.generate_t2v(make_request(tmp_path))
    validate_clip(result.path, width=64, height=64, min_frames=9)
    assert ("GET", "/view") not in server.requests


async def test_a_clip_folder_that_cannot_be_made_is_a_comfyui_error_naming_the_clip(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    # A file stands where the clips folder should be: the error names the clip (and is one the orchestration
    # handles), not a bare FileExistsError.
    (tmp_path / "clips").write_text("not a folder")
    request = make_request(tmp_path)
    with pytest.raises(ComfyUIError, match=r"could not write .*clip\.mp4"):
        await make_client().generate_t2v(request)


async def test_posted_body_is_exactly_the_graph_and_client_id(server: FakeComfyUI, make_client: ClientFactory,
                                                             tmp_path: Path) -> None:
    client = make_client()
    graph = copy.deepcopy(CAPTURED_GRAPH)
    await client.run_graph(graph, make_request(tmp_path))
    await client.run_graph(graph, make_request(tmp_path / "again"))
    first, second = (body.pop("client_id") for body in server.submitted)
    ids = [body.pop("prompt_id") for body in server.submitted]
    assert server.submitted == [{"prompt": CAPTURED_GRAPH}, {"prompt": CAPTURED_GRAPH}]
    assert len(set(ids)) == 2 and ids == list(server.history), "our own prompt ids, accepted as sent"
    assert first.startswith(client.client_id + "-") and second.startswith(client.client_id + "-")
    assert first != second, "each run has its own client id, so a queued run never steals a running one's events"


async def test_two_runs_at_once_on_one_client_both_hear_their_events(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    """One running, one queued behind it (the client's two slots): neither waits out a timeout."""
    client = make_client(video_gen_timeout=20.0)
    assert client.slots == 2
    release = asyncio.Event()
    server.faults.push("hold", until=release)
    first = asyncio.create_task(client.generate_t2v(make_request(tmp_path / "a")))
    second = asyncio.create_task(client.generate_t2v(make_request(tmp_path / "b")))
    for _ in range(200):
        if len(server.submitted) == 2:
            break
        await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert {r.prompt_id for r in results} == set(server.jobs_run)
    for result in results:
        validate_clip(result.path, width=64, height=64, min_frames=9)


async def test_replays_the_captured_transcript_message_for_message(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    frames = list(CAPTURED_WS["messages"])
    # A re-registered socket's `executing` without prompt_id (capture 11) must be tolerated mid-run.
    frames.insert(8, json.dumps({"type": "executing", "data": {"node": "2"}}))
    server.faults.push("script", messages=frames, prompt_id=CAPTURED_WS["prompt_id"])
    client = make_client()
    hooks, progress, _ = recorder()
    result = await client.run_graph(copy.deepcopy(CAPTURED_GRAPH), make_request(tmp_path), hooks)
    assert [(e.value, e.maximum) for e in progress] == [(k, 9) for k in range(1, 10)]
    assert validate_clip(result.path, width=64, height=64).frames == 9
    assert server.history[str(result.prompt_id)]["outputs"]["2"]["gifs"][0]["filename"] == "vhs_empty_00001.mp4"


async def test_binary_preview_frames_are_ignored(tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "comfy", send_previews=True) as fake:
        client = ComfyUIClient(fake.url, tmp_path, settings=make_settings(), sleep=Sleeps())
        try:
            result = await client.generate_t2v(make_request(tmp_path))
        finally:
            await client.aclose()
    assert validate_clip(result.path).frames == 9


async def test_i2v_uploads_a_resized_image_under_a_content_name(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    image = tmp_path / "photo.png"
    Image.new("RGB", (200, 100), (200, 30, 30)).save(image)
    client = make_client()
    result = await client.generate_i2v(make_request(tmp_path, init_image=image))
    validate_clip(result.path, width=64, height=64, min_frames=9)

    uploaded = list(server.input_dir.iterdir())
    assert len(uploaded) == 1
    data = uploaded[0].read_bytes()
    assert uploaded[0].name == upload_name(data) == f"wagglebot_{hashlib.sha256(data).hexdigest()[:16]}.png"
    with Image.open(uploaded[0]) as sent:
        assert sent.size == (128, 64)  # shrunk to still cover 64x64, ratio kept
    graph = server.submitted[0]["prompt"]
    assert graph["14"]["inputs"]["image"] == uploaded[0].name
    # The same picture again: the server dedupes identical bytes, no "(1)" copy.
    await client.generate_i2v(make_request(tmp_path, "second.mp4", init_image=image))
    assert len(list(server.input_dir.iterdir())) == 1


async def test_i2v_uploads_a_transparent_picture_on_white(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    image = tmp_path / "sticker.png"
    clear = Image.new("RGBA", (200, 100), (0, 0, 0, 0))  # transparent black around an opaque red square
    clear.paste((255, 0, 0, 255), (75, 25, 125, 75))
    clear.save(image)
    await make_client().generate_i2v(make_request(tmp_path, init_image=image))
    [uploaded] = list(server.input_dir.iterdir())
    with Image.open(uploaded) as sent:
        assert sent.mode == "RGB"
        assert sent.getpixel((2, 2)) == (255, 255, 255)  # white, as the picture is shown, not black
        red, green, blue = sent.getpixel((sent.width // 2, sent.height // 2))  # type: ignore[misc]
        assert red > 240 and green < 15 and blue < 15


async def test_upscale_variant_renders_the_final_size(server: FakeComfyUI, make_client: ClientFactory,
                                                      tmp_path: Path) -> None:
    client = make_client()
    rung = recipe_rung("distilled-two-stage", 1, steps=20, cfg=3.5)
    request = replace(make_request(tmp_path, model="distilled", size=128), recipe="distilled-two-stage",
                      stages=rung.stages_at(128, 128))
    result = await client.generate_t2v(request)
    validate_clip(result.path, width=128, height=128, min_frames=9)
    graph = server.submitted[0]["prompt"]
    assert graph["20"]["inputs"]["width"] == 128  # the final size; stage 1 runs at half of it
    assert {node["class_type"] for node in graph.values()} >= {"LTXVLatentUpsampler", "ImageScaleBy"}
    assert client.loaded_model == "distilled"


async def test_dev_two_stage_image_to_video_conditions_both_stages(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    image = tmp_path / "photo.png"
    Image.new("RGB", (160, 128), (30, 90, 150)).save(image)
    rung = recipe_rung("dev-two-stage", 1, steps=20, cfg=3.5)
    request = replace(make_request(tmp_path, size=128, init_image=image), recipe="dev-two-stage",
                      stages=rung.stages_at(128, 128))
    result = await make_client().generate_i2v(request)
    validate_clip(result.path, width=128, height=128, min_frames=9)
    graph = server.submitted[0]["prompt"]
    inplace = [node for node in graph.values() if node["class_type"] == "LTXVImgToVideoInplace"]
    assert len(inplace) == 2 and all(node["inputs"]["strength"] == request.strength for node in inplace)
    [lora] = [node for node in graph.values() if node["class_type"] == "LoraLoaderModelOnly"]
    assert lora["inputs"]["lora_name"] == "ltx-2-19b-distilled-lora-384.safetensors"
    assert graph["7"]["inputs"]["steps"] == 2 and graph["9"]["inputs"]["cfg"] == 3.5  # the request's stage 1


# --- validation -------------------------------------------------------------------------------------------


async def test_missing_checkpoint_is_named(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client()
    server.models.discard(client.settings.video_model_full)
    with pytest.raises(ComfyUIValidationError) as caught:
        await client.generate_t2v(make_request(tmp_path))
    error = caught.value
    assert error.missing_models == [client.settings.video_model_full] * 2  # ckpt_name and ltxv_path
    assert error.missing_nodes == []
    text = str(error)
    assert "node 1 (CheckpointLoaderSimple) input 'ckpt_name'" in text
    assert f"model file '{client.settings.video_model_full}' is not on the server" in text
    assert server.jobs_run == []


async def test_unknown_node_type_is_named(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    graph = copy.deepcopy(CAPTURED_GRAPH)
    graph["1"]["class_type"] = "NoSuchNodeType"
    with pytest.raises(ComfyUIValidationError) as caught:
        await make_client().run_graph(graph, make_request(tmp_path))
    assert caught.value.missing_nodes == ["NoSuchNodeType"]
    assert "node 1 uses node type 'NoSuchNodeType', which is not installed" in str(caught.value)


def test_validation_error_from_captured_missing_input() -> None:
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": "", "extra_info": {}},
            "node_errors": {"1": {"errors": [{"type": "required_input_missing", "message": "Required input is missing",
                                              "details": "width", "extra_info": {"input_name": "width"}}],
                                  "dependent_outputs": ["2"], "class_type": "EmptyImage"}}}
    error = proto.validation_error(body, CAPTURED_GRAPH, server="http://x")
    assert str(error) == ("ComfyUI at http://x rejected the workflow: node 1 (EmptyImage) input 'width': "
                          "Required input is missing (required_input_missing: width)")
    assert error.missing_models == [] and error.missing_nodes == []


async def test_200_with_node_errors_on_our_output_is_a_validation_error(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    gate = asyncio.Event()
    server.faults.push("hold", until=gate)  # another job holds the GPU, so the partial prompt stays pending
    blocker = asyncio.create_task(make_client().generate_t2v(make_request(tmp_path, "a.mp4")))
    await until(lambda: server.running is not None)
    graph = copy.deepcopy(CAPTURED_GRAPH)
    graph["3"] = {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}  # a valid second output
    graph["2"]["inputs"]["format"] = "video/nonexistent"
    with pytest.raises(ComfyUIValidationError, match="value_not_in_list"):
        await make_client().run_graph(graph, make_request(tmp_path))
    assert len(server.deletes) == 1 and server.pending == []  # queued with node_errors: taken back off
    gate.set()
    await blocker


# --- execution failures -----------------------------------------------------------------------------------


async def test_execution_error_is_typed(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    server.faults.push("error", exception_type="RuntimeError", message="mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(ComfyUIExecutionError) as caught:
        await make_client().generate_t2v(make_request(tmp_path))
    assert not isinstance(caught.value, ComfyUIOutOfMemoryError)
    assert caught.value.node_id == "11" and caught.value.node_type == "SamplerCustomAdvanced"
    assert caught.value.exception_type == "RuntimeError"
    assert "mat1 and mat2" in str(caught.value)


async def test_oom_is_recognised(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    server.faults.push("oom")
    client = make_client()
    with pytest.raises(ComfyUIOutOfMemoryError) as caught:
        await client.generate_t2v(make_request(tmp_path))
    assert caught.value.exception_type == "torch.OutOfMemoryError"
    assert client.loaded_model is None


@pytest.mark.parametrize(
    ("exception_type", "message", "expected"),
    [
        ("torch.OutOfMemoryError", "x", True),
        ("torch.cuda.OutOfMemoryError", "x", True),
        ("RuntimeError", "Allocation on device 0 would exceed allowed memory.", True),
        ("RuntimeError", "CUDA out of memory. Tried to allocate 2.00 GiB", True),
        ("FileNotFoundError", "[Errno 2] No such file or directory", False),
    ],
)
def test_is_out_of_memory(exception_type: str, message: str, expected: bool) -> None:
    assert proto.is_out_of_memory(exception_type, message) is expected


async def test_zero_byte_success_is_invalid_output(server: FakeComfyUI, make_client: ClientFactory,
                                                   tmp_path: Path) -> None:
    server.faults.push("zero_byte")
    request = make_request(tmp_path)
    with pytest.raises(InvalidOutputError, match="empty"):
        await make_client().generate_t2v(request)
    assert not request.output_path.exists()
    assert not list(request.output_path.parent.glob("*.part*"))


@pytest.mark.parametrize(
    "entry",
    [
        {"filename": "../../etc/passwd.mp4", "subfolder": "", "type": "output"},
        {"filename": "x.mp4", "subfolder": "../..", "type": "output"},
        {"filename": "x.mp4", "subfolder": "/etc", "type": "output"},
        {"filename": "/abs/x.mp4", "subfolder": "", "type": "output"},
        {"filename": "x.mp4", "subfolder": "C:\\Windows", "type": "output"},
    ],
)
def test_unsafe_output_names_are_refused(entry: dict[str, str]) -> None:
    with pytest.raises(InvalidOutputError, match=r"unsafe|unusable"):
        proto.video_outputs({"13": {"gifs": [entry]}}, server="s", prompt_id="p")


def test_video_outputs_vhs_and_core_shapes() -> None:
    outputs = {
        "2": {"gifs": [{"filename": "vhs_empty_00001.mp4", "subfolder": "proto", "type": "output",
                        "format": "video/h264-mp4", "frame_rate": 24.0, "workflow": "vhs_empty_00001.png",
                        "fullpath": "/opt/ComfyUI/output/proto/vhs_empty_00001.mp4"}]},
        "3": {"images": [{"filename": "core_video_00001_.mp4", "subfolder": "proto", "type": "output"}],
              "animated": [True]},
        "6": {"images": [{"filename": "still_00001_.png", "subfolder": "proto", "type": "output"}]},
    }
    found = proto.video_outputs(outputs, server="s", prompt_id="p")
    assert found == [proto.OutputFile("vhs_empty_00001.mp4", "proto", "output"),
                     proto.OutputFile("core_video_00001_.mp4", "proto", "output")]


async def test_http_500_on_post_prompt(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    server.faults.push("http_500")
    with pytest.raises(ComfyUIServerError, match="500"):
        await make_client().generate_t2v(make_request(tmp_path))


# --- transport faults -------------------------------------------------------------------------------------


async def test_socket_drop_falls_back_to_polling(server: FakeComfyUI, make_client: ClientFactory,
                                                 tmp_path: Path) -> None:
    server.faults.push("ws_drop")
    sleeps = Sleeps()
    client = make_client(sleep=sleeps)
    result = await client.generate_t2v(make_request(tmp_path))
    validate_clip(result.path, width=64, height=64, min_frames=9)
    assert ("GET", f"/history/{result.prompt_id}") in server.requests
    assert all(interval == client.settings.comfyui_poll_interval for interval in sleeps.calls)


async def test_restart_loses_the_prompt(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    server.faults.push("restart")
    with pytest.raises(PromptLostError) as caught:
        await make_client().generate_t2v(make_request(tmp_path))
    assert caught.value.prompt_id is not None and caught.value.server == server.url


async def test_polling_gives_up_after_max_errors(make_client: ClientFactory, tmp_path: Path) -> None:
    sleeps = Sleeps()
    client = make_client(url="http://127.0.0.1:9", sleep=sleeps, comfyui_max_poll_errors=4)
    with pytest.raises(ComfyUIConnectionError, match="4 polls in a row"):
        await client.reattach("gone", make_request(tmp_path))
    assert sleeps.calls == [3.0, 3.0, 3.0]
    assert await client.health_check() is False


async def test_timeout_interrupts_the_running_prompt(server: FakeComfyUI, make_client: ClientFactory,
                                                     tmp_path: Path) -> None:
    server.faults.push("hang")
    client = make_client(video_gen_timeout=0.5)
    with pytest.raises(ComfyUITimeoutError) as caught:
        await client.generate_t2v(make_request(tmp_path))
    prompt_id = caught.value.prompt_id
    assert server.interrupts == [{"prompt_id": prompt_id}]
    await until(lambda: prompt_id in server.history)  # the cooperative interrupt lands at once in the fake
    assert server.history[str(prompt_id)]["status"]["messages"][-1][0] == "execution_interrupted"


async def test_task_cancellation_cancels_on_the_server(server: FakeComfyUI, make_client: ClientFactory,
                                                       tmp_path: Path) -> None:
    server.faults.push("hang")
    client = make_client()
    queued = asyncio.Event()
    ids: list[str] = []

    def submitted(_server: str, prompt_id: str) -> None:
        ids.append(prompt_id)
        queued.set()

    hooks = GenerationHooks(on_submitted=submitted)
    task = asyncio.create_task(client.generate_t2v(make_request(tmp_path), hooks))
    await queued.wait()
    await until(lambda: server.running is not None)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.interrupts == [{"prompt_id": ids[0]}]


async def test_a_prompt_stuck_in_the_queue_is_deleted_after_the_queue_timeout(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    server.faults.push("hang")  # someone else's job holds the GPU
    # The clip budget is shorter than the queue limit: only the queue limit may end a wait that never started.
    other, ours = make_client(), make_client(video_gen_timeout=0.2, comfyui_queue_timeout=0.5)
    blocker = asyncio.create_task(other.generate_t2v(make_request(tmp_path, "a.mp4")))
    await until(lambda: server.running is not None)
    with pytest.raises(ComfyUITimeoutError, match=r"never started: it waited 0\.5 s in the queue") as caught:
        await ours.generate_t2v(make_request(tmp_path, "b.mp4"))
    assert str(caught.value.prompt_id) in server.deletes
    assert str(caught.value.prompt_id) not in server.jobs_run
    assert all(job.prompt_id != caught.value.prompt_id for job in server.pending)
    await other.cancel(str(server.submitted and server.running and server.running.prompt_id))
    with pytest.raises(Exception, match="interrupted"):
        await blocker


async def test_time_queued_behind_another_job_does_not_count_against_the_clip(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    gate = asyncio.Event()
    server.faults.push("hold", until=gate)  # the job ahead holds the GPU until we let it go
    blocker = asyncio.create_task(make_client().generate_t2v(make_request(tmp_path, "a.mp4")))
    await until(lambda: server.running is not None)
    limit = 0.8
    ours = make_client(video_gen_timeout=limit, comfyui_queue_timeout=30)
    task = asyncio.create_task(ours.generate_t2v(make_request(tmp_path, "b.mp4")))
    await until(lambda: len(server.pending) == 1)
    await asyncio.sleep(limit * 1.25)  # queued for longer than the clip's whole budget
    assert not task.done() and server.deletes == [] and server.interrupts == []
    queue_polls = server.requests.count(("GET", "/queue"))
    assert queue_polls >= 1  # while queued, the client keeps checking the prompt is still there
    gate.set()
    result = await task
    validate_clip(result.path, width=64, height=64, min_frames=9)
    assert server.jobs_run == [(await blocker).prompt_id, result.prompt_id]


async def test_clip_budget_counts_from_the_start_of_execution(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    gate = asyncio.Event()
    server.faults.push("hold", until=gate)
    blocker = asyncio.create_task(make_client().generate_t2v(make_request(tmp_path, "a.mp4")))
    await until(lambda: server.running is not None)
    server.faults.push("hang")  # our job, once it runs, never finishes on its own
    ids: list[str] = []
    ours = make_client(video_gen_timeout=0.5, comfyui_queue_timeout=30)
    task = asyncio.create_task(ours.generate_t2v(make_request(tmp_path, "b.mp4"),
                                                 GenerationHooks(on_submitted=lambda _s, p: ids.append(p))))
    await until(lambda: len(server.pending) == 1)
    gate.set()
    with pytest.raises(ComfyUITimeoutError, match=r"ran past 0\.5 s after it started") as caught:
        await task
    assert caught.value.prompt_id == ids[0]
    assert {"prompt_id": ids[0]} in server.interrupts
    await until(lambda: ids[0] in server.history)
    assert server.history[ids[0]]["status"]["messages"][-1][0] == "execution_interrupted"
    await blocker


async def test_polling_sees_the_start_in_queue_running(server: FakeComfyUI, make_client: ClientFactory,
                                                       tmp_path: Path) -> None:
    gate = asyncio.Event()
    server.faults.push("hold", until=gate)
    ids: list[str] = []
    first = make_client()
    blocker = asyncio.create_task(first.generate_t2v(make_request(tmp_path, "a.mp4")))
    await until(lambda: server.running is not None)
    server.faults.push("hang")
    task = asyncio.create_task(make_client().generate_t2v(make_request(tmp_path, "b.mp4"),
                                                          GenerationHooks(on_submitted=lambda _s, p: ids.append(p))))
    await until(lambda: len(ids) == 1)
    # No socket for a re-attached prompt: only GET /queue can tell queued from running.
    resumer = make_client(sleep=Sleeps(hook=gate.set), video_gen_timeout=0.5, comfyui_queue_timeout=30)
    with pytest.raises(ComfyUITimeoutError, match="after it started"):
        await resumer.reattach(ids[0], make_request(tmp_path, "resumed.mp4"))
    assert {"prompt_id": ids[0]} in server.interrupts
    await blocker
    with pytest.raises(Exception, match="interrupted"):
        await task


async def test_a_queued_prompt_deleted_by_someone_else_is_lost(server: FakeComfyUI, make_client: ClientFactory,
                                                               tmp_path: Path) -> None:
    gate = asyncio.Event()
    server.faults.push("hold", until=gate)
    blocker = asyncio.create_task(make_client().generate_t2v(make_request(tmp_path, "a.mp4")))
    await until(lambda: server.running is not None)
    ids: list[str] = []
    ours = make_client(comfyui_queue_timeout=30)
    task = asyncio.create_task(ours.generate_t2v(make_request(tmp_path, "b.mp4"),
                                                 GenerationHooks(on_submitted=lambda _s, p: ids.append(p))))
    await until(lambda: len(server.pending) == 1 and len(ids) == 1)
    await make_client().cancel(ids[0])  # e.g. an operator clearing the queue: the socket never says a word
    with pytest.raises(PromptLostError) as caught:
        await task
    assert caught.value.prompt_id == ids[0]
    gate.set()
    await blocker


async def test_reattach_to_a_running_prompt(server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path) -> None:
    gate = asyncio.Event()
    server.faults.push("hold", until=gate)
    first = make_client()
    ids: list[str] = []
    task = asyncio.create_task(first.generate_t2v(make_request(tmp_path, "a.mp4"),
                                                  GenerationHooks(on_submitted=lambda _s, p: ids.append(p))))
    await until(lambda: server.running is not None)
    resumer = make_client(sleep=Sleeps(hook=gate.set))  # the first poll finds it running; then it may finish
    result = await resumer.reattach(ids[0], make_request(tmp_path, "resumed.mp4"))
    assert result.prompt_id == ids[0]
    validate_clip(result.path, width=64, height=64, min_frames=9)
    assert (await task).prompt_id == ids[0]


# --- the rest of the public API ---------------------------------------------------------------------------


async def test_auth_header_on_http_and_websocket(tmp_path: Path) -> None:
    header = "Authorization: Bearer s3cret"
    async with FakeComfyUI(tmp_path / "comfy", required_header=header) as fake:
        good = ComfyUIClient(fake.url, tmp_path, settings=make_settings(comfyui_auth_header=header), sleep=Sleeps())
        bad = ComfyUIClient(fake.url, tmp_path, settings=make_settings(), sleep=Sleeps())
        try:
            assert await bad.health_check() is False
            assert await good.health_check() is True
            result = await good.generate_t2v(make_request(tmp_path))
        finally:
            await good.aclose()
            await bad.aclose()
    assert validate_clip(result.path).frames == 9
    assert [h.get("Authorization") for h in fake.ws_handshake_headers] == ["Bearer s3cret"]


async def test_stats_object_info_and_free(server: FakeComfyUI, make_client: ClientFactory) -> None:
    client = make_client()
    assert await client.health_check() is True
    stats = await client.system_stats()
    assert stats["devices"][0]["type"] == "cuda" and stats["devices"][0]["vram_free"] > 0
    info = await client.object_info("CheckpointLoaderSimple")
    assert client.settings.video_model_full in info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    assert await client.object_info("NoSuchNode") == {}
    assert "VHS_VideoCombine" in await client.object_info()
    client.loaded_model = "full"
    await client.free_memory()
    assert server.frees == [{"unload_models": True, "free_memory": True}]
    assert client.loaded_model is None
    assert client.name == server.url


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://h:8188", "ws://h:8188/ws?clientId=c"),
        ("https://gpu.example.com/comfy/", "wss://gpu.example.com/comfy/ws?clientId=c"),
    ],
)
def test_ws_url(base: str, expected: str) -> None:
    assert proto.ws_url(base, "c") == expected


def test_auth_header_parsing() -> None:
    assert proto.parse_auth_header("Authorization: Bearer a:b") == {"Authorization": "Bearer a:b"}
    assert proto.parse_auth_header(None) == {}
    with pytest.raises(ValueError, match="Name: value"):
        proto.parse_auth_header("no-colon")


async def test_a_server_that_cannot_be_reached_never_got_the_job(
    server: FakeComfyUI, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Refused at POST /prompt: an error that tells the scheduler the job may go to another server, and that
    is not a connection error (there is no queued prompt to re-attach to)."""
    url = server.url
    await server.stop()
    client = make_client(url=url)
    hooks, _progress, submitted = recorder()
    with pytest.raises(ComfyUINotSubmittedError) as info:
        await client.generate_t2v(make_request(tmp_path), hooks)
    assert not isinstance(info.value, ComfyUIConnectionError)
    assert [prompt_id for _server, prompt_id in submitted] == [info.value.prompt_id]
