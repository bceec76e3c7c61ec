"""`wagglebot-video prompts POST.json`: Phase 4.5 and 6 only, printing each scene's prompts and their source."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ai_worker.cli.console import make_console, settings_or_exit, setup_logging
from ai_worker.core.errors import ConfigError, InputError, WaggleVideoError
from ai_worker.core.run_lock import post_lock
from ai_worker.model.manifest import MANIFEST_NAME, ManifestStore
from ai_worker.model.paths import post_dir
from ai_worker.model.post_file import Post, load_post
from ai_worker.model.styles import load_video_styles
from ai_worker.pipeline.content_processor import phase_6_prompts
from ai_worker.pipeline.video_modes import assign_video_modes
from ai_worker.prompts.engine import NEGATIVE_PROMPT, VideoPromptEngine
from config.settings import Settings

logger = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2


async def build_prompts(
    post_path: Path, out: Path, settings: Settings, *, refresh: bool = False
) -> tuple[Post, list[str]]:
    """Load the post, run Phase 4.5 and 6 on it; returns the post (scenes filled in) and skipped-scene notes.

    Prompts an earlier run saved in the post's manifest are kept for unchanged scenes unless `refresh`; what
    this prints is saved there, so `run` makes its clips from these prompts."""
    styles = load_video_styles(settings.video_styles_path)
    post, errors = load_post(post_path)
    folder = post_dir(out, post.post_id)
    with post_lock(folder):
        await assign_video_modes(
            post.scenes, post_id=post.post_id, settings=settings, out_dir=out, base_dir=post.base_dir
        )
        engine = VideoPromptEngine(settings, styles)
        await phase_6_prompts(post, engine=engine, settings=settings, store=ManifestStore(folder / MANIFEST_NAME),
                              refresh=refresh)
    return post, [*([post.mood_warning] if post.mood_warning else []), *(str(error) for error in errors)]


def _line(exc: Exception) -> str:
    """An error's first line, safe for rich."""
    return escape((str(exc).splitlines() or [type(exc).__name__])[0])


def prompts_table(post: Post) -> Table:
    table = Table(title=escape(f"post {post.post_id} · mood {post.mood}"), show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("type")
    table.add_column("mode")
    table.add_column("prompt", ratio=3)
    table.add_column("simplified prompt", ratio=2)
    table.add_column("source")
    for index, scene in enumerate(post.scenes):
        table.add_row(
            str(scene.source_index if scene.source_index is not None else index),
            scene.type,
            scene.video_mode or "—",
            Text(scene.video_prompt or "—"),
            Text(scene.video_prompt_simple or "—"),
            Text(scene.prompt_source or "—"),
        )
    return table


def prompts_json(post: Post, warnings: list[str]) -> dict[str, object]:
    """What the table shows, for machines: every scene's prompts and where they came from."""
    return {
        "post_id": post.post_id,
        "mood": post.mood,
        "mood_given": post.mood_given,
        "negative_prompt": NEGATIVE_PROMPT,
        "scenes": [
            {
                "index": scene.source_index if scene.source_index is not None else index,
                "type": scene.type,
                "mode": scene.video_mode,
                "prompt": scene.video_prompt,
                "simplified_prompt": scene.video_prompt_simple,
                "source": scene.prompt_source,
            }
            for index, scene in enumerate(post.scenes)
        ],
        "warnings": warnings,
    }


def prompts(
    post: Annotated[Path, typer.Argument(help="The post file (JSON).", show_default=False)],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (image cache for Phase 4.5). \\[default: OUTPUT_DIR]")
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask the LLM for new prompts even for scenes that have saved ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    console = make_console()
    errors = make_console(stderr=True)
    setup_logging(errors, verbose=verbose)
    settings = settings_or_exit(errors)
    try:
        loaded, skipped = asyncio.run(build_prompts(post, out or settings.output_dir, settings, refresh=refresh))
    except InputError as exc:
        errors.print(f"[red]error:[/] {_line(exc)}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except ConfigError as exc:
        errors.print(f"[red]config error:[/] {_line(exc)}", soft_wrap=True)
        raise typer.Exit(1) from exc
    except WaggleVideoError as exc:
        errors.print(f"[red]error:[/] {_line(exc)}", soft_wrap=True)
        raise typer.Exit(1) from exc
    if as_json:
        # Plain stdout: rich would wrap long lines and break the JSON; warnings go inside it.
        typer.echo(json.dumps(prompts_json(loaded, skipped), ensure_ascii=False))
        return
    console.print(prompts_table(loaded))
    for line in skipped:
        console.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)
    console.print(f"[dim]negative prompt (every clip):[/] {escape(NEGATIVE_PROMPT)}")
