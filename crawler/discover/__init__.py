"""Discovery: list the images of many projects and write each image id once.

Modules: ``pagers`` (pure: list URLs and pages per API), ``lister`` (one project's pages
through the crawl's fetcher), ``projects`` (the projects file). ``discover_images`` runs
``concurrency`` workers over the projects; their pages flow through a bounded stream to one
consumer that de-duplicates (region, image id) pairs in a ``KeySet`` and hands new rows to
``emit``, so memory stays flat however many images there are. A failed project is recorded
with its cause and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import anyio
from anyio.abc import ObjectSendStream

from crawler.discover.lister import ListedPage, ListingFailed, list_project, row_of
from crawler.discover.pagers import PAGERS, ListFilters, Page, Pager, nova_property_key
from crawler.discover.projects import ProjectTarget, read_projects
from crawler.errors import CrawlerError, sole_exception
from crawler.inputs import IMAGE_ID_RE
from crawler.keyset import KeySet, digests_array, pair_digest
from crawler.outcomes import ErrorRecord
from crawler.retry import Fetcher

__all__ = [
    "PAGERS",
    "DiscoveryReport",
    "Emit",
    "IdRow",
    "ListFilters",
    "ListedPage",
    "ListingFailed",
    "Page",
    "Pager",
    "ProjectFailure",
    "ProjectTarget",
    "discover_images",
    "list_project",
    "nova_property_key",
    "read_projects",
    "row_of",
]

IdRow = tuple[str, str, str]  # project_id, region ("" for none), image_id
Emit = Callable[[Sequence[IdRow]], None]


@dataclass(frozen=True, slots=True)
class ProjectFailure:
    """A project whose listing stopped: why, and after how many pages."""

    project_id: str
    region: str | None
    error: ErrorRecord
    pages: int


@dataclass(slots=True)
class DiscoveryReport:
    """What a discovery did (complete once ``discover_images`` returns)."""

    projects: int = 0
    pages: int = 0
    pages_by_api: dict[str, int] = field(default_factory=dict)
    listed: int = 0  # records in all pages
    written: int = 0  # distinct (region, image id) pairs handed to emit
    duplicates: int = 0  # listed again (public images seen from several projects)
    invalid_ids: int = 0  # ids that are not UUIDs: `crawler crawl` would reject them
    failures: list[ProjectFailure] = field(default_factory=list)

    def count(self, page: ListedPage, written: int, invalid: int) -> None:
        self.pages += 1
        self.pages_by_api[page.api] = self.pages_by_api.get(page.api, 0) + 1
        self.listed += len(page.records)
        self.written += written
        self.invalid_ids += invalid
        self.duplicates += len(page.records) - written - invalid


async def _list_worker(
    fetcher: Fetcher,
    targets: Iterator[ProjectTarget],
    filters: ListFilters,
    page_size: int,
    send: ObjectSendStream[ListedPage],
    report: DiscoveryReport,
) -> None:
    async with send:
        for target in targets:  # shared by every worker: each project is taken once
            region = fetcher.router.region_of(target.region)
            try:
                async for page in list_project(
                    fetcher, target.project_id, region, filters, page_size
                ):
                    await send.send(page)
            except ListingFailed as failed:
                report.failures.append(
                    ProjectFailure(target.project_id, region, failed.error, failed.pages)
                )


def _new_rows(page: ListedPage, seen: KeySet, report: DiscoveryReport) -> list[IdRow]:
    region = page.region or ""
    ids = [str(record["id"]).lower() for record in page.records]
    valid = [image_id for image_id in ids if IMAGE_ID_RE.fullmatch(image_id)]
    keys = digests_array([pair_digest(region, image_id) for image_id in valid])
    rows = [
        (page.project_id, region, image_id)
        for image_id, new in zip(valid, seen.add(keys), strict=True)
        if new
    ]
    report.count(page, len(rows), len(ids) - len(valid))
    return rows


async def discover_images(
    fetcher: Fetcher,
    targets: Sequence[ProjectTarget],
    filters: ListFilters,
    page_size: int,
    concurrency: int,
    emit: Emit,
) -> DiscoveryReport:
    """List every target's images, ``concurrency`` projects at once; ``emit`` new rows.

    An image listed again (in the same region) is counted as a duplicate, not emitted: the
    first project that listed it names it.

    Raises:
        CrawlerError: a run-wide problem (e.g. the endpoint is not an images API at all).
    """
    report = DiscoveryReport(projects=len(targets))
    seen = KeySet()
    queue = iter(targets)
    # A worker holds at most one page while it waits: memory is bounded by the stream.
    send, receive = anyio.create_memory_object_stream[ListedPage](concurrency)
    try:
        async with anyio.create_task_group() as group:
            for _ in range(min(concurrency, len(targets))):
                group.start_soon(
                    _list_worker, fetcher, queue, filters, page_size, send.clone(), report
                )
            send.close()
            async with receive:
                async for page in receive:
                    emit(_new_rows(page, seen, report))
    except BaseExceptionGroup as group_error:
        error = sole_exception(group_error)
        if isinstance(error, CrawlerError):
            raise error from None
        raise
    report.failures.sort(key=lambda failure: (failure.project_id, failure.region or ""))
    return report
