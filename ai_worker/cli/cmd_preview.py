"""`wagglebot-video preview OUT_DIR/<post>`: the post as a 9:16 mp4, and `report.html`; and the end of `run`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ai_worker.cli.console import make_console, settings_or_exit, setup_logging
from ai_worker.core.errors import InputError, WaggleVideoError
from ai_worker.model.styles import load_video_styles
from ai_worker.preview.render import PreviewResult, build_preview
from ai_worker.preview.report import write_report
from config.settings import Settings

EXIT_BAD_INPUT = 2


async def _preview_and_report(folder: Path, settings: Settings, console: Console, *, preview: bool) -> None:
    result: PreviewResult | None = None
    if preview:
        styles = load_video_styles(settings.video_styles_path)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console)
        task = progress.add_task("preview", total=None)

        def step(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total, description=f"preview · {escape(label)}")

        with progress:
            result = await build_preview(folder, settings, styles, on_progress=step)
    report = await write_report(folder, settings, preview=result)
    if result is not None:
        console.print(f"preview: {escape(str(result.path))} ({result.plan.seconds:.1f} s of video, built in "
                      f"{result.build_seconds:.1f} s)", soft_wrap=True)
        for note in result.notes:
            console.print(f"[yellow]preview:[/] {escape(note)}", soft_wrap=True)
        for picture in result.pictures:
            if picture.how == "card":
                console.print(f"[yellow]scene {picture.scene_index}:[/] shown as a card "
                              f"({escape(picture.card_reason or '')})", soft_wrap=True)
    console.print(f"report: {escape(str(report))}", soft_wrap=True)


def finish_run(console: Console, folder: Path, settings: Settings, *, preview: bool) -> None:
    """What every `run` does last: the preview when asked, the report (the run's counts are already in the
    manifest, written under the post's lock). A failure here is reported but does not undo the run."""
    try:
        asyncio.run(_preview_and_report(folder, settings, console, preview=preview))
    except (WaggleVideoError, OSError) as exc:
        console.print(f"[red]report/preview:[/] {escape(str(exc))}", soft_wrap=True)


def preview(
    folder: Annotated[Path, typer.Argument(help="A post's output folder (holds manifest.json).", show_default=False)],
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    settings = settings_or_exit(console)
    started = time.monotonic()
    try:
        asyncio.run(_preview_and_report(folder, settings, console, preview=True))
    except KeyboardInterrupt as exc:
        console.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from exc
    except InputError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except (WaggleVideoError, OSError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(f"done in {time.monotonic() - started:.1f} s")
