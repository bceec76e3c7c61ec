"""`wagglebot-video run POST.json`: the whole video stage for one post, with a progress display."""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ai_worker.cli.console import make_console, setup_logging
from ai_worker.cli.signals import install_sigterm_cancel
from ai_worker.errors import InputError, PostFileError, WaggleVideoError
from ai_worker.pipeline.content_processor import BackendChoice, VideoStageResult, process_post
from ai_worker.pipeline.post_file import Post, load_post
from ai_worker.video.events import (
    AttemptFailed,
    AttemptStarted,
    ManagerEvent,
    SceneDone,
    SceneFailed,
    SceneSkipped,
)
from ai_worker.video.events import Progress as JobProgress
from config.settings import Settings, load_settings

logger = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


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
        self.console.print(f"[bold]backend:[/] {choice.kind} — {choice.reason}")

    def on_event(self, event: ManagerEvent) -> None:
        if self._scenes is None:
            self._scenes = self.progress.add_task("scenes", total=event.total_scenes)
            self._job = self.progress.add_task("clip", total=None)
        assert self._job is not None
        match event:
            case AttemptStarted(scene_index=scene, rung=rung, label=label, server=server):
                self.progress.reset(self._job, description=f"scene {scene} · {label} · {server}", total=None)
            case JobProgress(progress=progress):
                self.progress.update(self._job, total=progress.maximum, completed=progress.value)
            case AttemptFailed(scene_index=scene, rung=rung, message=message, action=action):
                self.console.print(f"[yellow]scene {scene}, try {rung}:[/] {message} → {action}")
            case SceneDone() | SceneSkipped():
                self.progress.advance(self._scenes)
            case SceneFailed(scene_index=scene, reason=reason):
                self.progress.advance(self._scenes)
                self.console.print(f"[red]scene {scene} failed:[/] {reason} (its lines move to a neighbour)")
            case _:
                pass


def summary_table(result: VideoStageResult) -> Table:
    table = Table(title=f"post {result.post_id}", show_lines=False)
    for column in ("#", "type", "mode", "clip", "lines"):
        table.add_column(column)
    for index, scene in enumerate(result.scenes):
        clip = Path(scene.video_clip_path).name if scene.video_clip_path else "—"
        table.add_row(str(index), scene.type, scene.video_mode or "—", clip, str(len(scene.text_lines)))
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
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def run(
    post: Annotated[Path, typer.Argument(help="The post file (JSON).", show_default=False)],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (clips, manifest, image cache). [default: OUTPUT_DIR]")
    ] = None,
    backend: Annotated[Backend, typer.Option(help="auto: ComfyUI if healthy, else local.")] = Backend.auto,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    try:
        # The command runs the video stage on purpose, so it is enabled whatever VIDEO_GEN_ENABLED says.
        settings = load_settings(video_backend=backend.value, video_gen_enabled=True)
    except ValueError as exc:
        raise _fail(console, "settings: " + " ".join(str(exc).split()), EXIT_BAD_INPUT) from exc
    out = out if out is not None else settings.output_dir
    if out.exists() and not out.is_dir():
        raise _fail(console, f"--out {out}: exists and is not a folder", EXIT_BAD_INPUT)
    try:
        loaded, errors = load_post(post)
    except InputError as exc:
        raise _fail(console, str(exc), EXIT_BAD_INPUT) from exc
    for error in errors:
        console.print(f"[yellow]skipping:[/] {error}", soft_wrap=True)
    display = RunDisplay(console)
    try:
        with display.progress:
            result = asyncio.run(run_stage(loaded, errors, out, settings, display))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        console.print("[yellow]interrupted:[/] jobs in flight were cancelled; run the same command again to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from exc
    except InputError as exc:
        raise _fail(console, str(exc), EXIT_BAD_INPUT) from exc
    except WaggleVideoError as exc:
        raise _fail(console, str(exc), 1) from exc
    console.print(summary_table(result))
    console.print(f"manifest: {result.manifest_path}", soft_wrap=True)
