"""``crawler report [SNAPSHOT]``: a snapshot as one self-contained HTML page (crawler.report)."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.catalog import resolve_snapshot
from crawler.cliutil import output_option, reports_errors, snapshot_argument
from crawler.report import REPORT_NAME, write_report


@click.command()
@snapshot_argument
@output_option
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"HTML file to write.  [default: SNAPSHOT/{REPORT_NAME}]",
)
@reports_errors
def report(snapshot: str | None, output_dir: Path, out_path: Path | None) -> None:
    """Write an HTML report of a snapshot: totals, images by OS release, EOL exposure by
    project, audit findings and changes since the previous snapshot.

    SNAPSHOT is a snapshot directory, a run id, `latest` (the default) or `previous`. The
    page is one file with inline CSS and SVG charts: it needs no network and runs no scripts.
    Findings and changes appear if `crawler audit` and `crawler diff` have written them into
    the snapshot directory.
    """
    snapshot_dir = resolve_snapshot(output_dir, snapshot)
    click.echo(write_report(snapshot_dir, out_path))
