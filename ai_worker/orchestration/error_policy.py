"""What the orchestration does after a failed attempt: a pure decision on the error's type.

`ladder.classify` sorts the exception; `decide` adds what this attempt knows (was it a re-attachment to an
earlier run's prompt, how often this rung was already retried) and returns a `Decision` the scheduler
applies. No I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ai_worker.core.errors import (
    ComfyUIInterruptedError,
    ComfyUINotSubmittedError,
    GeneratorUnavailableError,
    PromptLostError,
    WorkflowError,
)
from ai_worker.model.failure import FailureKind
from ai_worker.orchestration.ladder import ErrorAction, classify, is_server_fault

MAX_SAME_RUNG_RETRIES = 1
"""Counted retries of one rung after a dropped connection that could not be re-attached."""


class Move(enum.StrEnum):
    """Where a failed attempt's job goes (a string enum, so a `Decision` travels as plain JSON, e.g. to the
    service's pool workflow)."""

    SAME_RUNG = "retry"
    """The same rung again, on whichever server picks it up."""
    NEXT_RUNG = "next"
    """Down the ladder (fails as exhausted below the last rung)."""
    FAIL = "fail"
    """The scene fails now."""


@dataclass(frozen=True)
class Decision:
    move: Move
    action: str
    """What the manifest records for the attempt."""
    counts: bool = False
    """A SAME_RUNG move that uses up one of the rung's retries."""
    failure_kind: FailureKind = "fatal"
    """For FAIL: "fatal" (no rung can fix it) or "external" (outside the scene; a re-run tries again)."""
    block: str | None = None
    """Block this attempt's job kind: on "server" (the one it ran on) or "all" servers."""
    free_vram: bool = False
    server_fault: bool = False
    """Counts against the server (enough in a row and it is benched)."""
    bench_now: bool = False
    """The server did not even take the job: bench it at once (the health check decides when it is back)."""


def decide(exc: BaseException, *, resumed: bool, same_rung_retries: int) -> Decision:
    """The decision for `exc`, raised by an attempt (a re-attachment to an earlier run's prompt when
    `resumed`) on a rung already retried `same_rung_retries` times."""
    server_fault = is_server_fault(exc)
    if resumed and isinstance(exc, ComfyUIInterruptedError | PromptLostError):
        # The earlier run's prompt was cancelled (Ctrl-C) or died with its server: run the rung again.
        return Decision(Move.SAME_RUNG, "retry")
    if isinstance(exc, ComfyUINotSubmittedError | GeneratorUnavailableError):
        return Decision(Move.SAME_RUNG, "moved", server_fault=True, bench_now=True)
    action = classify(exc)
    if action is ErrorAction.BLOCK_KIND:
        scope = "all" if isinstance(exc, WorkflowError) else "server"
        return Decision(Move.SAME_RUNG, action.value, block=scope)
    if action is ErrorAction.FAIL_FAST:
        return Decision(Move.FAIL, action.value)
    if action is ErrorAction.EXTERNAL:
        return Decision(Move.FAIL, action.value, failure_kind="external")
    if action is ErrorAction.FREE_AND_NEXT:
        return Decision(Move.NEXT_RUNG, action.value, free_vram=True)
    if action in (ErrorAction.REATTACH, ErrorAction.RETRY) and same_rung_retries < MAX_SAME_RUNG_RETRIES:
        return Decision(Move.SAME_RUNG, "retry", counts=True, server_fault=server_fault)
    return Decision(Move.NEXT_RUNG, "next", server_fault=server_fault)

