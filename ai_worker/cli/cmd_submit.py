"""`submit`, `status` and `cancel`: posts through the service (Temporal), from any machine.

* `submit POST.json|FOLDER... [--out DIR] [--wait]`: one workflow per post; the same post again attaches to
  its workflow (no second set of clips). `--wait` waits for the results and exits as `run` does.
* `status [POST_ID] [--json]`: per post, scenes done of total and each running clip's rung and server.
* `cancel POST_ID`: the post's workflow and its ComfyUI jobs are cancelled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ai_worker.cli.cmd_run import expand_post_paths, load_posts
from ai_worker.cli.console import make_console, settings_or_exit, setup_logging
from ai_worker.cli.preflight import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_CLIPS, output_folder_problem
from ai_worker.service.messages import PostSummary
from config.settings import Settings

if TYPE_CHECKING:
    from ai_worker.service.client import PostState, Submitted

BAD_INPUT_TYPES = ("InputError", "PostFileError", "OutputError", "RunLockedError")


def _fail(console: Console, message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


async def _submit_all(settings: Settings, inputs: list[Path], out: Path, console: Console,
                      wait: bool) -> list[tuple[Submitted, PostSummary | BaseException | None]]:
    from ai_worker.service.client import connect, submit_post

    posts, _ = load_posts(inputs, console)
    if not posts:
        return []  # every post file was bad (each said why): nothing to send
    client = await connect(settings)
    submitted = [await submit_post(client, settings, item.post, out) for item in posts]
    for item in submitted:
        verb = "attached to" if item.attached else "submitted"
        console.print(f"{verb} {escape(item.workflow_id)} (post {escape(item.post_id)})", soft_wrap=True)
    if not wait:
        return [(item, None) for item in submitted]
    outcomes: list[PostSummary | BaseException] = list(
        await asyncio.gather(*(item.handle.result() for item in submitted), return_exceptions=True))
    return list(zip(submitted, outcomes, strict=True))


def _root_cause(exc: BaseException) -> BaseException:
    """The error a workflow failure began with (Temporal chains workflow, activity and application errors)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _cause_type(exc: BaseException) -> str | None:
    """The type name of the application error at the root of a workflow failure (as Temporal carries it)."""
    kind = getattr(_root_cause(exc), "type", None)
    return kind if isinstance(kind, str) else None


def submit(
    posts: Annotated[list[Path], typer.Argument(help="Post files (JSON), or folders of them.", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output root every worker can write; each post gets <out>/<post_id>/. "
                     "\\[default: OUTPUT_DIR]"),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the results; exit as `run` does.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    # Imported here, not at the top: building the CLI must not load the Temporal SDK for every command.
    from temporalio.client import WorkflowFailureError

    from ai_worker.service.client import ServiceUnavailableError

    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    settings = settings_or_exit(console)
    out = out if out is not None else settings.output_dir
    files, arg_errors = expand_post_paths(posts)
    for error in arg_errors:
        console.print(f"[red]error:[/] {escape(error)}", soft_wrap=True)
    problem = output_folder_problem(out)
    if problem is not None:
        raise _fail(console, problem, EXIT_BAD_INPUT)
    try:
        results = asyncio.run(_submit_all(settings, files, out, console, wait))
    except KeyboardInterrupt as exc:
        console.print("[yellow]interrupted:[/] the posts go on in the service; `status` shows them")
        raise typer.Exit(EXIT_INTERRUPTED) from exc
    except ServiceUnavailableError as exc:
        raise _fail(console, str(exc), EXIT_FAILED) from exc
    bad = bool(arg_errors) or len(results) < len(files)
    if not results:
        raise typer.Exit(EXIT_BAD_INPUT)
    if not wait:
        raise typer.Exit(EXIT_BAD_INPUT if bad else 0)
    no_clips = 0
    failed = False
    for item, outcome in results:
        if isinstance(outcome, PostSummary):
            console.print(f"post {escape(outcome.post_id)}: {outcome.made} made, {outcome.reused} reused, "
                          f"{outcome.failed} failed ({outcome.merged} merged), {outcome.skipped} static; "
                          f"{escape(outcome.output_dir)}", soft_wrap=True)
            if outcome.no_clip_reason is not None:
                no_clips += 1
                console.print(f"[yellow]post {escape(outcome.post_id)}:[/] {escape(outcome.no_clip_reason)}")
        elif outcome is not None:
            kind = _cause_type(outcome) if isinstance(outcome, WorkflowFailureError) else None
            bad = bad or kind in BAD_INPUT_TYPES
            console.print(f"[red]post {escape(item.post_id)} failed:[/] {escape(str(_root_cause(outcome)))}",
                          soft_wrap=True)
            if kind == "GeneratorUnavailableError":
                no_clips += 1
            elif kind not in BAD_INPUT_TYPES:
                failed = True
    if failed:
        raise typer.Exit(EXIT_FAILED)
    if no_clips and no_clips == len(results):
        raise typer.Exit(EXIT_NO_CLIPS)
    if bad:
        raise typer.Exit(EXIT_BAD_INPUT)


def _status_table(states: list[PostState]) -> Table:
    table = Table(title="posts")
    for column in ("workflow", "state", "scenes", "running clips"):
        table.add_column(column)
    for state in states:
        if state.progress is not None:
            scenes = f"{state.progress.done}/{state.progress.total} done, {state.progress.failed} failed"
            running = ", ".join(f"scene {c.index}: rung {c.rung} on {c.server}" for c in state.progress.running)
            phase = f"{state.status} ({state.progress.phase})"
        elif state.summary is not None:
            scenes = f"{state.summary.made + state.summary.reused}/{state.summary.scenes} with clips"
            running, phase = "", state.status
        else:
            scenes, running, phase = "", "", state.status
        table.add_row(escape(state.workflow_id), escape(phase), escape(scenes), escape(running))
    return table


def status(
    post_id: Annotated[str | None, typer.Argument(help="Only this post.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for machines.")] = False,
) -> None:
    from ai_worker.service.client import ServiceUnavailableError, connect, post_states

    console = make_console()
    settings = settings_or_exit(console)

    async def ask() -> list[PostState]:
        return await post_states(await connect(settings), post_id)

    try:
        states = asyncio.run(ask())
    except ServiceUnavailableError as exc:
        raise _fail(console, str(exc), EXIT_FAILED) from exc
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(s) for s in states], ensure_ascii=False))
    else:
        console.print(_status_table(states))
    if post_id is not None and not states:
        raise _fail(console, f"no workflow for post {post_id}", EXIT_BAD_INPUT)


def cancel(
    post_id: Annotated[str, typer.Argument(help="The post to stop.", show_default=False)],
) -> None:
    from ai_worker.service.client import ServiceUnavailableError, cancel_post, connect

    console = make_console()
    settings = settings_or_exit(console)

    async def stop() -> list[str]:
        return await cancel_post(await connect(settings), post_id)

    try:
        cancelled = asyncio.run(stop())
    except ServiceUnavailableError as exc:
        raise _fail(console, str(exc), EXIT_FAILED) from exc
    if not cancelled:
        raise _fail(console, f"no running workflow for post {post_id}", EXIT_BAD_INPUT)
    for workflow_id in cancelled:
        console.print(f"cancelled {escape(workflow_id)}: its ComfyUI jobs were interrupted; submit again to resume",
                      soft_wrap=True)
