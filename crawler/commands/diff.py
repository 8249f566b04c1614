"""``crawler diff OLD NEW``: what changed between two snapshots (see ``crawler.diff``)."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.catalog import resolve_snapshot
from crawler.cliutil import output_option, reports_errors
from crawler.diff import diff_snapshots, summarize, write_changes
from crawler.errors import ConfigError


@click.command()
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@output_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the changes here instead of into NEW's snapshot directory.",
)
@reports_errors
def diff(old: str, new: str, output_dir: Path, out_dir: Path | None) -> None:
    """Compare two snapshots: images added, removed, changed (field by field) or unknown.

    OLD and NEW are snapshot directories, run ids, `latest` or `previous`. Writes
    changes.parquet, changes.csv and changes.json into NEW (or --out) and prints the counts.
    An image NEW failed to fetch is `unknown`, never `removed`.
    """
    old_dir = resolve_snapshot(output_dir, old)
    new_dir = resolve_snapshot(output_dir, new)
    if old_dir.resolve() == new_dir.resolve():
        raise ConfigError(f"OLD and NEW are the same snapshot: {new_dir}")
    changes = diff_snapshots(old_dir, new_dir)
    files = write_changes(out_dir or new_dir, changes, old_dir=old_dir, new_dir=new_dir)
    counts = summarize(changes)
    click.echo(f"old:      {old_dir}")
    click.echo(f"new:      {new_dir}")
    click.echo(f"added:    {counts['added']}")
    click.echo(f"removed:  {counts['removed']}")
    click.echo(f"changed:  {counts['changed']} images, {counts['changed_fields']} fields")
    click.echo(f"unknown:  {counts['unknown']}")
    click.echo(f"changes:  {files[0]}")
