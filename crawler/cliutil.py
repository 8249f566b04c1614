"""Pieces shared by the command modules: error reporting and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from crawler.endpoints import API_CHOICES
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


def routing_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--endpoint``, ``--image-endpoint``, ``--api`` and ``--region`` (crawl, discover)."""
    options = (
        click.option(
            "--endpoint",
            multiple=True,
            metavar="URL|REGION=URL",
            help="Compute (Nova) endpoint root, e.g. https://ecs.eu-de.otc.t-systems.com; may"
            " hold {region}; repeat as REGION=URL per region. Default: the Keystone catalog.",
        ),
        click.option(
            "--image-endpoint",
            multiple=True,
            metavar="URL|REGION=URL",
            help="Image (Glance v2) endpoint root, e.g. https://ims.{region}.myhuaweicloud.com;"
            " same forms as --endpoint. Default: the Keystone catalog.",
        ),
        click.option(
            "--api",
            type=click.Choice(API_CHOICES),
            default="auto",
            show_default=True,
            help="nova: the proxy; glance: Glance v2; auto: probe the proxy once per endpoint"
            " and use Glance where it is gone.",
        ),
        click.option(
            "--region",
            metavar="NAME",
            help="Region of input lines that name none (default: OS_REGION_NAME with Keystone).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def request_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--rate``, ``--max-attempts`` and ``--insecure`` (crawl, discover)."""
    options = (
        click.option(
            "--rate",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Requests per second at most (the adaptive limiter's ceiling). Default: no limit.",
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, 100),
            default=6,
            show_default=True,
            help="Attempts per item for retryable failures (429, 413, 5xx, timeouts, resets).",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            help="Do not check TLS certificates (also implied by clouds.yaml 'verify: false').",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command
