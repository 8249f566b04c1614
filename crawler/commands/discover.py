"""``crawler discover``: list the images of projects into an ID list for ``crawler crawl``."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final, ParamSpec, TypeVar

import anyio
import click

from crawler.auth import auth_from_env
from crawler.auth.base import AuthProvider
from crawler.client import ImageClient
from crawler.cliutil import reports_errors, request_options, routing_options
from crawler.config import CrawlSettings
from crawler.discover import (
    DiscoveryReport,
    ListFilters,
    ProjectTarget,
    discover_images,
    nova_property_key,
    read_projects,
)
from crawler.discover.pagers import LISTED_STATUSES, MAX_PAGE_SIZE
from crawler.errors import ConfigError
from crawler.ratelimit import RateLimits
from crawler.retry import Fetcher, RetryPolicy
from crawler.routing import Router

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED_PROJECTS: Final = 4  # the list is written, but some projects are missing from it
HEADER: Final = ("project_id", "region", "image_id")  # accepted by `crawler crawl --input`


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not ISO 8601, e.g. 2025-01-31 or 2025-01-31T08:00:00+01:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _properties(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, equals, text = value.partition("=")
        if not equals or not key.strip():
            raise click.BadParameter(f"{value!r}: expected KEY=VALUE")
        pairs.append((key.strip(), text))
    return tuple(pairs)


def _check_nova_properties(api: str, filters: ListFilters) -> None:
    """The proxy would filter on another key; refuse rather than list the wrong images."""
    if api == "glance":
        return
    for key, _ in filters.properties:
        if nova_property_key(key) != key:
            raise ConfigError(
                f"--property {key}=...: the Nova proxy strips the leading characters of"
                f" 'property-' from the key and would filter on {nova_property_key(key)!r};"
                " use --api glance for this property"
            )


def list_filter_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--status``, ``--changes-since``, ``--property``, ``--page-size``, ``--all-visible``
    (discover, and crawl --discover)."""
    options = (
        click.option(
            "--status",
            type=click.Choice(LISTED_STATUSES, case_sensitive=False),
            default=None,
            help="Only images in this (Glance) status; the Nova proxy passes it on lower-cased.",
        ),
        click.option(
            "--changes-since",
            metavar="ISO8601",
            callback=_since,
            help="Only images updated at or after this time (no offset: UTC). Nova changes-since,"
            " Glance updated_at=gte:.",
        ),
        click.option(
            "--property",
            "properties",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_properties,
            help="Only images whose property KEY equals VALUE (repeatable; all must match). Through"
            " the Nova proxy, keys starting with p, r, o, e, t, y or '-' are refused (Nova mangles"
            " them): use --api glance.",
        ),
        click.option(
            "--page-size",
            type=click.IntRange(1, MAX_PAGE_SIZE),
            default=MAX_PAGE_SIZE,
            show_default=True,
            help="Images per list request (both APIs allow at most 1000).",
        ),
        click.option(
            "--all-visible",
            is_flag=True,
            help="Also list public and shared images of other owners. Default: only each project's"
            " own images where the API can filter by owner (Glance); the Nova proxy cannot, so"
            " through it every visible image is listed anyway (each written once).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def filters_from(
    api: str,
    status: str | None,
    changes_since: datetime | None,
    properties: tuple[tuple[str, str], ...],
    all_visible: bool,
) -> ListFilters:
    """The list filters the options ask for.

    Raises:
        ConfigError: a filter is invalid, or the proxy would mangle a property key.
    """
    filters = ListFilters(status, changes_since, properties, owned_only=not all_visible)
    _check_nova_properties(api, filters)
    return filters


@contextmanager
def _id_list(out: str) -> Iterator[IO[str]]:
    """The output: stdout as it comes, or a file that appears whole (temp, fsync, rename)."""
    if out == "-":
        yield sys.stdout
        return
    path = Path(out)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with scratch.open("w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        scratch.replace(path)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write the ID list: {exc.strerror}") from exc
    finally:
        scratch.unlink(missing_ok=True)


async def _run(
    settings: CrawlSettings,
    auth: AuthProvider,
    targets: Sequence[ProjectTarget],
    filters: ListFilters,
    page_size: int,
    handle: IO[str],
) -> tuple[DiscoveryReport, list[str]]:
    async with ImageClient(settings) as client:
        router = Router(
            settings.compute, settings.image, settings.api, auth, default_region=settings.region
        )
        fetcher = Fetcher(
            client,
            auth,
            RateLimits(settings.rate, settings.rate_per_project),
            RetryPolicy(max_attempts=settings.max_attempts),
            router,
        )
        rows = csv.writer(handle, lineterminator="\n")
        rows.writerow(HEADER)
        # A page's rows are a few kB of buffered writes: not worth a worker thread.
        report = await discover_images(
            fetcher, targets, filters, page_size, settings.concurrency, rows.writerows
        )
        retries = ", ".join(f"{k}={v}" for k, v in sorted(fetcher.stats.retries.items()))
        lines = [f"requests: {client.requests} (retries: {retries or 'none'})"]
        lines += [f"switched to glance: {root}" for root in router.stats.switched]
    return report, lines


def _summary(report: DiscoveryReport, out: str, filters: ListFilters) -> list[str]:
    by_api = ", ".join(f"{api}: {n}" for api, n in sorted(report.pages_by_api.items()))
    lines = [
        f"projects: {report.projects} (failed: {len(report.failures)})",
        f"pages:    {report.pages}" + (f" ({by_api})" if by_api else ""),
        f"images:   {report.written} written to {'stdout' if out == '-' else out}"
        f" (listed {report.listed}, duplicates skipped {report.duplicates}"
        f", ids that are not UUIDs skipped {report.invalid_ids})",
    ]
    if filters.owned_only and report.pages_by_api.get("nova"):
        lines.append(
            "note:     the Nova proxy cannot filter by owner: its pages hold every image the"
            " projects see (public and shared ones included, each written once)"
        )
    for failure in report.failures:
        error = failure.error
        status = f" HTTP {error.http_status}" if error.http_status else ""
        region = f" region {failure.region}" if failure.region else ""
        request = f" [request id {error.request_id}]" if error.request_id else ""
        lines.append(
            f"failed:   project {failure.project_id}{region}: {error.kind.value}{status}"
            f" after {failure.pages} pages: {error.message}{request}"
        )
    return lines


@click.command()
@click.option(
    "--projects",
    "projects_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Projects to list: CSV with header project_id[,region], or one project id per line"
    " ('#' comments and blank lines allowed).",
)
@routing_options
@request_options
@list_filter_options
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Projects listed at once (each reads its pages one after another).",
)
@click.option(
    "--out",
    default="-",
    show_default=True,
    metavar="FILE|-",
    help="Where the ID list goes (CSV project_id,region,image_id); a file appears only whole.",
)
@reports_errors
def discover(
    projects_path: Path,
    endpoint: tuple[str, ...],
    image_endpoint: tuple[str, ...],
    api: str,
    region: str | None,
    rate: float | None,
    max_attempts: int,
    insecure: bool,
    status: str | None,
    changes_since: datetime | None,
    properties: tuple[tuple[str, str], ...],
    page_size: int,
    all_visible: bool,
    concurrency: int,
    out: str,
) -> None:
    """List the images of projects into an ID list that `crawler crawl --input` reads.

    Each image is written once, under the first project that listed it. Exit 4 when some
    projects could not be listed: the list still holds what was found, and stderr names each
    failed project with its error. Credentials come from the environment, as for crawl.
    """
    auth = auth_from_env(os.environ)
    filters = filters_from(api, status, changes_since, properties, all_visible)
    settings = CrawlSettings(
        endpoint=endpoint,
        image_endpoint=image_endpoint,
        api=api,  # type: ignore[arg-type]  # click.Choice guarantees it
        region=region,
        input_path=str(projects_path),
        concurrency=concurrency,
        rate=rate,
        max_attempts=max_attempts,
        verify_tls=auth.verify_tls and not insecure,
    )
    targets = read_projects(projects_path)
    with _id_list(out) as handle:
        report, request_lines = anyio.run(_run, settings, auth, targets, filters, page_size, handle)
    for line in [*_summary(report, out, filters), *request_lines]:
        click.echo(line, err=True)
    sys.exit(EXIT_FAILED_PROJECTS if report.failures else 0)
