"""``crawl --discover``: a snapshot straight from list pages, with no request per image.

A list page already carries full image records, so each project is one pool item whose
pages become rows as they arrive: ``Discovery.stream`` is the pool's worker function. The
projects file takes the place of the ID list, and its counts keep the manifest's
reconciliation: every listed image is an input record, an image listed again (a public one,
seen by several projects through the proxy) a duplicate, and a project whose listing failed
one failed input with its cause.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from crawler.discover.lister import ListedPage, ListingFailed, list_project, row_of
from crawler.discover.pagers import ListFilters
from crawler.discover.projects import read_projects
from crawler.errors import InvalidRecordError
from crawler.inputs import ImageRef, InputStats
from crawler.keyset import KeySet, digests_array, pair_digest
from crawler.outcomes import ErrorKind, ErrorRecord
from crawler.pool import Emit, Outcome, Row
from crawler.retry import Fetcher
from crawler.snapshot import sha256_file


class ProjectItems:
    """The projects file as pool items (image id ""), and the counts of what was listed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stats = InputStats(source=path, format="projects")
        self.done: KeySet | None = None  # a discovery run is never resumed

    def __iter__(self) -> Iterator[ImageRef]:
        path = Path(self.path)
        self.stats.sha256, self.stats.bytes_read = sha256_file(path), path.stat().st_size
        for target in read_projects(path):
            yield ImageRef(target.project_id, "", target.region)


@dataclass(slots=True)
class DiscoveryStats:
    """For the manifest; ``requests_saved`` is what a per-image crawl would have sent more."""

    projects: int = 0
    failed_projects: int = 0
    pages: int = 0
    listed: int = 0

    def as_dict(self, requests: int) -> dict[str, object]:
        return {
            "projects": self.projects,
            "failed_projects": self.failed_projects,
            "pages": self.pages,
            "images_listed": self.listed,
            "requests_saved": max(0, self.listed - requests),
        }


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    """What ``crawl --discover`` lists."""

    filters: ListFilters
    page_size: int = 1000

    def describe(self) -> dict[str, object]:
        filters = self.filters
        return {
            "page_size": self.page_size,
            "status": filters.status,
            "changes_since": None
            if filters.changes_since is None
            else filters.changes_since.isoformat(),
            "properties": dict(filters.properties),
            "owned_only": filters.owned_only,
        }


class Discovery:
    """Lists one project per pool item and emits its images as rows."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: DiscoverySettings,
        items: ProjectItems,
        fill_row: Callable[[Row], None],
    ) -> None:
        self._fetcher = fetcher
        self._settings = settings
        self._items = items
        self._fill_row = fill_row
        self._seen = KeySet()
        self.stats = DiscoveryStats()

    async def stream(self, ref: ImageRef, emit: Emit) -> None:
        """List ``ref``'s project and emit a row or error for every new image on its pages."""
        settings, input_stats = self._settings, self._items.stats
        try:
            async for page in list_project(
                self._fetcher, ref.project_id, ref.region, settings.filters, settings.page_size
            ):
                self.stats.pages += 1
                fresh = self._fresh(page)
                # Flattening a 1000-record page takes tens of milliseconds: off the loop.
                outcomes = await anyio.to_thread.run_sync(self._outcomes, page, fresh)
                for outcome in outcomes:
                    await emit(outcome)
        except ListingFailed as failure:
            self.stats.failed_projects += 1
            input_stats.records += 1
            input_stats.unique += 1
            message = f"listing the project's images failed: {failure}"
            await emit(dataclasses.replace(failure.error, message=message[:500]))
        self.stats.projects += 1

    def _fresh(self, page: ListedPage) -> list[bool]:
        """Which records are new to the run (de-duplicated by region and image id)."""
        ids = [_image_id(record) for record in page.records]
        region = page.region or ""
        keys = [pair_digest(region, i) for i in ids if i is not None]
        new = iter(self._seen.add(digests_array(keys)).tolist() if keys else [])
        fresh = [True if i is None else bool(next(new)) for i in ids]
        stats = self._items.stats
        stats.records += len(ids)
        stats.unique += sum(fresh)
        stats.duplicates += len(ids) - sum(fresh)
        self.stats.listed += len(ids)
        return fresh

    def _outcomes(self, page: ListedPage, fresh: list[bool]) -> list[Outcome]:
        found: list[Outcome] = []
        for record, new in zip(page.records, fresh, strict=True):
            if new:
                found.append(self._outcome(page, record))
        return found

    def _outcome(self, page: ListedPage, record: Mapping[str, object]) -> Outcome:
        try:
            row = row_of(page.api, record, page.project_id, page.region, page.fetched_at)
        except InvalidRecordError as exc:
            return ErrorRecord(
                page.project_id,
                page.region,
                _image_id(record),
                ErrorKind.INVALID_RESPONSE,
                200,
                1,
                f"list page {page.number}: {exc}",
                page.request_id,
                page.fetched_at,
            )
        self._fill_row(row)
        return row


def _image_id(record: Mapping[str, object]) -> str | None:
    value = record.get("id")
    return value if isinstance(value, str) else None
