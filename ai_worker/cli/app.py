"""`wagglebot-video`: the command line (the edge: settings are built here and `asyncio.run` is called here)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated

import typer

from ai_worker.cli.cmd_doctor import doctor
from ai_worker.cli.cmd_preview import preview
from ai_worker.cli.cmd_prompts import prompts
from ai_worker.cli.cmd_run import run
from ai_worker.cli.cmd_score import score


def _register_service(app: typer.Typer) -> None:
    """`submit`, `status`, `cancel` and `worker` when the `service` extra (temporalio) is installed."""
    if importlib.util.find_spec("temporalio") is None:  # no `service` extra: the commands are not offered
        return
    from ai_worker.cli.cmd_submit import cancel, status, submit
    from ai_worker.cli.cmd_worker import worker

    app.command("submit", help="Send posts to the service (Temporal); --wait for their results.")(submit)
    app.command("status", help="Posts in the service: scenes done, and each running clip's rung and server.")(status)
    app.command("cancel", help="Stop a post in the service, and its ComfyUI jobs.")(cancel)
    app.command("worker", help="Run the service's workflows and activities (any number, on any machines).")(worker)


def _print_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"wagglebot-video {package_version('wagglebot-video')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("wagglebot-video (not installed: version unknown)")
        raise typer.Exit()


def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Options of the program itself (before the command)."""


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="wagglebot-video",
        help="Turn the scenes of a Korean community-post script into video clips (LTX-2 on ComfyUI, or FFmpeg).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(_options)
    app.command("run", help="Run Phase 4.5, 6 and 7 on a post file and write clips and manifest.json.")(run)
    app.command("preview", help="Make OUT_DIR/<post>/preview.mp4 (9:16, subtitles, narration) and report.html.")(
        preview
    )
    app.command("prompts", help="Phase 4.5 and 6 only: print each scene's prompts and where they came from.")(prompts)
    app.command("score", help="Score images for image-to-video (score, category, reasons).")(score)
    app.command("doctor", help="Check FFmpeg, every ComfyUI server and Ollama, and say what to fix.")(doctor)
    _register_service(app)
    return app


def main() -> None:
    try:
        build_app()()
    except SystemExit as done:
        if "temporalio" not in sys.modules:  # only a service command loads it
            raise
        # The Temporal SDK's native runtime can abort the process (SIGABRT) while the interpreter finalizes
        # after a client connected, turning a finished command's exit code into 134. The command's work and
        # output are complete here, so leave without finalizing, with the code the command chose.
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if done.code is not None and not isinstance(done.code, int):
            print(done.code, file=sys.stderr)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
