"""Pieces shared by the command modules: error reporting and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from crawler.errors import CrawlerError

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Catch the tool's own errors once: one clear line on stderr, and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CrawlerError as exc:
            click.echo(f"error: {exc}", err=True)
            for note in getattr(exc, "__notes__", ()):
                click.echo(f"  {note}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


# Options shared by several commands.
output_option = click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Snapshot root directory.",
)
concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 4096),
    default=32,
    show_default=True,
    help="Requests in flight (and pooled connections).",
)


def lifecycle_option(help_text: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--lifecycle FILE``: a CSV of OS end-of-life dates (crawl and audit read it)."""
    return click.option(
        "--lifecycle",
        "lifecycle_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help=help_text,
    )


snapshot_argument = click.argument("snapshot", required=False, metavar="[SNAPSHOT]")
