"""`wagglebot-video score IMAGE...`: score images for image-to-video, for tuning the filter's thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ai_worker.cli.console import make_console, settings_error_line, setup_logging
from ai_worker.video.image_filter import ImageSuitability, evaluate_image
from config.settings import load_settings


def score_table(rows: list[tuple[Path, ImageSuitability]], *, threshold: float, show_metrics: bool = False) -> Table:
    """One row per image: file, score, category, size, reasons (and the raw measures when asked)."""
    table = Table(title=f"image-to-video suitability (threshold {threshold:.2f})")
    table.add_column("file")
    table.add_column("score", justify="right")
    table.add_column("category")
    table.add_column("size", justify="right")
    table.add_column("reasons")
    if show_metrics:
        table.add_column("measures (at 512 px)")
    for path, result in rows:
        mark = "green" if result.score >= threshold and result.category == "photo" else "yellow"
        cells: list[str | Text] = [
            Text(str(path)),
            f"[{mark}]{result.score:.2f}[/{mark}]",
            result.category,
            f"{result.width}x{result.height}",
            Text(result.reason),
        ]
        if show_metrics:
            cells.append(" ".join(f"{key}={value:.3g}" for key, value in result.metrics.items()))
        table.add_row(*cells)
    return table


def score(
    images: Annotated[list[Path], typer.Argument(help="Image files to score.")],
    metrics: Annotated[bool, typer.Option("--metrics", help="Also show the raw measures.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    """Print score, category, size and reasons for each image. Bad images score 0 with a reason (exit code 0)."""
    console = make_console()
    setup_logging(make_console(stderr=True), verbose=verbose)
    try:
        settings = load_settings()
    except ValueError as exc:
        make_console(stderr=True).print(f"[red]error:[/] {escape(settings_error_line(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    rows = [(path, evaluate_image(path, max_pixels=settings.image_max_pixels)) for path in images]
    console.print(score_table(rows, threshold=settings.video_i2v_threshold, show_metrics=metrics))
