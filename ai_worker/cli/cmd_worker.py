"""`wagglebot-video worker [--backend auto|comfyui|local]`: run the service's workflows and activities against
the Temporal server at TEMPORAL_ADDRESS until stopped (Ctrl-C or SIGTERM). Any number of workers, on any
machines, may run at once: they share every ComfyUI server through one pool, and must see the same output
root."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import typer
from rich.markup import escape

from ai_worker.cli.cmd_run import Backend
from ai_worker.cli.console import make_console, settings_or_exit, setup_logging
from ai_worker.cli.preflight import EXIT_INTERRUPTED, EXIT_NO_CLIPS
from ai_worker.cli.signals import install_sigterm_cancel
from config.settings import Settings

logger = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    # Imported here, not at the top: building the CLI must not load the Temporal SDK for every command.
    from ai_worker.service.client import connect
    from ai_worker.service.worker import build_worker

    current = asyncio.current_task()
    if current is not None:
        install_sigterm_cancel(current)
    client = await connect(settings)
    async with build_worker(client, settings):
        await asyncio.Event().wait()  # until cancelled (Ctrl-C, SIGTERM)


def worker(
    backend: Annotated[
        Backend | None,
        typer.Option(help="auto: ComfyUI if healthy, else local. \\[default: VIDEO_BACKEND, else auto]"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    from ai_worker.service.client import ServiceUnavailableError

    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    overrides: dict[str, Any] = {"video_backend": backend.value} if backend is not None else {}
    settings = settings_or_exit(console, video_gen_enabled=True, **overrides)
    console.print(f"worker: task queue {escape(settings.temporal_task_queue)} on {escape(settings.temporal_address)} "
                  f"(namespace {escape(settings.temporal_namespace)}), output root as each post says", soft_wrap=True)
    try:
        asyncio.run(serve(settings))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        console.print("[yellow]worker stopped[/] (its running clips were let finish, up to VIDEO_GEN_TIMEOUT)")
        raise typer.Exit(EXIT_INTERRUPTED) from exc
    except ServiceUnavailableError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_NO_CLIPS) from exc
