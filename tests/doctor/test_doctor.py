from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ai_worker.cli.cmd_doctor import doctor, report_table, summary
from ai_worker.comfy.workflows import load_workflow
from ai_worker.core.errors import FFmpegTimeoutError
from ai_worker.doctor.checks import Check, DoctorReport, doctor_workflows, run_doctor
from ai_worker.doctor.ffmpeg_checks import check_encoders, check_ffmpeg, list_encoders, parse_encoders
from ai_worker.doctor.server_checks import check_object_info, check_system_stats, combo_options
from config.settings import Settings
from tests.fakes.fake_comfyui import FakeComfyUI
from tests.fakes.fake_ollama import FakeOllama

DATA = Path(__file__).resolve().parents[1] / "fakes" / "data"
GEMMA = "gemma-3-12b-it-qat-q4_0-unquantized/model-00001-of-00005.safetensors"


def captured_object_info() -> dict[str, Any]:
    # /object_info of ComfyUI 0.8.0 + ComfyUI-LTXVideo + VHS (placeholder model files), LTX-2 nodes only.
    data: dict[str, Any] = json.loads((DATA / "doctor_object_info_ltx.json").read_text(encoding="utf-8"))
    data.update({"LoraLoaderModelOnly": json.loads((DATA / "object_info_ltx_v080.json").read_text(
        encoding="utf-8"))["LoraLoaderModelOnly"]})  # the same version's core node, from its own capture
    return data


def captured_system_stats() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "doctor_system_stats.json").read_text(encoding="utf-8"))
    return data


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "comfyui_url": [closed_port_url()],
        "ollama_host": closed_port_url(),
        "ollama_timeout": 5,
        "comfyui_health_timeout": 2,
        "comfyui_http_timeout": 5,
        "video_output_dir": tmp_path / "videos",
        # The captured server had ComfyUI-LTXVideo's Gemma folder, so most tests check the `ltxvideo` set.
        "comfyui_workflow_set": "ltxvideo",
        # The seed's recipe: these tests check its four single-pass graphs.
        "video_recipe": "single-pass",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def summary_of(checks: list[Check]) -> list[tuple[str, bool, bool]]:
    return [(c.name, c.ok, c.optional) for c in checks]


# --- FFmpeg ---------------------------------------------------------------------------------------------------

ENCODERS_SAMPLE = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
"""


def test_parse_encoders() -> None:
    assert parse_encoders(ENCODERS_SAMPLE) == {"libx264", "h264_nvenc", "aac"}
    assert parse_encoders("no separator\n V....D libx264 x") == set()


def test_check_encoders() -> None:
    ffmpeg = Path("/usr/bin/ffmpeg")
    assert check_encoders(ffmpeg, {"libx264", "h264_nvenc"}) == [
        Check("FFmpeg libx264", True, "/usr/bin/ffmpeg has the libx264 encoder",
              fix="use an FFmpeg built with libx264: unset FFMPEG_BINARY to use imageio-ffmpeg's, or install one"),
        Check("FFmpeg h264_nvenc", True,
              "h264_nvenc is listed (it also needs an NVIDIA GPU with NVENC at run time; else libx264 is used)",
              fix="optional: an FFmpeg built with NVENC (and a GPU that has it) encodes faster", optional=True),
    ]  # fmt: skip
    missing = check_encoders(ffmpeg, {"aac"})
    assert summary_of(missing) == [("FFmpeg libx264", False, False), ("FFmpeg h264_nvenc", False, True)]
    assert "lacks" in missing[0].detail


async def test_real_ffmpeg_has_libx264(tmp_path: Path) -> None:
    checks = await check_ffmpeg(make_settings(tmp_path))
    assert checks[0].name == "FFmpeg" and checks[0].ok
    assert checks[1].name == "FFmpeg libx264" and checks[1].ok


async def test_ffmpeg_missing_or_broken(tmp_path: Path) -> None:
    missing = await check_ffmpeg(make_settings(tmp_path, ffmpeg_binary=tmp_path / "nope"))
    assert summary_of(missing) == [("FFmpeg", False, False)]
    assert "FFMPEG_BINARY" in missing[0].fix
    broken = tmp_path / "ffmpeg"
    broken.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    broken.chmod(0o755)
    checks = await check_ffmpeg(make_settings(tmp_path, ffmpeg_binary=broken))
    assert summary_of(checks) == [("FFmpeg", False, False)]
    assert "exited with code 3" in checks[0].detail


async def test_list_encoders_time_limit(tmp_path: Path) -> None:
    slow = tmp_path / "ffmpeg"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    with pytest.raises(FFmpegTimeoutError, match=r"-encoders ran past its 0\.2 s limit and was killed"):
        await list_encoders(slow, timeout=0.2)


# --- /object_info ----------------------------------------------------------------------------------------------


def test_combo_options() -> None:
    assert combo_options([["a", "b"], {}]) == ["a", "b"]
    assert combo_options(["COMBO", {"options": ["x"]}]) == ["x"]
    assert combo_options(["INT", {"default": 1}]) is None
    assert combo_options(None) is None


def test_object_info_against_the_capture_with_default_settings(tmp_path: Path) -> None:
    workflows, checks = doctor_workflows(make_settings(tmp_path))
    assert all(c.ok for c in checks) and len(workflows) == 4
    result = check_object_info(captured_object_info(), workflows, server="S")
    # The captured server had the dev fp8 checkpoint but the distilled one only as bf16.
    assert summary_of(result) == [
        ("S: nodes", True, False),
        ("S: model ltx-2-19b-dev-fp8.safetensors", True, False),
        ("S: model ltx-2-19b-distilled-fp8.safetensors", False, False),
        (f"S: model {GEMMA}", True, False),
    ]
    missing = result[2]
    assert missing.detail == (
        "not in models/checkpoints (used by i2v_ltx2_distilled.json, t2v_ltx2_distilled.json); "
        "the server lists: ltx-2-19b-dev-fp8.safetensors, ltx-2-19b-dev.safetensors, ltx-2-19b-distilled.safetensors"
    )
    assert missing.fix == (
        "put ltx-2-19b-distilled-fp8.safetensors in ComfyUI/models/checkpoints/ (or change the setting naming it); "
        "see docs/models.md"
    )


def test_object_info_with_settings_matching_the_server(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, video_model_distilled="ltx-2-19b-distilled.safetensors")
    workflows, _ = doctor_workflows(settings)
    result = check_object_info(captured_object_info(), workflows)
    assert all(c.ok for c in result), [c for c in result if not c.ok]


def test_missing_custom_nodes_say_what_to_install(tmp_path: Path) -> None:
    info = captured_object_info()
    for name in ("LTXVGemmaCLIPModelLoader", "VHS_VideoCombine", "LTXVScheduler"):
        del info[name]
    workflows, _ = doctor_workflows(make_settings(tmp_path))
    nodes = check_object_info(info, workflows)[0]
    assert (nodes.name, nodes.ok, nodes.optional) == ("ComfyUI: nodes", False, False)
    assert nodes.detail.startswith(
        "missing node classes: LTXVGemmaCLIPModelLoader (used by t2v_ltx2.json, t2v_ltx2_distilled.json, "
        "i2v_ltx2.json, i2v_ltx2_distilled.json); LTXVScheduler (used by t2v_ltx2.json, "
        "i2v_ltx2.json); VHS_VideoCombine"
    )
    assert nodes.fix == (
        "install ComfyUI-LTXVideo (https://github.com/Lightricks/ComfyUI-LTXVideo.git) at commit 82bd963c into "
        "ComfyUI/custom_nodes; install ComfyUI-VideoHelperSuite "
        "(https://github.com/Kosinkadink/ComfyUI-VideoHelperSuite.git) at commit 4ee72c06 into ComfyUI/custom_nodes; "
        "update ComfyUI: LTXVScheduler are core nodes of newer versions; then restart ComfyUI"
    )


def test_the_upscaler_is_checked_only_for_a_two_stage_recipe(tmp_path: Path) -> None:
    info = captured_object_info()
    del info["LTXVLatentUpsampler"]
    info["LatentUpscaleModelLoader"]["input"]["required"]["model_name"][1]["options"] = []
    distilled = "ltx-2-19b-distilled.safetensors"
    workflows, _ = doctor_workflows(make_settings(tmp_path, video_model_distilled=distilled))
    assert all(c.ok for c in check_object_info(info, workflows))  # single-pass never loads it
    workflows, _ = doctor_workflows(make_settings(tmp_path, video_model_distilled=distilled,
                                                  video_recipe="distilled-two-stage"))
    assert [w.name for w in workflows] == ["t2v_ltx2_distilled.json", "i2v_ltx2_distilled.json",
                                           "t2v_ltx2_upscale.json", "i2v_ltx2_upscale.json"]
    failed = [c for c in check_object_info(info, workflows) if not c.ok]
    assert [(c.name, c.optional) for c in failed] == [
        ("ComfyUI: nodes", False), ("ComfyUI: model ltx-2-spatial-upscaler-x2-1.0.safetensors", False)]
    assert "the server lists: nothing" in failed[1].detail
    assert not DoctorReport(tuple(failed)).ok


def test_gemma_fix_names_the_folder_and_windows_paths_match(tmp_path: Path) -> None:
    info = captured_object_info()
    info["LTXVGemmaCLIPModelLoader"]["input"]["required"]["gemma_path"][0] = ["other/model.safetensors"]
    workflows, _ = doctor_workflows(make_settings(tmp_path, video_model_distilled="ltx-2-19b-distilled.safetensors"))
    gemma = next(c for c in check_object_info(info, workflows) if GEMMA in c.name)
    assert not gemma.ok and "gemma-3-12b-it-qat-q4_0-unquantized, with tokenizer.model" in gemma.fix
    info["LTXVGemmaCLIPModelLoader"]["input"]["required"]["gemma_path"][0] = [GEMMA.replace("/", "\\")]
    gemma = next(c for c in check_object_info(info, workflows) if GEMMA in c.name)
    assert gemma.ok


def test_workflow_problems_are_reported(tmp_path: Path) -> None:
    user = tmp_path / "wf"
    user.mkdir()
    (user / "i2v_ltx2.json").write_text("{broken", encoding="utf-8")
    workflows, checks = doctor_workflows(make_settings(tmp_path, comfyui_workflow_dir=user))
    assert [w.name for w in workflows] == ["t2v_ltx2.json", "t2v_ltx2_distilled.json", "i2v_ltx2_distilled.json"]
    assert summary_of(checks) == [
        ("workflow t2v_ltx2.json", True, False),
        ("workflow t2v_ltx2_distilled.json", True, False),
        ("workflow i2v_ltx2.json", False, False),
        ("workflow i2v_ltx2_distilled.json", True, False),
    ]
    assert "not JSON" in checks[2].detail
    # model files come from settings, per model variant
    assert workflows[0].model_files()["ckpt_name"] == {"ltx-2-19b-dev-fp8.safetensors"}
    assert workflows[1].model_files()["ckpt_name"] == {"ltx-2-19b-distilled-fp8.safetensors"}


def test_node_check_uses_node_classes_of_each_workflow() -> None:
    workflow = load_workflow("t2v_ltx2.json")
    result = check_object_info({}, [workflow])
    assert summary_of(result) == [("ComfyUI: nodes", False, False)]  # no model checks without the loaders


# --- /system_stats ---------------------------------------------------------------------------------------------


def test_system_stats_of_the_captured_cpu_server() -> None:
    assert check_system_stats(captured_system_stats(), server="S") == [
        Check("S: reachable", True, "ComfyUI 0.8.0, Python 3.11.7"),
        Check("S: GPU", False, "the server runs on CPU only: LTX-2 19B is impractically slow there",
              fix="run ComfyUI on a machine with an NVIDIA GPU (see docs/models.md and docker-compose.yml)",
              optional=True),
    ]  # fmt: skip


def test_system_stats_vram() -> None:
    gib = 1024**3
    stats: dict[str, Any] = {
        "system": {"comfyui_version": "0.8.0", "python_version": "3.11.7 (main)"},
        "devices": [{"name": "cuda:0 RTX 3090", "type": "cuda", "vram_total": 24 * gib, "vram_free": 20 * gib}],
    }
    vram = check_system_stats(stats)[1]
    assert (vram.name, vram.ok, vram.detail) == ("ComfyUI: VRAM", True, "cuda:0 RTX 3090: 20.0 of 24.0 GiB free")
    stats["devices"][0]["vram_free"] = 2 * gib
    low = check_system_stats(stats)[1]
    assert (low.ok, low.optional) == (False, True) and "POST /free" in low.fix


def test_report_ok_ignores_warnings() -> None:
    warn = Check("w", False, "d", "f", optional=True)
    fail = Check("x", False, "d", "f")
    assert DoctorReport((Check("a", True, "d"), warn)).ok
    report = DoctorReport((warn, fail))
    assert not report.ok and report.failures == [fail] and report.warnings == [warn]


# --- end to end over real sockets ------------------------------------------------------------------------------


async def test_run_doctor_against_fake_servers(tmp_path: Path) -> None:
    down = closed_port_url()
    async with FakeComfyUI(tmp_path / "a") as good, FakeOllama() as ollama:
        settings = make_settings(tmp_path, comfyui_url=[good.url, down], ollama_host=ollama.url)
        report = await run_doctor(settings)
    names = {c.name: c for c in report.checks}
    assert names[f"ComfyUI {good.url}: reachable"].detail == "ComfyUI 0.8.0, Python 3.11.7"
    assert names[f"ComfyUI {good.url}: VRAM"].ok
    assert names[f"ComfyUI {good.url}: nodes"].ok
    assert names[f"ComfyUI {good.url}: model ltx-2-19b-distilled-fp8.safetensors"].ok
    assert names["Ollama"].ok and names["Ollama model qwen2.5:14b"].ok
    assert [c.name for c in report.failures] == [f"ComfyUI {down}: reachable"]
    assert "docker compose up -d comfyui" in report.failures[0].fix
    assert not report.ok


async def test_run_doctor_missing_model_and_ollama_model(tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "a") as server, FakeOllama(models=("llama3:8b",)) as ollama:
        server.models.discard("ltx-2-19b-dev-fp8.safetensors")
        report = await run_doctor(make_settings(tmp_path, comfyui_url=[server.url], ollama_host=ollama.url))
    assert [c.name for c in report.failures] == [f"ComfyUI {server.url}: model ltx-2-19b-dev-fp8.safetensors"]
    # what each generation can run is information: warnings (the fake is a 0.8.0 without the dev checkpoint)
    generations = [c for c in report.warnings if ": generation " in c.name]
    assert [(c.name.rsplit(": ", 1)[1], c.detail.split(";")[0]) for c in generations] == [
        ("generation ltx-2", "runs distilled-two-stage"),
        ("generation ltx-2.3", "LTX-2.3 22B (Lightricks/LTX-2.3) needs ComfyUI 0.16.0 or newer")]
    # prompts fall back without the LLM: a warning, not a failure
    llm_warnings = [c for c in report.warnings if c not in generations]
    assert [c.name for c in llm_warnings] == ["Ollama model qwen2.5:14b"]
    assert llm_warnings[0].fix.startswith("ollama pull qwen2.5:14b")
    assert "fall back" in llm_warnings[0].fix


async def test_smoke_does_not_report_an_unreachable_server_again(tmp_path: Path) -> None:
    down = closed_port_url()
    report = await run_doctor(make_settings(tmp_path, comfyui_url=[down]), smoke_dir=tmp_path / "smoke")
    mentions = [c.name for c in report.failures + report.warnings if down in c.name]
    assert mentions == [f"ComfyUI {down}: reachable"]


async def test_a_local_only_setup_passes_and_says_comfyui_is_not_used(tmp_path: Path) -> None:
    # No ComfyUI anywhere (the URL is a closed port), no Ollama: the local backend needs neither.
    settings = make_settings(tmp_path, video_backend="local")
    report = await run_doctor(settings, smoke_dir=tmp_path / "smoke")
    assert report.ok, [(c.name, c.detail) for c in report.failures]
    comfy = [c for c in report.checks if c.name == "ComfyUI"]
    assert len(comfy) == 1 and comfy[0].ok and "not used" in comfy[0].detail
    assert not any("workflow" in c.name or "http" in c.name for c in report.checks)
    assert any(c.name.startswith("FFmpeg") and c.ok for c in report.checks)


# --- the CLI ---------------------------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_cli_exit_code_and_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("COMFYUI_URL", closed_port_url())
    monkeypatch.setenv("OLLAMA_HOST", closed_port_url())
    monkeypatch.setenv("COMFYUI_HEALTH_TIMEOUT", "2")
    monkeypatch.setenv("COMFYUI_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("OLLAMA_TIMEOUT", "3")
    app = typer.Typer()
    app.command()(doctor)
    result = CliRunner().invoke(app, [], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "docker compose up -d comfyui" in result.output
    assert "1 problem(s) to fix" in result.output  # Ollama unreachable is only a warning

    monkeypatch.setenv("COMFYUI_URL", "ftp://nope")
    result = CliRunner().invoke(app, [], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "settings are invalid" in result.output

    monkeypatch.setenv("COMFYUI_URL", closed_port_url())
    monkeypatch.setenv("VIDEO_BACKEND", "local")
    result = CliRunner().invoke(app, ["--smoke"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "ComfyUI is not used" in result.output or "not used: VIDEO_BACKEND=local" in result.output


def test_report_table_and_summary_text() -> None:
    from rich.console import Console

    report = DoctorReport(
        (Check("a", True, "fine [1, 2]"), Check("b", False, "bad", "do X"), Check("c", False, "meh", "maybe", True))
    )
    console = Console(record=True, width=200)
    console.print(report_table(report))
    console.print(summary(report))
    text = console.export_text()
    assert "fine [1, 2]" in text and "do X" in text and "warn" in text and "FAIL" in text
    assert "1 problem(s) to fix, 1 warning(s)." in text


# --- the Docker files agree with the settings (they cannot be built here) ------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_docker_files_agree_with_settings_and_each_other() -> None:
    import re
    import typing

    from config.settings import VramMode

    dockerfile = (ROOT / "Dockerfile.comfyui").read_text(encoding="utf-8")
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    # every VRAM mode the settings accept is accepted by the start script (and becomes --<mode>)
    case = re.search(r"^\s+(lowvram\|[^)]*)\)", dockerfile, re.MULTILINE)
    assert case is not None
    assert set(case.group(1).split("|")) == set(typing.get_args(VramMode))
    assert '"--$mode" --reserve-vram "${COMFYUI_RESERVE_VRAM:-2}"' in dockerfile
    # the pinned refs are the same in both files
    for arg in ("COMFYUI_REF", "VHS_REF", "LTXV_REF"):
        default = re.search(rf"^ARG {arg}=(\S+)$", dockerfile, re.MULTILINE)
        assert default is not None
        assert f"{arg}: ${{{arg}:-{default.group(1)}}}" in compose
    # settings defaults match what compose passes
    fields = Settings.model_fields
    assert f"COMFYUI_VRAM_MODE: ${{COMFYUI_VRAM_MODE:-{fields['comfyui_vram_mode'].default}}}" in compose
    assert f"COMFYUI_RESERVE_VRAM: ${{COMFYUI_RESERVE_VRAM:-{fields['comfyui_reserve_vram'].default:g}}}" in compose
    assert '"${COMFYUI_BIND:-127.0.0.1}:8188:8188"' in compose
    # the mounted model folders are the ones doctor's fixes and docs/models.md name
    for folder in ("checkpoints", "text_encoders", "latent_upscale_models", "loras"):
        assert f":/comfyui/models/{folder}:ro" in compose
    assert "./media/tmp/videos:/comfyui/output" in compose
    assert "COMFYUI_SHARED_OUTPUT_DIR: /app/media/tmp/videos" in compose


# --- the workflow set: version, node packs, model sizes, shared folder, --json, --smoke -------------------------


def test_version_against_the_sets_minimum() -> None:
    from ai_worker.comfy.workflow_sets import workflow_set
    from ai_worker.doctor.workflow_set import check_version

    core = workflow_set("core")
    ok = check_version(captured_system_stats(), core, server="S")
    assert (ok.name, ok.ok) == ("S: ComfyUI version", True)
    assert ok.detail == "ComfyUI 0.8.0 meets the 'core' set's minimum 0.8.0"
    old = check_version({"system": {"comfyui_version": "0.7.3"}}, core, server="S")
    assert (old.ok, old.optional) == (False, False) and "is older than" in old.detail and "0.8.0 or newer" in old.fix
    unknown = check_version({"system": {}}, core, server="S")
    assert (unknown.ok, unknown.optional) == (False, True)


def test_node_packs_of_the_set() -> None:
    from ai_worker.comfy.workflow_sets import workflow_set
    from ai_worker.doctor.workflow_set import check_node_packs

    info = captured_object_info()
    assert summary_of(check_node_packs(info, workflow_set("core"), server="S")) == [
        ("S: node pack ComfyUI-VideoHelperSuite", True, False)]
    del info["LTXVGemmaCLIPModelLoader"]
    checks = check_node_packs(info, workflow_set("ltxvideo"), server="S")
    assert summary_of(checks) == [("S: node pack ComfyUI-VideoHelperSuite", True, False),
                                  ("S: node pack ComfyUI-LTXVideo", False, False)]
    assert checks[1].fix == (
        "git clone https://github.com/Lightricks/ComfyUI-LTXVideo.git ComfyUI/custom_nodes/ComfyUI-LTXVideo && "
        "git -C ComfyUI/custom_nodes/ComfyUI-LTXVideo checkout 82bd963c; restart ComfyUI")


def test_model_sizes_from_the_experiment_models_listing(tmp_path: Path) -> None:
    from ai_worker.doctor.workflow_set import check_model_sizes, expected_files

    settings = make_settings(tmp_path, comfyui_workflow_set="core", video_recipe="distilled-two-stage")
    expected = expected_files(settings)
    assert [(f.folder, f.name, f.optional) for f in expected] == [
        ("checkpoints", "ltx-2-19b-dev-fp8.safetensors", True),  # the default recipe runs no dev model
        ("checkpoints", "ltx-2-19b-distilled-fp8.safetensors", False),
        ("text_encoders", "gemma_3_12B_it_fp4_mixed.safetensors", False),
        ("latent_upscale_models", "ltx-2-spatial-upscaler-x2-1.0.safetensors", False),
        ("loras", "ltx-2-19b-distilled-lora-384.safetensors", True),
    ]
    single = expected_files(make_settings(tmp_path, video_recipe="single-pass"))
    assert [f.optional for f in single] == [False, False, False, True, True]
    dev = expected_files(make_settings(tmp_path, video_recipe="dev-two-stage"))
    assert [f.optional for f in dev] == [False, False, False, False, False]
    # The shape GET /experiment/models/{folder} answered on the real 0.8.0 server.
    listings: dict[str, list[Any] | None] = {
        "checkpoints": [{"name": "ltx-2-19b-dev-fp8.safetensors", "pathIndex": 0, "modified": 1.0, "created": 1.0,
                         "size": 2894018342},
                        {"name": "ltx-2-19b-distilled-fp8.safetensors", "pathIndex": 0, "size": 8}],
        "text_encoders": [{"name": "gemma_3_12B_it_fp4_mixed.safetensors", "size": 115991466}],
        "latent_upscale_models": None,
        "loras": [],
    }
    checks = check_model_sizes(listings, expected, server="S")
    assert summary_of(checks) == [
        ("S: model sizes in latent_upscale_models", False, True),
        ("S: model size ltx-2-19b-dev-fp8.safetensors", True, True),  # optional: the default recipe runs no dev model
        ("S: model size ltx-2-19b-distilled-fp8.safetensors", False, False),
        ("S: model size gemma_3_12B_it_fp4_mixed.safetensors", True, False),
    ]
    assert checks[2].detail.startswith("only 8 bytes: far too small to be the real file")
    assert checks[1].detail == "2,760.0 MiB"


def test_shared_output_folder(tmp_path: Path) -> None:
    from ai_worker.doctor.workflow_set import check_shared_output

    assert check_shared_output(make_settings(tmp_path)) == []
    missing = check_shared_output(make_settings(tmp_path, comfyui_shared_output_dir=tmp_path / "nope"))
    assert summary_of(missing) == [("shared output folder", False, False)]
    assert summary_of(check_shared_output(make_settings(tmp_path, comfyui_shared_output_dir=tmp_path))) == [
        ("shared output folder", True, False)]


async def test_core_set_against_a_fake_with_a_placeholder_checkpoint(tmp_path: Path) -> None:
    async with FakeComfyUI(tmp_path / "a") as server, FakeOllama() as ollama:
        server.model_sizes["ltx-2-19b-distilled-fp8.safetensors"] = 8
        settings = make_settings(tmp_path, comfyui_url=[server.url], ollama_host=ollama.url,
                                 comfyui_workflow_set="core")
        report = await run_doctor(settings)
    names = {c.name: c for c in report.checks}
    prefix = f"ComfyUI {server.url}"
    assert names[f"{prefix}: ComfyUI version"].ok
    assert names[f"{prefix}: node pack ComfyUI-VideoHelperSuite"].ok
    assert names[f"{prefix}: model gemma_3_12B_it_fp4_mixed.safetensors"].ok
    assert [c.name for c in report.failures] == [f"{prefix}: model size ltx-2-19b-distilled-fp8.safetensors"]


async def test_smoke_runs_one_tiny_job_per_server(tmp_path: Path) -> None:
    from ai_worker.doctor.workflow_set import run_smoke

    async with FakeComfyUI(tmp_path / "a") as good, FakeComfyUI(tmp_path / "b") as bad:
        bad.faults.push("error", at="CheckpointLoaderSimple", exception_type="FileNotFoundError", message="gone")
        settings = make_settings(tmp_path, comfyui_url=[good.url, bad.url], comfyui_workflow_set="core")
        checks = await run_smoke(settings, tmp_path / "smoke")
        graph = good.submitted[0]["prompt"]
    assert summary_of(checks) == [(f"ComfyUI {good.url}: smoke job", True, False),
                                  (f"ComfyUI {bad.url}: smoke job", False, False)]
    assert checks[0].detail.startswith("core set, t2v distilled 64x64x9: clip of ")
    assert "cannot load ltx-2-19b-distilled-fp8.safetensors" in checks[1].detail
    assert graph["2"]["class_type"] == "LTXAVTextEncoderLoader"
    assert graph["6"]["inputs"] | {} == {"width": 64, "height": 64, "length": 9, "batch_size": 1}


def test_cli_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMFYUI_URL", closed_port_url())
    monkeypatch.setenv("OLLAMA_HOST", closed_port_url())
    monkeypatch.setenv("COMFYUI_HEALTH_TIMEOUT", "2")
    monkeypatch.setenv("OLLAMA_TIMEOUT", "3")
    app = typer.Typer()
    app.command()(doctor)
    result = CliRunner().invoke(app, ["--json"], env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["failures"] == 1
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert statuses["Ollama"] == "warn"
    failed = [c for c in data["checks"] if c["status"] == "fail"]
    assert len(failed) == 1 and failed[0]["name"].endswith(": reachable") and failed[0]["fix"]
