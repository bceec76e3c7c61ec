"""VideoManager: the ladder's order and values, error sorting, limits, scheduling, results and manifest.

The backend is an in-test generator that records every request and fails on a script; the clips it
does make are real (tiny) mp4s from the FFmpeg-only local backend, so validation runs for real.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ai_worker.cli.signals import install_sigterm_cancel
from ai_worker.core.errors import (
    ComfyUIConnectionError,
    ComfyUIExecutionError,
    ComfyUIInterruptedError,
    ComfyUIOutOfMemoryError,
    ComfyUIPermanentExecutionError,
    ComfyUIServerError,
    ComfyUITimeoutError,
    ComfyUIValidationError,
    GeneratorError,
    GeneratorUnavailableError,
    InputError,
    InvalidClipError,
    InvalidOutputError,
    PromptLostError,
    WorkflowError,
)
from ai_worker.media.local_backend import LocalBackend
from ai_worker.model.backend import ClipRequest, ClipResult, GenerationHooks
from ai_worker.model.capabilities import slots_of
from ai_worker.model.manifest import ManifestStore
from ai_worker.model.recipes import DISTILLED_SIGMAS, STAGE_2_SIGMAS
from ai_worker.model.scene import SceneDecision, line_text
from ai_worker.orchestration.clip_plan import plan_clip
from ai_worker.orchestration.conductor import VideoManager
from ai_worker.orchestration.events import (
    AttemptStarted,
    ManagerEvent,
    SceneDone,
    SceneFailed,
    SceneSkipped,
)
from ai_worker.orchestration.ladder import ErrorAction, Rung, build_ladder, classify, is_server_fault
from ai_worker.orchestration.scene_identity import attempt_seed
from ai_worker.prompts.engine import simplify_prompt
from config.settings import Settings
from tests.fakes.settings import tiny_clip_settings

Script = Callable[[int, int, ClipRequest], BaseException | None]
"""(scene index, rung number, request) -> the error to raise, or None to make the clip."""


def small_settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "video_steps": 20,
        "video_steps_fallback": 15,
        "video_steps_distilled": 8,
        "video_cfg": 3.5,
        "video_cfg_distilled": 1.0,
        "video_gen_timeout": 30,
    }
    return tiny_clip_settings(**{**defaults, **values})


def scene_of(request: ClipRequest) -> int:
    return int(request.output_path.name.split("_")[1])


class PlainGenerator:
    """Records every call; raises what `script` says, else makes a real clip with the local backend. It cannot
    re-attach to a prompt (see `ScriptedGenerator`)."""

    def __init__(
        self,
        name: str = "fake",
        script: Script | None = None,
        *,
        healthy: bool = True,
        reattach_ok: bool = True,
    ) -> None:
        self._name = name
        self.script = script or (lambda scene, rung, request: None)
        self.healthy = healthy
        self.reattach_ok = reattach_ok
        self.calls: list[tuple[int, int, ClipRequest]] = []
        self.reattached: list[str] = []
        self.cancelled: list[str] = []
        self.frees = 0
        self.running = 0
        self.max_running = 0
        self.local = LocalBackend()
        self._ids = 0

    @property
    def name(self) -> str:
        return self._name

    async def health_check(self) -> bool:
        return self.healthy

    async def _make(self, request: ClipRequest, hooks: GenerationHooks | None) -> ClipResult:
        self._ids += 1
        prompt_id = f"{self._name}-{self._ids}"
        rung = int(request.output_path.stem.split("_r")[1].split("_")[0])
        self.calls.append((scene_of(request), rung, request))
        if hooks and hooks.on_submitted:
            hooks.on_submitted(self._name, prompt_id)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(0)
            error = self.script(scene_of(request), rung, request)
            if error is not None:
                if isinstance(error, ComfyUIConnectionError):
                    error.prompt_id = prompt_id
                raise error
            await self.local.generate_t2v(request)
        finally:
            self.running -= 1
        return ClipResult(path=request.output_path, server=self._name, prompt_id=prompt_id)

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        return await self._make(request, hooks)

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        assert request.init_image is not None
        return await self._make(request, hooks)

    async def cancel(self, prompt_id: str) -> None:
        self.cancelled.append(prompt_id)

    async def free_memory(self) -> None:
        self.frees += 1

    async def aclose(self) -> None:
        return None


class ScriptedGenerator(PlainGenerator):
    """A `PlainGenerator` that can re-attach to a prompt by id."""

    async def reattach(self, prompt_id: str, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        self.reattached.append(prompt_id)
        if not self.reattach_ok:
            raise PromptLostError(f"{prompt_id} is gone", server=self._name, prompt_id=prompt_id)
        await self.local.generate_t2v(request)
        return ClipResult(path=request.output_path, server=self._name, prompt_id=prompt_id)


class Pool:
    """A pool that lists its members (the manager schedules them itself)."""

    def __init__(self, members: list[ScriptedGenerator]) -> None:
        self.members = members

    @property
    def name(self) -> str:
        return "pool"

    async def health_check(self) -> bool:
        return any([await m.health_check() for m in self.members])

    async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        raise AssertionError("the manager schedules members itself")

    async def generate_i2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        raise AssertionError("the manager schedules members itself")

    async def cancel(self, prompt_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def make_scenes(count: int, *, mode: str = "t2v") -> list[SceneDecision]:
    return [
        SceneDecision(
            type="text_only",
            text_lines=[f"줄 {i}-1", f"줄 {i}-2"],
            video_mode=mode,  # type: ignore[arg-type]
            video_prompt=f"A man walks in a Seoul street, scene {i}. The camera pans left slowly. Soft rain sounds.",
        )
        for i in range(count)
    ]


def words(scenes: list[SceneDecision]) -> list[str]:
    return [line_text(line) for scene in scenes for line in scene.text_lines]


async def run(
    generator: object,
    scenes: list[SceneDecision],
    tmp_path: Path,
    settings: Settings | None = None,
    events: list[ManagerEvent] | None = None,
) -> tuple[VideoManager, list, ManifestStore]:  # type: ignore[type-arg]
    manager = VideoManager(comfy_client=generator, prompt_engine=None, config=settings or small_settings())  # type: ignore[arg-type]
    store = ManifestStore(tmp_path / "post" / "manifest.json")
    results = await manager.generate_all_clips(
        scenes,
        "daily",
        "p1",
        "제목",
        "요약",
        output_dir=tmp_path / "post",
        store=store,
        on_event=events.append if events is not None else None,
    )
    return manager, results, store


# --- the ladder (pure) ---------------------------------------------------------------------------------------


def _values(rungs: tuple[Rung, ...]) -> list[tuple[object, ...]]:
    return [(r.number, r.label, r.simplified_prompt, r.width, r.height, r.num_frames, r.steps, r.cfg, r.model)
            for r in rungs]


def test_ladder_values_come_from_settings_and_are_snapped() -> None:
    settings = Settings(_env_file=None, video_recipe="single-pass")
    assert _values(build_ladder(settings)) == [
        (1, "full", False, 1280, 704, 97, 20, 3.5, "full"),
        (2, "simplified", True, 1280, 704, 97, 20, 3.5, "full"),
        (3, "downscaled", True, 768, 512, 65, 15, 3.5, "full"),
        (4, "distilled", True, 768, 512, 65, 8, 1.0, "distilled"),
    ]
    custom = small_settings(video_max_retry=3, video_steps=11, video_cfg=4.0, video_num_frames=20)
    assert [r.number for r in build_ladder(custom)] == [1, 2, 3]
    assert _values(build_ladder(custom))[0] == (1, "full", False, 96, 64, 17, 11, 4.0, "full")


def test_the_default_recipe_is_the_distilled_two_stage_pipeline() -> None:
    rungs = build_ladder(Settings(_env_file=None))
    assert [(r.number, r.label, r.width, r.height, r.num_frames, r.model, r.passes) for r in rungs] == [
        (1, "full", 1280, 704, 97, "distilled", 2),
        (2, "simplified", 1280, 704, 97, "distilled", 2),
        (3, "downscaled", 768, 512, 65, "distilled", 2),
        (4, "distilled", 384, 256, 65, "distilled", 1),  # the cheapest: stage 1 alone, at half the fallback
    ]
    assert rungs[0].recipe is not None
    [stage_1, stage_2] = rungs[0].recipe.stages_at(1280, 704)
    assert (stage_1.width, stage_1.height, stage_1.sigmas, stage_1.cfg) == (640, 352, DISTILLED_SIGMAS, 1.0)
    assert (stage_2.width, stage_2.height, stage_2.sigmas, stage_2.cfg) == (1280, 704, STAGE_2_SIGMAS, 1.0)
    # 1280x720 snaps to multiples of 64 for the upscaler: 1280x704, whose half is whole latent cells.
    odd = build_ladder(Settings(_env_file=None, video_resolution=(1000, 600)))
    assert (odd[0].width, odd[0].height) == (1024, 576)


def test_dev_two_stage_takes_the_template_numbers() -> None:
    rungs = build_ladder(Settings(_env_file=None, video_recipe="dev-two-stage"))
    assert rungs[0].recipe is not None and rungs[2].recipe is not None
    [stage_1, stage_2] = rungs[0].recipe.stages
    assert (stage_1.scale, stage_1.model, stage_1.steps, stage_1.cfg, stage_1.sigmas) == (0.5, "full", 20, 4.0, None)
    assert (stage_2.model, stage_2.sigmas, stage_2.distilled_lora, stage_2.cfg) == ("full", STAGE_2_SIGMAS, True, 1.0)
    assert rungs[2].recipe.stages[0].steps == 15  # downscaled: VIDEO_STEPS_FALLBACK
    assert (rungs[3].model, rungs[3].passes) == ("distilled", 1)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (ComfyUIValidationError("bad"), ErrorAction.BLOCK_KIND),
        (WorkflowError("no such input"), ErrorAction.BLOCK_KIND),
        (ComfyUIOutOfMemoryError("oom"), ErrorAction.FREE_AND_NEXT),
        (ComfyUIConnectionError("reset"), ErrorAction.REATTACH),
        (GeneratorUnavailableError("none"), ErrorAction.RETRY),
        (ComfyUITimeoutError("late"), ErrorAction.NEXT),
        (ComfyUIExecutionError("boom"), ErrorAction.NEXT),
        (ComfyUIInterruptedError("stop"), ErrorAction.NEXT),
        (PromptLostError("gone"), ErrorAction.NEXT),
        (InvalidOutputError("0 bytes"), ErrorAction.NEXT),
        (InvalidClipError("short"), ErrorAction.NEXT),
        (GeneratorError("local"), ErrorAction.NEXT),
        (InputError("bad image"), ErrorAction.FAIL_FAST),
        (TypeError("bug"), ErrorAction.FAIL_FAST),
    ],
)
def test_errors_are_sorted_by_type(error: BaseException, action: ErrorAction) -> None:
    assert classify(error) is action


def test_server_faults_are_transport_timeouts_and_lost_prompts() -> None:
    assert is_server_fault(ComfyUIConnectionError("x"))
    assert is_server_fault(ComfyUIServerError("x"))
    assert is_server_fault(PromptLostError("x"))
    assert is_server_fault(ComfyUITimeoutError("x"))
    assert not is_server_fault(ComfyUIOutOfMemoryError("x"))
    assert not is_server_fault(ComfyUIExecutionError("x"))


# --- order and values ------------------------------------------------------------------------------------


async def test_breadth_first_with_each_rungs_values(tmp_path: Path) -> None:
    # Scene 0 succeeds at once, scene 1 on rung 3, scene 2 only on the distilled rung.
    need = {0: 1, 1: 3, 2: 4}
    gen = ScriptedGenerator(script=lambda scene, rung, _: None if rung >= need[scene] else ComfyUIExecutionError("x"))
    scenes = make_scenes(3)
    scenes[1].video_prompt_simple = "Phase six simple prompt."
    original_prompts = [s.video_prompt or "" for s in scenes]
    _, results, store = await run(gen, scenes, tmp_path)
    assert [(s, r) for s, r, _ in gen.calls] == [(0, 1), (1, 1), (2, 1), (1, 2), (2, 2), (1, 3), (2, 3), (2, 4)]
    models = [req.model for _, _, req in gen.calls]
    assert models == sorted(models, key=["full", "distilled"].index)  # one checkpoint switch at most
    by = {(s, r): req for s, r, req in gen.calls}
    settings = small_settings()
    assert (by[(2, 1)].width, by[(2, 1)].height, by[(2, 1)].num_frames, by[(2, 1)].steps, by[(2, 1)].cfg) == (
        96,
        64,
        17,
        settings.video_steps,
        3.5,
    )
    # Rung 3's size and steps are the fallback's; its frames follow the narration under the fallback cap.
    ladder = build_ladder(settings)
    fallback_frames = plan_clip(scenes[2], ladder[2], settings).num_frames
    assert fallback_frames <= settings.video_max_frames_fallback
    assert (by[(2, 3)].width, by[(2, 3)].height, by[(2, 3)].num_frames, by[(2, 3)].steps) == (
        64, 64, fallback_frames, 15
    )
    assert by[(2, 1)].num_frames == plan_clip(scenes[2], ladder[0], settings).num_frames
    assert (by[(2, 4)].steps, by[(2, 4)].cfg, by[(2, 4)].model) == (8, 1.0, "distilled")
    assert by[(2, 1)].prompt == original_prompts[2]
    assert by[(2, 2)].prompt == simplify_prompt(original_prompts[2]) != original_prompts[2]
    assert by[(1, 2)].prompt == by[(1, 3)].prompt == "Phase six simple prompt."
    assert by[(2, 2)].negative_prompt  # the engine's negative prompt
    assert [r.success for r in results] == [True, True, True]
    assert [r.attempts for r in results] == [1, 3, 4]
    # Seeds are deterministic per scene and rung, and recorded.
    manifest = store.load()
    assert manifest is not None
    record = manifest.scenes[2]
    assert [a.seed for a in record.attempts] == [attempt_seed(record.fingerprint, n, 0) for n in (1, 2, 3, 4)]
    assert [a.seed for a in results[2].attempt_log] == [req.seed for s, _, req in gen.calls if s == 2]
    assert [a.params["width"] for a in record.attempts] == [96, 96, 64, 64]
    assert all(a.prompt_id and a.server == "fake" and a.duration_s is not None for a in record.attempts)
    assert record.attempts[0].error_type == "ComfyUIExecutionError" and record.attempts[-1].error is None


async def test_results_manifest_and_scene_mutation(tmp_path: Path) -> None:
    gen = ScriptedGenerator(script=lambda scene, rung, _: ComfyUIExecutionError("always") if scene == 1 else None)
    scenes = make_scenes(3)
    before = words(scenes)
    events: list[ManagerEvent] = []
    _, results, store = await run(gen, scenes, tmp_path, events=events)
    assert [r.success for r in results] == [True, False, True]
    assert results[1].failure_reason is not None and "always" in results[1].failure_reason
    assert results[1].merged_into == 0 and results[1].attempts == 4
    assert len(scenes) == 2 and words(scenes) == before
    assert scenes[0].video_clip_path == str(results[0].clip_path)
    assert results[0].clip_path is not None and results[0].clip_path.is_relative_to(tmp_path / "post" / "clips")
    manifest = store.load()
    assert manifest is not None
    assert [s.status for s in manifest.scenes] == ["done", "failed", "done"]
    assert manifest.scenes[1].merged_into == 0 and manifest.scenes[0].merged_from == [1]
    assert [f.source_indices for f in manifest.final_scenes] == [[0, 1], [2]]
    assert [line_text(line) for f in manifest.final_scenes for line in f.text_lines] == before
    assert manifest.final_scenes[0].clip_path == scenes[0].video_clip_path
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("SceneStarted") == 3 and kinds.count("SceneDone") == 2 and kinds.count("SceneFailed") == 1
    assert all(e.total_scenes == 3 for e in events)
    assert isinstance(events[1], AttemptStarted) and events[1].rung == 1


# --- error sorting ---------------------------------------------------------------------------------------


async def test_validation_error_blocks_that_kind_and_the_scene_goes_on_with_another(tmp_path: Path) -> None:
    def script(scene: int, rung: int, request: ClipRequest) -> BaseException | None:
        if request.model == "full":
            return ComfyUIValidationError("ckpt_name: ltx-2-19b-dev-fp8.safetensors not in list", server="fake")
        return None

    gen = ScriptedGenerator(script=script)
    scenes = make_scenes(3)
    _, results, _ = await run(gen, scenes, tmp_path)
    # Scene 0 hit it once; nobody tried the full model again: every scene went to the distilled rung.
    assert [(s, r) for s, r, _ in gen.calls] == [(0, 1), (0, 4), (1, 4), (2, 4)]
    assert all(r.success for r in results)
    assert results[0].attempt_log[0].action == "block_kind"


async def test_a_permanent_loader_error_is_not_retried_on_every_rung_of_every_scene(tmp_path: Path) -> None:
    def script(scene: int, rung: int, request: ClipRequest) -> BaseException | None:
        return ComfyUIPermanentExecutionError("LTXVModelLoader: header too large", server="fake")

    gen = ScriptedGenerator(script=script)
    scenes = make_scenes(6)
    before = words(scenes)
    _, results, store = await run(gen, scenes, tmp_path)
    # One try per job kind (full, distilled), not 4 rungs x 6 scenes = 24.
    assert [(s, r) for s, r, _ in gen.calls] == [(0, 1), (0, 4)]
    assert not any(r.success for r in results)
    assert all(r.failure_reason and "header too large" in r.failure_reason for r in results)
    assert words(scenes) == before
    manifest = store.load()
    assert manifest is not None and {s.failure_kind for s in manifest.scenes} == {"fatal"}


async def test_a_bug_fails_at_once_with_its_message(tmp_path: Path) -> None:
    gen = ScriptedGenerator(script=lambda scene, rung, _: TypeError("unexpected keyword 'cfg'") if scene == 0 else None)
    _, results, _ = await run(gen, make_scenes(2), tmp_path)
    assert results[0].attempts == 1 and results[0].failure_reason == "TypeError: unexpected keyword 'cfg'"
    assert results[1].success


async def test_oom_frees_vram_and_goes_down_a_rung(tmp_path: Path) -> None:
    gen = ScriptedGenerator(
        script=lambda scene, rung, _: ComfyUIOutOfMemoryError("OOM", server="fake") if rung == 1 else None
    )
    _, results, _ = await run(gen, make_scenes(1), tmp_path)
    assert gen.frees == 1
    assert [(s, r) for s, r, _ in gen.calls] == [(0, 1), (0, 2)] and results[0].success
    assert results[0].attempt_log[0].action == "free_and_next"


async def test_timeout_goes_down_a_rung(tmp_path: Path) -> None:
    gen = ScriptedGenerator(
        script=lambda scene, rung, _: ComfyUITimeoutError("late", server="fake") if rung < 3 else None
    )
    _, results, _ = await run(gen, make_scenes(1), tmp_path)
    assert [r for _, r, _ in gen.calls] == [1, 2, 3] and results[0].success


async def test_dropped_connection_reattaches_to_the_same_prompt(tmp_path: Path) -> None:
    gen = ScriptedGenerator(
        script=lambda scene, rung, _: ComfyUIConnectionError("reset", server="fake") if rung == 1 else None
    )
    _, results, _ = await run(gen, make_scenes(1), tmp_path)
    assert gen.reattached == ["fake-1"]
    assert len(gen.calls) == 1 and results[0].success
    assert results[0].attempt_log[0].reattached and results[0].attempt_log[0].prompt_id == "fake-1"


async def test_dropped_connection_without_reattach_retries_the_same_rung_once(tmp_path: Path) -> None:
    count = {"n": 0}

    def script(scene: int, rung: int, request: ClipRequest) -> BaseException | None:
        count["n"] += 1
        return ComfyUIConnectionError("reset") if count["n"] <= 2 else None

    gen = PlainGenerator(script=script)
    _, results, _ = await run(gen, make_scenes(1), tmp_path)
    assert [r for _, r, _ in gen.calls] == [1, 1, 2]
    assert results[0].success


async def test_invalid_clip_goes_down_a_rung(tmp_path: Path) -> None:
    class ZeroByte(ScriptedGenerator):
        async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
            result = await self._make(request, hooks)
            if len(self.calls) == 1:
                request.output_path.write_bytes(b"")
            return result

    gen = ZeroByte()
    _, results, _ = await run(gen, make_scenes(1), tmp_path)
    assert results[0].success and results[0].attempts == 2
    assert results[0].attempt_log[0].error_type == "InvalidClipError"


async def test_a_failing_server_is_given_up_on(tmp_path: Path) -> None:
    def lost(scene: int, rung: int, _: object) -> Exception:
        gen.healthy = len(gen.calls) < 3  # the third loss takes the server down: its re-checks fail
        return PromptLostError("restarted", server="fake")

    gen = ScriptedGenerator(script=lost)
    scenes = make_scenes(5)
    before = words(scenes)
    settings = small_settings(video_server_max_failures=3, comfyui_bench_seconds=0)
    _, results, store = await run(gen, scenes, tmp_path, settings=settings)
    assert len(gen.calls) == 3  # not 4 per scene, and nothing while the server was benched
    assert all(not r.success for r in results)
    assert results[4].failure_reason is not None and "no video server left" in results[4].failure_reason
    assert len(scenes) == 1 and scenes[0].type == "text_only" and words(scenes) == before
    manifest = store.load()
    assert manifest is not None and manifest.scenes[4].failure_kind == "unavailable"


async def test_a_server_error_counts_but_a_success_resets_the_count(tmp_path: Path) -> None:
    flaky = {0, 2}  # PromptLost on scenes 0 and 2's first attempt only: never three in a row
    gen = ScriptedGenerator(
        script=lambda scene, rung, _: PromptLostError("x") if scene in flaky and rung == 1 else None
    )
    _, results, _ = await run(gen, make_scenes(4), tmp_path, settings=small_settings(video_server_max_failures=2))
    assert all(r.success for r in results)


# --- limits and the health check ------------------------------------------------------------------------------


async def test_at_most_max_clips_and_scenes_without_mode_stay(tmp_path: Path) -> None:
    gen = ScriptedGenerator()
    scenes = make_scenes(4)
    scenes[1].video_mode = None
    _, results, _ = await run(gen, scenes, tmp_path, settings=small_settings(video_max_clips_per_post=2))
    assert sorted(s for s, _, _ in gen.calls) == [0, 2]
    assert [r.success for r in results] == [True, False, True, False]
    assert results[1].skipped and results[3].skipped
    assert results[3].failure_reason is not None and "VIDEO_MAX_CLIPS_PER_POST" in results[3].failure_reason
    assert len(scenes) == 4  # skipped scenes are not merged away


async def test_failed_health_check_skips_every_clip(tmp_path: Path) -> None:
    gen = ScriptedGenerator(healthy=False)
    scenes = make_scenes(3)
    events: list[ManagerEvent] = []
    _, results, store = await run(gen, scenes, tmp_path, events=events)
    assert gen.calls == []
    assert all(r.skipped and not r.success for r in results)
    assert len(scenes) == 3 and all(s.video_clip_path is None for s in scenes)
    assert sum(isinstance(e, SceneSkipped) for e in events) == 3
    manifest = store.load()
    assert manifest is not None and [s.status for s in manifest.scenes] == ["skipped"] * 3


async def test_missing_init_image_fails_that_scene_only(tmp_path: Path) -> None:
    gen = ScriptedGenerator()
    scenes = make_scenes(2)
    scenes[0].video_mode = "i2v"
    scenes[0].video_init_image = str(tmp_path / "missing.png")
    _, results, _ = await run(gen, scenes, tmp_path)
    assert not results[0].success and results[0].failure_reason is not None and "missing" in results[0].failure_reason
    assert results[1].success and [s for s, _, _ in gen.calls] == [1]


# --- several servers ---------------------------------------------------------------------------------------


async def test_several_servers_work_at_once_one_job_each(tmp_path: Path) -> None:
    members = [ScriptedGenerator(name="a"), ScriptedGenerator(name="b")]
    both = asyncio.Barrier(2)  # each job waits for one on the other server: they must run at the same time

    async def slow(self: ScriptedGenerator, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
        async with asyncio.timeout(30):
            await both.wait()
        return await ScriptedGenerator._make(self, request, hooks)

    for member in members:
        member.generate_t2v = slow.__get__(member)  # type: ignore[method-assign]
    active = {"now": 0, "max": 0}
    events: list[ManagerEvent] = []

    def on_event(event: ManagerEvent) -> None:
        events.append(event)
        if isinstance(event, AttemptStarted):
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        elif isinstance(event, SceneDone | SceneFailed):
            active["now"] -= 1

    manager = VideoManager(comfy_client=Pool(members), prompt_engine=None, config=small_settings())
    results = await manager.generate_all_clips(make_scenes(4), "daily", "p", output_dir=tmp_path, on_event=on_event)
    assert all(r.success for r in results)
    assert len(members[0].calls) >= 1 and len(members[1].calls) >= 1
    assert members[0].max_running == 1 and members[1].max_running == 1
    assert active["max"] == 2


async def test_validation_on_one_server_leaves_the_kind_to_the_other(tmp_path: Path) -> None:
    bad = ScriptedGenerator(name="bad", script=lambda scene, rung, _: ComfyUIValidationError("missing node"))
    good = ScriptedGenerator(name="good")
    manager = VideoManager(comfy_client=Pool([bad, good]), prompt_engine=None, config=small_settings())
    scenes = make_scenes(4)
    results = await manager.generate_all_clips(scenes, "daily", "p", output_dir=tmp_path)
    assert len(bad.calls) == 1  # the post stopped sending that kind of job there
    assert all(r.success for r in results)  # the scene that hit it went on on the other server


# --- cancellation -----------------------------------------------------------------------------------------


async def test_cancel_cancels_the_job_and_leaves_a_resumable_manifest(tmp_path: Path) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    class Holding(ScriptedGenerator):
        async def generate_t2v(self, request: ClipRequest, hooks: GenerationHooks | None = None) -> ClipResult:
            if hooks and hooks.on_submitted:
                hooks.on_submitted(self.name, "held-1")
            started.set()
            await release.wait()
            raise AssertionError("never released")

    gen = Holding()
    scenes = make_scenes(2)
    task = asyncio.create_task(run(gen, scenes, tmp_path))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gen.cancelled == ["held-1"]
    manifest = ManifestStore(tmp_path / "post" / "manifest.json").load()
    assert manifest is not None
    assert manifest.scenes[0].status == "pending"
    assert manifest.scenes[0].pending is not None and manifest.scenes[0].pending.prompt_id == "held-1"
    assert words(scenes) == ["줄 0-1", "줄 0-2", "줄 1-1", "줄 1-2"]


async def test_sigterm_cancels_the_task(tmp_path: Path) -> None:
    async def main() -> None:
        remove = install_sigterm_cancel(asyncio.current_task())  # type: ignore[arg-type]
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(5)
        finally:
            remove()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(main())


# --- pipelining and the checkpoint gate ------------------------------------------------------------------------


class HoldingGenerator(ScriptedGenerator):
    """A ScriptedGenerator whose (scene, rung) in `holds` waits for its event before making the clip."""

    def __init__(self, name: str, script: Script, holds: dict[tuple[int, int], asyncio.Event], slots: int) -> None:
        super().__init__(name=name, script=script)
        self.holds = holds
        self.slots = slots

    async def _make(self, request: ClipRequest, hooks: GenerationHooks | None) -> ClipResult:
        rung = int(request.output_path.stem.split("_r")[1].split("_")[0])
        hold = self.holds.get((scene_of(request), rung))
        if hold is not None:
            await asyncio.wait_for(hold.wait(), timeout=10)
        return await super()._make(request, hooks)


def fails_until_distilled(scene: int) -> Script:
    def script(s: int, rung: int, request: ClipRequest) -> BaseException | None:
        return ComfyUIExecutionError("boom") if s == scene and rung < 4 else None
    return script


async def test_slots_are_declared_by_the_generator() -> None:
    assert slots_of(LocalBackend()) == 1
    assert slots_of(ScriptedGenerator()) == 1
    assert slots_of(HoldingGenerator("x", fails_until_distilled(0), {}, slots=2)) == 2


async def test_one_server_two_slots_never_queues_distilled_behind_full_work(tmp_path: Path) -> None:
    gen = HoldingGenerator("a", fails_until_distilled(0), {}, slots=2)
    _, results, _ = await run(gen, make_scenes(4), tmp_path)
    assert all(r.success for r in results)
    models = [request.model for _, _, request in gen.calls]
    assert models.index("distilled") == len(models) - 1  # distilled last: one switch
    assert gen.max_running == 2  # pipelined: two attempts at once on the one server
    order = [(rung, scene) for scene, rung, _ in gen.calls]
    assert order == sorted(order)  # breadth-first by (rung, story order)


async def test_an_idle_server_starts_distilled_while_full_work_runs_elsewhere(tmp_path: Path) -> None:
    release = asyncio.Event()
    holds = {(1, 1): release}  # scene 1's first attempt runs until scene 0's distilled attempt has started
    script = fails_until_distilled(0)
    members = [HoldingGenerator("a", script, holds, slots=1), HoldingGenerator("b", script, holds, slots=1)]

    def on_event(event: ManagerEvent) -> None:
        if isinstance(event, AttemptStarted) and event.rung == 4:
            release.set()

    manager = VideoManager(comfy_client=Pool(members), prompt_engine=None, config=small_settings())  # type: ignore[arg-type]
    results = await manager.generate_all_clips(make_scenes(2), "daily", "p1", output_dir=tmp_path / "post",
                                               on_event=on_event)
    assert all(r.success for r in results)
    assert release.is_set()
    distilled = [m.name for m in members for s, rung, _ in m.calls if rung == 4]
    held = [m.name for m in members for s, rung, _ in m.calls if (s, rung) == (1, 1)]
    assert distilled != held  # the distilled job went to the other, idle server


# --- many posts in one run ------------------------------------------------------------------------------------


async def test_a_batch_of_posts_shares_the_servers_breadth_first_each_with_its_own_manifest(tmp_path: Path) -> None:
    from ai_worker.orchestration.conductor import PostJob

    # Scene 1 of each post fails twice; every post's first attempts still come before any retry.
    script: Script = lambda scene, rung, _: ComfyUIExecutionError("x") if scene == 1 and rung < 3 else None  # noqa: E731
    gen = ScriptedGenerator(script=script)
    posts = [make_scenes(3), make_scenes(2)]
    posts[1][0].text_lines = ["다른 글"]  # a different post's scenes
    events: list[ManagerEvent] = []
    jobs = [PostJob(scenes, "daily", f"post{n}", tmp_path / f"post{n}",
                    store=ManifestStore(tmp_path / f"post{n}" / "m.json"), on_event=events.append)
            for n, scenes in enumerate(posts)]
    results = await VideoManager(gen, None, small_settings()).generate_batch(jobs)
    assert [[r.success for r in post] for post in results] == [[True] * 3, [True] * 2]
    rungs = [r for _, r, _ in gen.calls]
    assert rungs == sorted(rungs)  # every rung-1 attempt of both posts, then rung 2, then rung 3
    assert rungs.count(1) == 5
    for n in range(2):
        manifest = ManifestStore(tmp_path / f"post{n}" / "m.json").load()
        assert manifest is not None and manifest.post_id == f"post{n}"
        assert all(Path(s.clip_path or "").is_relative_to(tmp_path / f"post{n}") for s in manifest.scenes)
    assert {e.post_id for e in events} == {"post0", "post1"}


async def test_a_job_that_never_reached_its_server_moves_and_the_server_comes_back_after_its_bench(
    tmp_path: Path,
) -> None:
    from ai_worker.core.errors import ComfyUINotSubmittedError

    failed_once: list[int] = []

    def flaky(scene: int, rung: int, request: ClipRequest) -> BaseException | None:
        if not failed_once:
            failed_once.append(scene)
            return ComfyUINotSubmittedError("connect refused", server="a")
        return None

    a, b = ScriptedGenerator(name="a", script=flaky), ScriptedGenerator(name="b")
    settings = small_settings(comfyui_bench_seconds=0)  # re-checked at once: the health check says it is back
    manager = VideoManager(comfy_client=Pool([a, b]), prompt_engine=None, config=settings)
    results = await manager.generate_all_clips(make_scenes(6), "daily", "p", output_dir=tmp_path)
    assert all(r.success for r in results)
    moved = results[failed_once[0]].attempt_log
    assert [(x.rung, x.action) for x in moved] == [(1, "moved"), (1, None)]  # no rung used up
    assert len(a.calls) > 1  # benched, re-checked, and back in service for the same post
