"""Shared terminal output for the CLI commands: one rich console, logging through rich."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


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
