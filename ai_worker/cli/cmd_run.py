"""`wagglebot-video run POST.json [MORE.json | FOLDER ...]`: the whole video stage for one or many posts,
sharing every server, with a progress line per post and one summary."""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ai_worker.cli.cmd_preview import finish_run
from ai_worker.cli.console import make_console, settings_or_exit, setup_logging
from ai_worker.cli.preflight import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_CLIPS,
    no_clip_reason,
    output_folder_problem,
    remove_empty_folders,
)
from ai_worker.cli.signals import install_sigterm_cancel
from ai_worker.core.errors import GeneratorUnavailableError, InputError, RunLockedError, WaggleVideoError
from ai_worker.model.post_file import load_post
from ai_worker.orchestration.events import (
    AttemptFailed,
    AttemptStarted,
    ManagerEvent,
    SceneDone,
    SceneFailed,
    SceneSkipped,
)
from ai_worker.orchestration.events import Progress as JobProgress
from ai_worker.pipeline.backend_choice import BackendChoice
from ai_worker.pipeline.content_processor import PostInput, VideoStageResult, process_posts
from ai_worker.preview.report import write_index
from config.settings import Settings

logger = logging.getLogger(__name__)

class Backend(StrEnum):
    auto = "auto"
    comfyui = "comfyui"
    local = "local"


class RunDisplay:
    """A rich progress display fed by the manager's events: one bar per post, one for the latest job."""

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
        self._posts: dict[str, TaskID] = {}
        self._job: TaskID | None = None

    def on_backend(self, choice: BackendChoice) -> None:
        self.console.print(f"[bold]backend:[/] {choice.kind} — {escape(choice.reason)}", soft_wrap=True)

    def _post(self, event: ManagerEvent) -> TaskID:
        task = self._posts.get(event.post_id)
        if task is None:
            task = self.progress.add_task(f"post {escape(event.post_id)}", total=event.total_scenes)
            self._posts[event.post_id] = task
        return task

    def on_event(self, event: ManagerEvent) -> None:
        post = self._post(event)
        if self._job is None:
            self._job = self.progress.add_task("clip", total=None)
        where = f"{escape(event.post_id)} scene {event.scene_index}"
        match event:
            case AttemptStarted(label=label, server=server):
                self.progress.reset(self._job, description=f"{where} · {label} · {escape(server)}", total=None)
            case JobProgress(progress=progress):
                self.progress.update(self._job, total=progress.maximum, completed=progress.value)
            case AttemptFailed(rung=rung, message=message, action=action):
                self.console.print(f"[yellow]{where}, try {rung}:[/] {escape(message)} → {action}")
            case SceneDone() | SceneSkipped():
                self.progress.advance(post)
            case SceneFailed(reason=reason):
                self.progress.advance(post)
                self.console.print(f"[red]{where} failed:[/] {escape(reason)} (its lines move to a neighbour)")
            case _:
                pass


def summary_table(results: list[VideoStageResult]) -> Table:
    """One row per post: its scenes and what became of them. A post id is never cut (it wraps), so no two rows
    read the same however narrow the terminal; each manifest's path is printed below the table."""
    table = Table(title="summary", show_lines=False)
    table.add_column("post", overflow="fold", ratio=1)
    for column in ("scenes", "clips made", "reused", "failed (merged)", "static"):
        table.add_column(column, no_wrap=True)
    for result in results:
        made = sum(1 for r in result.results if r.success and not r.reused)
        reused = sum(1 for r in result.results if r.success and r.reused)
        failed = sum(1 for r in result.results if not r.success and not r.skipped)
        static = sum(1 for r in result.results if r.skipped)
        table.add_row(escape(result.post_id), str(len(result.results)), str(made), str(reused), str(failed),
                      str(static))
    return table


def expand_post_paths(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Post files from the arguments: files as given, folders as their ``*.json`` files in name order.
    Returns the files and a one-line error for each argument that gives none."""
    files: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                errors.append(f"{path}: a folder with no .json post files")
            files.extend(found)
        else:
            files.append(path)
    return files, errors


def load_posts(files: list[Path], console: Console) -> tuple[list[PostInput], int]:
    """Every post that loads (each bad one is one error line); returns them and how many did not load."""
    inputs: list[PostInput] = []
    bad = 0
    seen: dict[str, Path] = {}
    for file in files:
        try:
            post, errors = load_post(file)
        except InputError as exc:
            console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
            bad += 1
            continue
        if post.post_id in seen:
            console.print(f"[red]error:[/] {escape(str(file))}: post_id {escape(post.post_id)!r} is also the post_id "
                          f"of {escape(str(seen[post.post_id]))}; skipped", soft_wrap=True)
            bad += 1
            continue
        seen[post.post_id] = file
        # Each message says what became of the scene (kept as text-only, text-to-video, static, left out).
        for note in [*([post.mood_warning] if post.mood_warning else []), *map(str, errors)]:
            console.print(f"[yellow]warning:[/] {escape(note)}", soft_wrap=True)
        inputs.append(PostInput(post, list(errors)))
    return inputs, bad


async def run_stage(
    inputs: list[PostInput], out: Path, settings: Settings, display: RunDisplay | None, *,
    refresh_prompts: bool = False, retry_failed: bool = False, backend_chosen_by: str = "VIDEO_BACKEND",
) -> list[VideoStageResult]:
    current = asyncio.current_task()
    if current is not None:
        install_sigterm_cancel(current)
    return await process_posts(
        inputs,
        settings=settings,
        out_dir=out,
        on_event=display.on_event if display else None,
        on_backend=display.on_backend if display else None,
        refresh_prompts=refresh_prompts,
        retry_failed=retry_failed,
        backend_chosen_by=backend_chosen_by,
    )


def _fail(console: Console, message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def run(
    posts: Annotated[
        list[Path], typer.Argument(help="Post files (JSON), or folders of them.", show_default=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder; each post gets <out>/<post_id>/. \\[default: OUTPUT_DIR]"),
    ] = None,
    backend: Annotated[
        Backend | None,
        typer.Option(help="auto: ComfyUI if healthy, else local. \\[default: VIDEO_BACKEND, else auto]"),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Try again every scene an earlier run failed (not only those "
                           "that failed for reasons outside the scene, which are retried anyway).")
    ] = False,
    refresh_prompts: Annotated[
        bool, typer.Option("--refresh-prompts", help="Ask the LLM for new prompts even for scenes with saved ones "
                           "(their clips are made again).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
    preview: Annotated[bool, typer.Option("--preview", help="Also make preview.mp4 in each post's folder.")] = False,
) -> None:
    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    # The command runs the video stage on purpose, so it is enabled whatever VIDEO_GEN_ENABLED says.
    overrides: dict[str, Any] = {"video_backend": backend.value} if backend is not None else {}
    settings = settings_or_exit(console, video_gen_enabled=True, **overrides)
    out = out if out is not None else settings.output_dir
    files, arg_errors = expand_post_paths(posts)
    for error in arg_errors:
        console.print(f"[red]error:[/] {escape(error)}", soft_wrap=True)
    inputs, bad = load_posts(files, console)
    bad += len(arg_errors)
    if not inputs:
        raise typer.Exit(EXIT_BAD_INPUT)
    out_existed = out.exists()
    problem = output_folder_problem(out)  # before any work: prompts and downloads would be lost otherwise
    if problem is not None:
        raise _fail(console, problem, EXIT_BAD_INPUT)
    display = RunDisplay(console)
    try:
        with display.progress:
            results = asyncio.run(run_stage(inputs, out, settings, display, refresh_prompts=refresh_prompts,
                                            retry_failed=retry_failed,
                                            backend_chosen_by="--backend" if backend is not None else "VIDEO_BACKEND"))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        console.print("[yellow]interrupted:[/] jobs in flight were cancelled; run the same command again to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from exc
    except (InputError, RunLockedError) as exc:  # found before any work: a busy post is refused, not a crash
        raise _fail(console, str(exc), EXIT_BAD_INPUT) from exc
    except GeneratorUnavailableError as exc:
        if not out_existed:
            remove_empty_folders(out)  # nothing was made: leave no empty --out behind
        raise _fail(console, str(exc), EXIT_NO_CLIPS) from exc
    except WaggleVideoError as exc:
        raise _fail(console, str(exc), EXIT_FAILED) from exc
    console.print(summary_table(results))
    for result in results:
        console.print(f"manifest: {escape(str(result.manifest_path))}", soft_wrap=True)
        # The report (and preview) are written whatever the outcome: they are how a user sees what went wrong.
        finish_run(console, result.output_dir, settings, preview=preview)
    if len(results) > 1:
        index = write_index(out, [result.output_dir for result in results])
        console.print(f"index: {escape(str(index))}", soft_wrap=True)
    reasons = [no_clip_reason(result) for result in results]
    for result, reason in zip(results, reasons, strict=True):
        if reason is not None and len(results) > 1:
            console.print(f"[yellow]post {escape(result.post_id)}:[/] {escape(reason)}", soft_wrap=True)
    if all(reason is not None for reason in reasons):
        raise _fail(console, next(r for r in reasons if r is not None), EXIT_NO_CLIPS)
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)
