"""List one project's images page by page, through the crawl's fetcher.

The first page is routed like an image request (endpoints, ``--api auto`` probe, auth,
limits, retries), so a cloud without the Nova proxy is listed through Glance after one
probe; the following pages are fixed URLs fetched with the same retries. An unrecoverable
answer ends the listing with ``ListingFailed``, after the pages already yielded.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from yarl import URL

from crawler.discover.pagers import PAGERS, ListFilters, Page
from crawler.endpoints import Api
from crawler.errors import CrawlerError, InvalidRecordError
from crawler.inputs import ImageRef
from crawler.keyset import DIGEST_SIZE, KeySet, digests_array
from crawler.normalize import flatten_glance_image, flatten_nova_image
from crawler.outcomes import ErrorRecord, Fetched
from crawler.retry import Fetcher


@dataclass(frozen=True, slots=True)
class ListedPage:
    """One page of a project's list; ``number`` counts from 1."""

    api: Api
    project_id: str
    region: str | None
    records: list[Mapping[str, object]]
    fetched_at: datetime
    request_id: str | None
    number: int


class ListingFailed(CrawlerError):
    """Raised by ``list_project`` when a page cannot be had: ``error`` says why, ``pages``
    how many pages were listed before (their images stay valid)."""

    exit_code = 4

    def __init__(self, error: ErrorRecord, pages: int) -> None:
        status = f" (HTTP {error.http_status})" if error.http_status else ""
        super().__init__(
            f"{error.kind.value}{status} after {pages} pages: {error.message}"
            + (f" [request id {error.request_id}]" if error.request_id else "")
        )
        # The fetcher files a listing under an empty image id; a listing has none.
        self.error = error if error.image_id else dataclasses.replace(error, image_id=None)
        self.pages = pages


class _LoopGuard:
    """Remembers every next URL and marker of one listing as 16-byte digests.

    A server that hands out a link or marker a second time would page forever; digests keep
    the memory at ~40 bytes a page however long the list.
    """

    def __init__(self) -> None:
        self._seen = KeySet(capacity=64)

    def repeats(self, url: URL) -> str | None:
        """Why ``url`` means a loop, or None when it is new."""
        marker = url.query.get("marker")
        texts = [f"url {url}", *([f"marker {marker}"] if marker is not None else [])]
        digests = [hashlib.blake2b(t.encode(), digest_size=DIGEST_SIZE).digest() for t in texts]
        new = self._seen.add(digests_array(digests))
        if not new[0]:
            return f"the server sent the same next link twice ({url}): it pages in a loop"
        if len(new) > 1 and not new[1]:
            return f"the server repeats marker {marker}: it pages in a loop"
        return None


async def list_project(
    fetcher: Fetcher,
    project_id: str,
    region: str | None,
    filters: ListFilters,
    page_size: int,
) -> AsyncIterator[ListedPage]:
    """Yield the pages of ``project_id``'s images in ``region`` that match ``filters``.

    Raises:
        ListingFailed: a page failed beyond retries, was not a list page, or the server
            paged in a loop.
        ConfigError: from the fetcher, when the endpoint is not an images API at all.
    """
    ref = ImageRef(project_id, "", region)
    built: dict[Api, URL] = {}  # the first page's URL per API tried, to read its links

    def first_url(item: ImageRef, api: Api, root: str) -> URL:
        built[api] = PAGERS[api].first_url(root, item.project_id, filters, page_size)
        return built[api]

    outcome = await fetcher.fetch(ref, url_of=first_url)
    url = built.get(outcome.api) if isinstance(outcome, Fetched) else None
    guard = _LoopGuard()
    number = 0
    while True:
        if isinstance(outcome, ErrorRecord):
            raise ListingFailed(outcome, number)
        assert url is not None
        try:
            page: Page = PAGERS[outcome.api].parse(outcome.body, url)
        except InvalidRecordError as exc:
            raise ListingFailed(
                outcome.invalid(project_id, region, None, str(exc)), number
            ) from exc
        number += 1
        yield ListedPage(
            outcome.api,
            project_id,
            region,
            page.records,
            outcome.at,
            outcome.request_id,
            number,
        )
        if page.next_url is None:
            return
        if (loop := guard.repeats(page.next_url)) is not None:
            raise ListingFailed(outcome.invalid(project_id, region, None, loop), number)
        url = page.next_url
        outcome = await fetcher.fetch_url(ref, outcome.api, url)


def row_of(
    page_api: Api,
    record: Mapping[str, object],
    project_id: str,
    region: str | None,
    fetched_at: datetime,
) -> dict[str, object]:
    """Flatten one list record into an images-table row (a list item is the same image
    object a single-image request returns; Nova's merely lacks the ``image`` wrapper).

    Raises:
        InvalidRecordError: the record is not an image.
    """
    if page_api == "glance":
        return flatten_glance_image(
            record, project_id=project_id, region=region, fetched_at=fetched_at
        )
    return flatten_nova_image(
        {"image": record}, project_id=project_id, region=region, fetched_at=fetched_at
    )
