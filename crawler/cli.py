"""Command line: parse flags, build settings, call the library, map errors to exit codes."""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import click

from crawler import __version__
from crawler.auth import auth_from_env
from crawler.catalog import DATE_PREFIX, RunInfo, latest_complete, list_runs, prune
from crawler.cliutil import (
    concurrency_option,
    lifecycle_option,
    output_option,
    reports_errors,
    request_options,
    routing_options,
)
from crawler.commands.audit import audit
from crawler.commands.diff import diff
from crawler.commands.discover import discover as discover_command
from crawler.commands.discover import filters_from, list_filter_options
from crawler.commands.publish import output_target_options, publish
from crawler.commands.report import report
from crawler.config import CrawlSettings, parse_formats, parse_shard
from crawler.configfile import CONFIG_ENVVAR, ENV_PREFIX, ConfigGroup, apply_env, load_config
from crawler.crawl import Crawl
from crawler.demo import run_demo
from crawler.discover import ListFilters
from crawler.discover.snapshot import DiscoverySettings
from crawler.errors import ConfigError, CrawlerError
from crawler.inputs import Shard
from crawler.merge import merge_shards
from crawler.metrics import previous_success, render_metrics, write_metrics
from crawler.objectstore import Destination
from crawler.progress import wanted as progress_wanted
from crawler.runner import run_with_signals, serve_until_signal, summary
from crawler.simulator import (
    Inventory,
    InventorySpec,
    SimulatorConfig,
    parse_faults,
    write_id_list,
)

EXIT_FAILURES = 4  # some items failed beyond --max-failure-ratio; the snapshot is written


def _formats(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_formats(value)
    except CrawlerError as exc:
        raise click.BadParameter(str(exc)) from exc


def _shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Shard | None:
    try:
        return None if value is None else parse_shard(value)
    except CrawlerError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group(
    cls=ConfigGroup,
    # Every option also reads IMAGECRAWLER_<COMMAND>_<OPTION>: flag > variable > file > default.
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": ENV_PREFIX},
)
@click.version_option(__version__, prog_name="imagecrawler")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=CONFIG_ENVVAR,
    show_envvar=True,
    metavar="FILE",
    help="YAML file with option values per command; flags and environment variables win.",
)
@click.pass_context
@reports_errors
def main(ctx: click.Context, config_path: Path | None) -> None:
    """imagecrawler: VM image inventory from OpenStack-based clouds into Parquet/CSV snapshots."""
    if config_path is not None:
        # Runs before the subcommand parses its options, so they see the file's values.
        config = load_config(config_path, main, os.environ)
        ctx.default_map = config.defaults
        apply_env(config.env, os.environ)


@main.command()
@click.option(
    "--input",
    "input_path",
    metavar="FILE",
    help="ID list: CSV with header project_id,image_id[,region], or JSON Lines. '-' = stdin."
    " Required unless --discover.",
)
@click.option(
    "--discover",
    is_flag=True,
    help="List the images of the --projects instead of reading an ID list: the snapshot is"
    " built from list pages, with no request per image.",
)
@click.option(
    "--projects",
    "projects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="With --discover: the projects to list (as for crawler discover).",
)
@list_filter_options
@click.option(
    "--input-format",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="Input format; auto uses the file suffix, then the first character.",
)
@routing_options
@output_target_options
@concurrency_option
@click.option(
    "--format",
    "formats",
    default="parquet,csv",
    show_default=True,
    callback=_formats,
    help="Output formats, comma separated: parquet, csv.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to open a connection.",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds of silence allowed while reading a response.",
)
@request_options
@click.option(
    "--rate-per-project",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Requests per second at most for each project.",
)
@click.option(
    "--max-item-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="No new attempt for an item this long after its first.",
)
@click.option(
    "--max-failure-ratio",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Exit 4 if more than this share of inputs failed or was invalid (snapshot still written).",
)
@click.option(
    "--resume",
    metavar="RUN_ID|latest|auto",
    default=None,
    help="Continue an interrupted run: fetch only what its journal lacks. 'latest' = the newest"
    " resumable run; 'auto' = today's resumable run of this same input if any, else a new run.",
)
@click.option(
    "--shard",
    metavar="K/N",
    default=None,
    callback=_shard,
    help="Crawl only shard K (0-based) of N: a stable hash of project and image ID picks it.",
)
@click.option(
    "--grace",
    "grace_s",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="On SIGTERM/Ctrl-C, seconds that requests in flight get to finish.",
)
@lifecycle_option(
    "CSV of OS end-of-life dates (distro,release,eol,source) over the packaged table."
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="Write the run's metrics in Prometheus text format (node_exporter textfile collector).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@reports_errors
def crawl(
    input_path: str | None,
    discover: bool,
    projects_path: Path | None,
    status: str | None,
    changes_since: datetime | None,
    properties: tuple[tuple[str, str], ...],
    page_size: int,
    all_visible: bool,
    input_format: str,
    endpoint: tuple[str, ...],
    image_endpoint: tuple[str, ...],
    api: str,
    region: str | None,
    output_dir: str,
    staging: Path | None,
    keep_staging: bool,
    concurrency: int,
    formats: tuple[str, ...],
    connect_timeout: float,
    read_timeout: float,
    rate: float | None,
    rate_per_project: float | None,
    max_attempts: int,
    max_item_seconds: float,
    max_failure_ratio: float,
    insecure: bool,
    resume: str | None,
    shard: Shard | None,
    grace_s: float,
    lifecycle_path: Path | None,
    metrics_file: Path | None,
    quiet: bool,
) -> None:
    """Fetch every image in an ID list and write a snapshot.

    Credentials come from the environment: HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK (AK/SK
    signing), else OS_CLOUD or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/... (Keystone), else
    OS_AUTH_TOKEN (a static token).
    """
    source, discovery = _crawl_source(
        input_path,
        projects_path,
        discover,
        filters_from(api, status, changes_since, properties, all_visible),
        page_size,
    )
    auth = auth_from_env(os.environ)
    destination = Destination.parse(output_dir, staging, keep_staging, os.environ)
    settings = CrawlSettings(
        endpoint=endpoint,
        image_endpoint=image_endpoint,
        api=api,  # type: ignore[arg-type]  # click.Choice guarantees it
        region=region,
        input_path=source,
        discovery=discovery,
        output_dir=destination.local_root,
        input_format=input_format,  # type: ignore[arg-type]  # click.Choice guarantees it
        concurrency=concurrency,
        formats=formats,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        rate=rate,
        rate_per_project=rate_per_project,
        max_attempts=max_attempts,
        max_item_seconds=max_item_seconds,
        max_failure_ratio=max_failure_ratio,
        verify_tls=auth.verify_tls and not insecure,
        shard=shard,
        resume=resume,
        grace_s=grace_s,
        lifecycle_path=lifecycle_path,
    )
    crawl_run = Crawl(settings, auth)
    # The modules loaded so far (pandas, pyarrow, aiohttp: ~100k objects) live as long as the
    # process; frozen, a full collection no longer walks them, which took ~50 ms of the loop.
    gc.collect()
    gc.freeze()
    try:
        report, code = anyio.run(
            functools.partial(run_with_signals, crawl_run, progress=progress_wanted(quiet))
        )
    except CrawlerError as exc:
        _record_metrics(metrics_file, None, "failed", exc.exit_code)
        raise
    if not quiet or code:
        for line in summary(report):
            click.echo(line, err=code != 0)
    if code == 0 and report.failure_ratio > max_failure_ratio:
        code = EXIT_FAILURES
    if destination.remote is not None and report.status == "complete":
        try:
            uploaded = destination.upload(report.directory)
        except CrawlerError as exc:  # the notes name the kept local snapshot and the retry
            _record_metrics(metrics_file, report.manifest, "failed", exc.exit_code)
            raise
        if not quiet:
            click.echo(f"uploaded: {uploaded}", err=code != 0)
    _record_metrics(metrics_file, report.manifest, report.status, code)
    sys.exit(code)


def _crawl_source(
    input_path: str | None,
    projects_path: Path | None,
    discover: bool,
    filters: ListFilters,
    page_size: int,
) -> tuple[str, DiscoverySettings | None]:
    """The crawl's input: an ID list, or with ``--discover`` a projects file to list.

    Raises:
        ConfigError: the options name both inputs, or neither.
    """
    if discover:
        if projects_path is None or input_path is not None:
            raise ConfigError("--discover lists the projects of --projects FILE (not --input)")
        return str(projects_path), DiscoverySettings(filters, page_size)
    if input_path is None or projects_path is not None:
        raise ConfigError("crawl needs --input FILE (or --discover with --projects FILE)")
    return input_path, None


def _record_metrics(
    path: Path | None, manifest: dict[str, object] | None, status: str, code: int
) -> None:
    if path is not None:
        text = render_metrics(
            manifest,
            status=status,
            exit_code=code,
            finished_at=time.time(),
            last_success=previous_success(path),
        )
        write_metrics(path, text)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", type=click.IntRange(0, 65535), default=8774, show_default=True)
@click.option("--images", type=click.IntRange(1), default=2000, show_default=True)
@click.option("--projects", type=click.IntRange(1), default=20, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--revision",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Serve the same cloud this many nights later: images changed, deleted and added.",
)
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option("--token", default=None, help="Accept this static X-Auth-Token for every project.")
@click.option(
    "--faults",
    default="none",
    show_default=True,
    help="Fault profile and overrides, e.g. chaos, throttle, 'chaos,error_rate=0.1,seed=3'.",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="NAME:PASSWORD",
    help="A Keystone user of domain Default (repeatable); enables POST /v3/auth/tokens.",
)
@click.option(
    "--aksk", "access_keys", multiple=True, metavar="AK:SK", help="Accept this AK/SK pair."
)
@click.option("--huawei-errors", is_flag=True, help="Answer bad tokens like Huawei's API gateway.")
@click.option(
    "--proxy-removed", is_flag=True, help="Answer every image 404, as a cloud without the proxy."
)
@click.option(
    "--write-ids",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the inventory's project_id,image_id list to this file.",
)
@click.option(
    "--unknown", type=click.IntRange(0), default=0, help="Unknown IDs to add to the list."
)
@click.option("--ids-format", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--no-serve", is_flag=True, help="Only write the ID list, do not serve.")
@reports_errors
def simulate(
    host: str,
    port: int,
    images: int,
    projects: int,
    seed: int,
    revision: int,
    latency_ms: float,
    token: str | None,
    faults: str,
    users: tuple[str, ...],
    access_keys: tuple[str, ...],
    huawei_errors: bool,
    proxy_removed: bool,
    write_ids: Path | None,
    unknown: int,
    ids_format: str,
    no_serve: bool,
) -> None:
    """Serve a simulated Nova images API from a generated inventory (Ctrl-C stops it).

    The credentials given here are the simulator's own test accounts, not real secrets.
    """
    try:
        config = SimulatorConfig(
            inventory=InventorySpec(images=images, projects=projects, seed=seed, revision=revision),
            latency_ms=latency_ms,
            token=token,
            faults=parse_faults(faults),
            users=_pairs("--user", users),
            aksk=_pairs("--aksk", access_keys),
            huawei_errors=huawei_errors,
            proxy_removed=proxy_removed,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if write_ids is not None:
        rows = write_id_list(
            Inventory(config.inventory),
            write_ids,
            unknown=unknown,
            fmt=ids_format,  # type: ignore[arg-type]  # click.Choice guarantees it
        )
        click.echo(f"wrote {rows} ids to {write_ids}")
    if not no_serve:
        anyio.run(serve_until_signal, config, host, port)


def _pairs(flag: str, values: tuple[str, ...]) -> dict[str, str]:
    pairs = dict(value.partition(":")[::2] for value in values)
    if any(not key or not secret for key, secret in pairs.items()):
        raise click.BadParameter(f"{flag} expects NAME:SECRET")
    return pairs


@main.command()
@output_option
@click.option("--images", type=click.IntRange(1), default=3000, show_default=True)
@click.option("--projects", type=click.IntRange(1), default=30, show_default=True)
@click.option("--unknown", type=click.IntRange(0), default=120, show_default=True)
@concurrency_option
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@reports_errors
def demo(
    output_dir: Path,
    images: int,
    projects: int,
    unknown: int,
    concurrency: int,
    seed: int,
    quiet: bool,
) -> None:
    """Crawl a simulated cloud started in-process on loopback and summarise the snapshot."""
    spec = InventorySpec(images=images, projects=projects, seed=seed)
    code = run_demo(spec, output_dir, unknown=unknown, concurrency=concurrency, quiet=quiet)
    sys.exit(code)


@main.command()
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


@main.group()
def snapshots() -> None:
    """List the runs under an output root, find the latest snapshot, prune old runs."""


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


@snapshots.command("list")
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


@snapshots.command()
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


@snapshots.command("prune")
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


main.add_command(audit)
main.add_command(diff)
main.add_command(report)
main.add_command(publish)
main.add_command(discover_command)
