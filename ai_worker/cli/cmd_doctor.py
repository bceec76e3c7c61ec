"""`wagglebot-video doctor`: check FFmpeg, every ComfyUI server and Ollama, and say what to fix."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ai_worker.cli.console import EXIT_BAD_SETTINGS, make_console, settings_error_line, setup_logging
from ai_worker.doctor.checks import Check, DoctorReport, run_doctor
from ai_worker.doctor.report import report_json
from config.settings import load_settings

EXIT_FAILED = 1


def _status(check: Check) -> Text:
    if check.ok:
        return Text("ok", style="green")
    if check.optional:
        return Text("warn", style="yellow")
    return Text("FAIL", style="bold red")


def report_table(report: DoctorReport) -> Table:
    """One row per check; the fix column is filled only where something is wrong."""
    table = Table(title="wagglebot-video doctor", show_lines=False)
    table.add_column("", no_wrap=True)
    table.add_column("check")
    table.add_column("detail", ratio=3)
    table.add_column("what to do", ratio=2)
    for check in report.checks:
        # Text() keeps details such as "[1, 2]" from being read as rich markup.
        table.add_row(_status(check), Text(check.name), Text(check.detail), Text("" if check.ok else check.fix))
    return table


def summary(report: DoctorReport) -> Text:
    failures, warnings = len(report.failures), len(report.warnings)
    if report.ok:
        text = "Everything needed is in place."
        if warnings:
            text += f" {warnings} warning(s) above."
        return Text(text, style="green")
    return Text(f"{failures} problem(s) to fix, {warnings} warning(s).", style="bold red")


def doctor(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Also run one tiny job of the workflow set on every server.")
    ] = False,
) -> None:
    """Check FFmpeg, every ComfyUI server (version, node packs, model files and their sizes, VRAM), the shared
    output folder and Ollama; exit 1 when something fails."""
    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    # Not `settings_or_exit`: with --json the error must be JSON on stdout too.
    try:
        settings = load_settings()
    except ValueError as exc:
        error = "settings are invalid: " + settings_error_line(exc).removeprefix("settings: ")
        if as_json:
            console.print_json(json.dumps({"ok": False, "error": error}))
        else:
            console.print(Text(error, style="bold red"), soft_wrap=True)
        raise typer.Exit(EXIT_BAD_SETTINGS) from None
    with tempfile.TemporaryDirectory(prefix="wagglebot-doctor-") as scratch:
        report = asyncio.run(run_doctor(settings, smoke_dir=Path(scratch) if smoke else None))
    if as_json:
        console.print_json(json.dumps(report_json(report)))
    else:
        console.print(report_table(report))
        console.print(summary(report))
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
