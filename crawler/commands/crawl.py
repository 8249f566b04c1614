"""``crawler crawl``: fetch every image of an ID list (or a discovery) into a snapshot."""

from __future__ import annotations

import functools
import gc
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import anyio
import click

from crawler.auth import auth_from_env
from crawler.cliutil import (
    concurrency_option,
    lifecycle_option,
    reports_errors,
    request_options,
    routing_options,
)
from crawler.commands.discover import filters_from, list_filter_options
from crawler.commands.publish import output_target_options
from crawler.config import CrawlSettings, parse_formats, parse_shard
from crawler.crawl import Crawl
from crawler.discover import ListFilters
from crawler.discover.snapshot import DiscoverySettings
from crawler.errors import ConfigError, CrawlerError
from crawler.inputs import Shard
from crawler.metrics import previous_success, render_metrics, write_metrics
from crawler.objectstore import Destination
from crawler.progress import wanted as progress_wanted
from crawler.runner import run_with_signals, summary

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


@click.command()
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
