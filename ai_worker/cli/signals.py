"""Signals at the CLI edge: SIGTERM cancels the run as Ctrl-C does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def install_sigterm_cancel(task: asyncio.Task[Any]) -> Callable[[], None]:
    """Make SIGTERM cancel `task` (as Ctrl-C does under `asyncio.run`), so Phase 7 cancels its jobs on the
    server and leaves a consistent manifest. Returns a function that removes the handler. Where the loop
    cannot take signal handlers (not the main thread, Windows) it does nothing."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        logger.debug("SIGTERM handler not installed: %s", exc)
        return lambda: None

    def remove() -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)

    return remove
