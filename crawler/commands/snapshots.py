"""``crawler merge`` and ``crawler snapshots list|latest|prune``: runs under an output root."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from crawler.catalog import DATE_PREFIX, RunInfo, latest_complete, list_runs, prune
from crawler.cliutil import output_option, reports_errors
from crawler.configfile import ConfigGroup
from crawler.merge import merge_shards


@click.command()
@output_option
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Snapshot date (YYYY-MM-DD) whose shard runs to merge. Default: the latest with shards.",
)
@reports_errors
def merge(output_dir: Path, day: datetime | None) -> None:
    """Merge the shard runs (crawl --shard K/N) of one date into one committed snapshot."""
    directory = merge_shards(output_dir, None if day is None else day.date())
    click.echo(f"snapshot: {directory}")


# --- crawler snapshots: listing and housekeeping ----------------------------------------------


_TABLE_HEADER = ("date", "run_id", "status", "shard", "ok", "not_found", "failed", "path")
_NUMERIC = frozenset({"ok", "not_found", "failed"})


def _run_row(run: RunInfo) -> tuple[str, ...]:
    counts = run.counts or {}
    numbers = (
        str(value) if isinstance(value := counts.get(key), int) else "-"
        for key in ("ok", "not_found", "failed")
    )
    shard = f"{run.shard[0]}/{run.shard[1]}" if run.shard else "-"
    return (run.snapshot_date.isoformat(), run.run_id, run.status, shard, *numbers, str(run.path))


def _run_json(run: RunInfo) -> dict[str, object]:
    return {
        "snapshot_date": run.snapshot_date.isoformat(),
        "run_id": run.run_id,
        "status": run.status,
        "shard": None if run.shard is None else {"index": run.shard[0], "count": run.shard[1]},
        "counts": run.counts,
        "started_at": run.started_at,
        "path": str(run.path),
    }


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(_TABLE_HEADER))]
    return [
        "  ".join(
            cell.rjust(width) if name in _NUMERIC else cell.ljust(width)
            for name, cell, width in zip(_TABLE_HEADER, row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


@click.command("list")
@output_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@reports_errors
def list_command(output_dir: Path, as_json: bool) -> None:
    """List every run, oldest first, with its status, shard and counts."""
    runs = list_runs(output_dir)
    if as_json:
        click.echo(json.dumps([_run_json(run) for run in runs], indent=2))
    elif not runs:
        click.echo(f"no runs under {output_dir}", err=True)
    else:
        for line in _aligned([_TABLE_HEADER, *map(_run_row, runs)]):
            click.echo(line)


@click.command()
@output_option
@click.option(
    "--include-shards", is_flag=True, help="Let a shard run count (default: whole snapshots only)."
)
@reports_errors
def latest(output_dir: Path, include_shards: bool) -> None:
    """Print the path of the newest complete snapshot; exit 1 if there is none."""
    run = latest_complete(output_dir, include_shards=include_shards)
    if run is None:
        click.echo(f"error: no complete snapshot under {output_dir}", err=True)
        sys.exit(1)
    click.echo(str(run.path))


@click.command("prune")
@click.option(
    "--keep",
    "keep_days",
    type=click.IntRange(0),
    required=True,
    metavar="DAYS",
    help="Keep runs dated today (UTC) or up to DAYS days before; remove older ones.",
)
@output_option
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@reports_errors
def prune_command(keep_days: int, output_dir: Path, dry_run: bool) -> None:
    """Remove old runs, never a running one nor the newest complete snapshot."""
    today = datetime.now(UTC).date()  # snapshot dates are UTC dates
    removed = prune(output_dir, keep_days=keep_days, today=today, dry_run=dry_run)
    for path in removed:
        click.echo(str(path))
    dates = sum(path.name.startswith(DATE_PREFIX) for path in removed)
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {len(removed) - dates} run directories and {dates} empty date directories"
        f" (kept: runs from {today - timedelta(days=keep_days)} on, running runs, and the"
        " newest complete snapshot)"
    )


# Given as ``commands``, not added one by one: ConfigGroup.add_command would name their variables
# before ``main.add_command(snapshots)`` sets the group's prefix (IMAGECRAWLER_LIST_..., not
# IMAGECRAWLER_SNAPSHOTS_LIST_...). Registered on ``main``, the group names them all.
@click.group(cls=ConfigGroup, commands=[list_command, latest, prune_command])
def snapshots() -> None:
    """List the runs under an output root, find the latest snapshot, prune old runs."""
