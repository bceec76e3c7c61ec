"""`wagglebot-video run POST.json`: the whole video stage for one post, with a progress display."""

from __future__ import annotations

import asyncio
import logging
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ai_worker.cli.cmd_preview import finish_run
from ai_worker.cli.console import make_console, settings_error_line, setup_logging
from ai_worker.cli.preflight import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_CLIPS,
    no_clip_reason,
    output_folder_problem,
)
from ai_worker.errors import GeneratorUnavailableError, InputError, PostFileError, WaggleVideoError
from ai_worker.pipeline.backend_choice import BackendChoice
from ai_worker.pipeline.content_processor import VideoStageResult, process_post
from ai_worker.pipeline.post_file import Post, load_post
from ai_worker.video.manager import (
    AttemptFailed,
    AttemptStarted,
    ManagerEvent,
    SceneDone,
    SceneFailed,
    SceneSkipped,
    install_sigterm_cancel,
)
from ai_worker.video.manager import Progress as JobProgress
from config.settings import Settings, load_settings

logger = logging.getLogger(__name__)


class Backend(StrEnum):
    auto = "auto"
    comfyui = "comfyui"
    local = "local"


class RunDisplay:
    """A rich progress display fed by the manager's events: one bar for scenes, one for the job in flight."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._scenes: TaskID | None = None
        self._job: TaskID | None = None

    def on_backend(self, choice: BackendChoice) -> None:
        self.console.print(f"[bold]backend:[/] {choice.kind} — {escape(choice.reason)}", soft_wrap=True)

    def on_event(self, event: ManagerEvent) -> None:
        if self._scenes is None:
            self._scenes = self.progress.add_task("scenes", total=event.total_scenes)
            self._job = self.progress.add_task("clip", total=None)
        assert self._job is not None
        match event:
            case AttemptStarted(scene_index=scene, rung=rung, label=label, server=server):
                self.progress.reset(
                    self._job, description=escape(f"scene {scene} · {label} · {server}"), total=None
                )
            case JobProgress(progress=progress):
                self.progress.update(self._job, total=progress.maximum, completed=progress.value)
            case AttemptFailed(scene_index=scene, rung=rung, message=message, action=action):
                self.console.print(f"[yellow]scene {scene}, try {rung}:[/] {escape(message)} → {action}")
            case SceneDone() | SceneSkipped():
                self.progress.advance(self._scenes)
            case SceneFailed(scene_index=scene, reason=reason):
                self.progress.advance(self._scenes)
                self.console.print(f"[red]scene {scene} failed:[/] {escape(reason)} (its lines move to a neighbour)")
            case _:
                pass


def summary_table(result: VideoStageResult) -> Table:
    table = Table(title=escape(f"post {result.post_id}"), show_lines=False)
    for column in ("#", "type", "mode", "clip", "lines"):
        table.add_column(column)
    for index, scene in enumerate(result.scenes):
        clip = Path(scene.video_clip_path).name if scene.video_clip_path else "—"
        table.add_row(str(index), scene.type, scene.video_mode or "—", escape(clip), str(len(scene.text_lines)))
    return table


async def run_stage(
    post: Post, errors: list[PostFileError], out: Path, settings: Settings, display: RunDisplay | None
) -> VideoStageResult:
    current = asyncio.current_task()
    if current is not None:
        install_sigterm_cancel(current)
    return await process_post(
        post,
        settings=settings,
        out_dir=out,
        input_errors=errors,
        on_event=display.on_event if display else None,
        on_backend=display.on_backend if display else None,
    )


def _fail(console: Console, message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def run(
    post: Annotated[Path, typer.Argument(help="The post file (JSON).", show_default=False)],
    out: Annotated[
        Path | None,
        # `\[` keeps typer's rich help from reading "[default: ...]" as markup (it would vanish).
        typer.Option("--out", help="Output folder (clips, manifest, image cache). \\[default: OUTPUT_DIR]"),
    ] = None,
    backend: Annotated[
        Backend | None,
        typer.Option(help="auto: ComfyUI if healthy, else local. \\[default: VIDEO_BACKEND, else auto]"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
    preview: Annotated[bool, typer.Option("--preview", help="Also make preview.mp4 in the post's folder.")] = False,
) -> None:
    run_started_at = time.time()
    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    try:
        # The command runs the video stage on purpose, so it is enabled whatever VIDEO_GEN_ENABLED says.
        overrides: dict[str, Any] = {"video_backend": backend.value} if backend is not None else {}
        settings = load_settings(video_gen_enabled=True, **overrides)
    except ValueError as exc:
        raise _fail(console, settings_error_line(exc), EXIT_BAD_INPUT) from exc
    out = out if out is not None else settings.output_dir
    try:
        loaded, errors = load_post(post)
    except InputError as exc:
        raise _fail(console, str(exc), EXIT_BAD_INPUT) from exc
    problem = output_folder_problem(out)
    if problem is not None:
        raise _fail(console, problem, EXIT_BAD_INPUT)
    for error in errors:
        console.print(f"[yellow]warning:[/] {escape(str(error))}", soft_wrap=True)
    display = RunDisplay(console)
    try:
        with display.progress:
            result = asyncio.run(run_stage(loaded, errors, out, settings, display))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        console.print("[yellow]interrupted:[/] jobs in flight were cancelled; run the same command again to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from exc
    except InputError as exc:
        raise _fail(console, str(exc), EXIT_BAD_INPUT) from exc
    except GeneratorUnavailableError as exc:
        raise _fail(console, str(exc), EXIT_NO_CLIPS) from exc
    except WaggleVideoError as exc:
        raise _fail(console, str(exc), EXIT_FAILED) from exc
    console.print(summary_table(result))
    console.print(f"manifest: {escape(str(result.manifest_path))}", soft_wrap=True)
    # The report (and preview) are written whatever the outcome: they are how a user sees what went wrong.
    finish_run(console, result.output_dir, settings, run_started_at=run_started_at, preview=preview)
    reason = no_clip_reason(result, max_clips=settings.video_max_clips_per_post)
    if reason is not None:
        raise _fail(console, reason, EXIT_NO_CLIPS)
