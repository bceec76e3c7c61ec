"""Shared terminal output for the CLI commands: one rich console, logging through rich.

Rich reads ``[...]`` in printed strings as markup, so user text (file names, post text, server answers) is always
passed through `rich.markup.escape` or printed as `rich.text.Text`; ``[brackets3].json`` must print as it is.
"""

from __future__ import annotations

import logging
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from config.settings import Settings, load_settings

EXIT_BAD_SETTINGS = 2


def make_console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def setup_logging(console: Console, *, verbose: bool = False) -> None:
    """Route the library's logging through rich; warnings by default, everything with --verbose."""
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(name)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "websockets", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def settings_error_line(exc: ValueError) -> str:
    """A settings error in one line that names each bad setting as the environment spells it."""
    if isinstance(exc, ValidationError):
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            given = f" (got {error['input']!r:.80})" if name and "input" in error else ""
            problems.append(f"{name}: {error['msg']}{given}" if name else error["msg"])
        return "settings: " + "; ".join(problems)
    return "settings: " + " ".join(str(exc).split())


def settings_or_exit(console: Console, **overrides: Any) -> Settings:
    """The settings, or one line naming each bad setting on `console` and exit 2 (bad input)."""
    try:
        return load_settings(**overrides)
    except ValueError as exc:
        console.print(f"[red]error:[/] {escape(settings_error_line(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_SETTINGS) from exc
