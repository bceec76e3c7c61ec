"""`wagglebot-video score IMAGE|FOLDER...`: what the stage would do with each image, and the rule that decided.

A folder stands for its image files (by extension, not recursive). Exit status 0 when every image could be
read, 2 when one or more could not (missing, not an image, truncated, corrupt, refused as a decompression
bomb) or a folder has no image file; each of those gets one error line naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ai_worker.cli.console import make_console, settings_or_exit, setup_logging
from ai_worker.images.filter import ImageSuitability, evaluate_image
from ai_worker.images.selection import I2V_CATEGORIES, MAX_I2V_ASPECT, decide

EXIT_UNREADABLE = 2


@dataclass(frozen=True)
class Verdict:
    """One image: the stage's mode for it and the one rule that decided it."""

    path: Path
    result: ImageSuitability
    mode: str
    rule: str

    @property
    def unreadable(self) -> bool:
        return self.result.category == "unknown"

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "mode": self.mode,
            "rule": self.rule,
            "score": self.result.score,
            "category": self.result.category,
            "width": self.result.width,
            "height": self.result.height,
            "reasons": self.result.reasons,
            "metrics": self.result.metrics,
        }


def verdict(path: Path, result: ImageSuitability, threshold: float) -> Verdict:
    """The stage's decision (image_selection.decide) and the first rule that sends the image to text-to-video:
    unreadable, then category, then aspect ratio, then score."""
    mode = decide(result, threshold).mode
    if result.category == "unknown":
        rule = f"unreadable: {result.reason}"
    elif result.category not in I2V_CATEGORIES:
        rule = f"category {result.category}"
    elif result.aspect_ratio > MAX_I2V_ASPECT:
        rule = f"aspect ratio {result.aspect_ratio:.2f} > {MAX_I2V_ASPECT:.1f}"
    elif result.score < threshold:
        rule = f"score {result.score:.2f} < {threshold:.2f}"
    else:
        rule = f"{result.category}, score {result.score:.2f}"
    return Verdict(path=path, result=result, mode=mode, rule=rule)


def score_table(verdicts: list[Verdict], *, threshold: float, show_metrics: bool = False) -> Table:
    """One row per image: file, decision and rule, score, category, size, reasons (and the raw measures)."""
    table = Table(title=f"image-to-video decision (threshold {threshold:.2f}; only photos go to i2v)")
    table.add_column("file", overflow="fold")  # a file name is never cut short
    table.add_column("decision", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("category")
    table.add_column("size", justify="right")
    table.add_column("reasons", overflow="fold")
    if show_metrics:
        table.add_column("measures (at 512 px)")
    for item in verdicts:
        result = item.result
        colour = "green" if item.mode == "i2v" else ("red" if item.unreadable else "yellow")
        cells = [
            escape(str(item.path)),
            f"[{colour}]{item.mode}: {escape(item.rule)}[/{colour}]",
            f"{result.score:.2f}",
            result.category,
            f"{result.width}x{result.height}",
            escape(result.reason),
        ]
        if show_metrics:
            cells.append(" ".join(f"{key}={value:.3g}" for key, value in result.metrics.items()))
        table.add_row(*cells)
    return table


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jfif", ".avif"})
"""What counts as an image file in a folder given to `score` (by name; a file is scored by its content)."""


def expand_folders(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Each folder replaced by its image files (sorted, not recursive); also the folders that had none."""
    files: list[Path] = []
    empty: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        files.extend(found)
        if not found:
            empty.append(path)
    return files, empty


def score(
    images: Annotated[
        list[Path], typer.Argument(help="Image files, or folders (their image files), to score.", show_default=False)
    ],
    metrics: Annotated[bool, typer.Option("--metrics", help="Also show the raw measures.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log everything.")] = False,
) -> None:
    """Print, per image, i2v or t2v and the rule that decided, with score, category, size and reasons."""
    console = make_console()
    errors = make_console(stderr=True)
    setup_logging(errors, verbose=verbose)
    settings = settings_or_exit(errors)
    threshold = settings.video_i2v_threshold
    files, empty = expand_folders(images)
    for folder in empty:
        errors.print(f"[red]error:[/] {escape(str(folder))}: a folder with no image files", soft_wrap=True)
    verdicts = [verdict(p, evaluate_image(p, max_pixels=settings.image_max_pixels), threshold) for p in files]
    if as_json:
        payload = {"threshold": threshold, "images": [item.as_json() for item in verdicts]}
        # Plain stdout: rich would wrap long lines and break the JSON.
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        console.print(score_table(verdicts, threshold=threshold, show_metrics=metrics))
    unreadable = [item for item in verdicts if item.unreadable]
    for item in unreadable:
        errors.print(f"[red]error:[/] {escape(str(item.path))}: {escape(item.result.reason)}", soft_wrap=True)
    if unreadable or empty:
        raise typer.Exit(EXIT_UNREADABLE)
