"""``crawler publish SNAPSHOT s3://BUCKET/PREFIX``, and the crawl's object-storage options.

Both go through ``crawler.objectstore``: data files first, ``manifest.json`` last.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from crawler.cliutil import reports_errors
from crawler.objectstore import S3Location, filesystem_from_env, upload_run

F = TypeVar("F", bound=Callable[..., object])


def output_target_options(command: F) -> F:
    """``--output DIR|s3://BUCKET/PREFIX``, ``--staging DIR`` and ``--keep-staging``."""
    for option in reversed(
        (
            click.option(
                "--output",
                "output_dir",  # the name every --output has (config files key on it)
                default="output",
                show_default=True,
                metavar="DIR|s3://BUCKET/PREFIX",
                help="Snapshot root: a directory, or object storage (crawled into --staging,"
                " then uploaded; credentials and endpoint from AWS_* variables).",
            ),
            click.option(
                "--staging",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                metavar="DIR",
                help="Local root an s3:// run is crawled into (as DIR/BUCKET/PREFIX; journal"
                " and --resume work there) before the upload."
                " Default: ~/.cache/imagecrawler/staging ($XDG_CACHE_HOME if set).",
            ),
            click.option(
                "--keep-staging",
                is_flag=True,
                help="Keep the local copy of an s3:// run after a successful upload.",
            ),
        )
    ):
        command = option(command)
    return command


@click.command()
@click.argument(
    "snapshot", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="SNAPSHOT"
)
@click.argument("url", metavar="s3://BUCKET/PREFIX")
@click.option(
    "--remove-local", is_flag=True, help="Delete the local snapshot after a successful upload."
)
@reports_errors
def publish(snapshot: Path, url: str, remove_local: bool) -> None:
    """Upload a committed snapshot directory to object storage (again).

    Data files go first, each checked by size, manifest.json last, to
    PREFIX/snapshot_date=D/run_id=ID/. Retries an upload that `crawl --output s3://...`
    could not finish; a run already uploaded is left alone.
    """
    location = S3Location.parse(url)
    run = upload_run(snapshot, location, filesystem_from_env(os.environ))
    click.echo(f"uploaded: {run}")
    if remove_local:
        shutil.rmtree(snapshot, ignore_errors=True)
