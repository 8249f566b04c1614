"""How each API pages through a project's images: the first URL and reading a page (pure).

Nova proxy: ``{root}/v2.1/{project}/images/detail?limit=N``; the next page is the ``href`` of
``images_links`` rel ``next``. Glance v2: ``{root}/v2/images?limit=N``; the next page is the
relative ``next`` path (API.md 1.3, 1.6, 2.2). Either way only the link's *query* is kept and
put on the URL of the page just read: Nova builds its hrefs from its own host and link
prefix, which may be unreachable from here, and Glance's path lacks any prefix of our root.

Filters are mapped the way Nova itself maps them onto Glance (API.md 1.2): ``status``
lower-cased, ``changes-since`` as ``updated_at=gte:``, ``property-KEY`` as ``KEY``. Only
Glance can keep the images of other owners out (``owner=``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol, TypeGuard

from yarl import URL

from crawler.endpoints import Api
from crawler.errors import ConfigError, InvalidRecordError

MAX_PAGE_SIZE: Final = 1000  # Glance api_limit_max and Nova [api] max_limit
# Glance statuses a list can contain (killed, deleted and pending_delete never are listed).
LISTED_STATUSES: Final = ("ACTIVE", "QUEUED", "SAVING", "UPLOADING", "IMPORTING", "DEACTIVATED")
# Query keys the pagers set themselves; a property filter of that name would break paging
# or silently mean something else.
RESERVED_KEYS: Final = frozenset(
    {"limit", "marker", "sort", "sort_key", "sort_dir", "owner", "status", "updated_at"}
)
_NOVA_PREFIX: Final = "property-"


@dataclass(frozen=True, slots=True)
class ListFilters:
    """What to list. Validated on construction.

    Attributes:
        status: Nova-style upper case (``ACTIVE``); None for any listed status.
        changes_since: Only images updated at or after this time (naive means UTC).
        properties: ``(key, value)`` pairs an image's property must equal.
        owned_only: Only the project's own images (Glance ``owner=``; Nova cannot).
    """

    status: str | None = None
    changes_since: datetime | None = None
    properties: tuple[tuple[str, str], ...] = ()
    owned_only: bool = False

    def __post_init__(self) -> None:
        if self.status is not None:
            status = self.status.upper()
            if status not in LISTED_STATUSES:
                raise ConfigError(
                    f"--status {self.status!r}: choose one of {', '.join(LISTED_STATUSES)}"
                    " (lists never hold killed, deleted or pending_delete images)"
                )
            object.__setattr__(self, "status", status)
        if self.changes_since is not None and self.changes_since.tzinfo is None:
            object.__setattr__(self, "changes_since", self.changes_since.replace(tzinfo=UTC))
        for key, _ in self.properties:
            if not key or key.lower() in RESERVED_KEYS:
                raise ConfigError(
                    f"--property {key!r}=...: not a property name the list can filter on"
                    f" (reserved: {', '.join(sorted(RESERVED_KEYS))})"
                )


def nova_property_key(key: str) -> str:
    """The property Glance filters on when Nova gets ``property-{key}``.

    Nova removes the prefix with ``str.lstrip('property-')``, which strips *characters*: a
    key starting with any of ``p r o e t y -`` loses them (``os_distro`` -> ``s_distro``).
    """
    return (_NOVA_PREFIX + key).lstrip(_NOVA_PREFIX)


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its image records (each a mapping with a string ``id``) and the next URL."""

    records: list[Mapping[str, object]]
    next_url: URL | None


class Pager(Protocol):
    """One API's list pagination."""

    @property
    def api(self) -> Api: ...

    def first_url(self, root: str, project_id: str, filters: ListFilters, page_size: int) -> URL:
        """The URL of the first page of ``project_id``'s images on ``root``."""
        ...

    def parse(self, body: object, url: URL) -> Page:
        """Read the decoded body of the page fetched from ``url``.

        Raises:
            InvalidRecordError: the body is not a page of this API.
        """
        ...


def _check_page_size(page_size: int) -> str:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"--page-size {page_size}: expected 1..{MAX_PAGE_SIZE}")
    return str(page_size)


def _iso(when: datetime, *, zulu: bool) -> str:
    text = when.astimezone(UTC).replace(microsecond=0).isoformat()
    return text.replace("+00:00", "Z") if zulu else text


def _is_mapping(value: object) -> TypeGuard[Mapping[str, object]]:
    return isinstance(value, Mapping)


def _records(body: object) -> tuple[Mapping[str, object], list[Mapping[str, object]]]:
    if not _is_mapping(body):
        raise InvalidRecordError(f"list page: expected a JSON object, got {type(body).__name__}")
    images = body.get("images")
    if not isinstance(images, list):
        raise InvalidRecordError("list page has no 'images' array")
    records: list[Mapping[str, object]] = []
    for position, image in enumerate(images):
        if not _is_mapping(image) or not isinstance(image.get("id"), str):
            raise InvalidRecordError(f"list page: images[{position}] has no string 'id'")
        records.append(image)
    return body, records


def _next_on(url: URL, link: str, path_tail: str) -> URL:
    """``url`` with the query of ``link``, after checking ``link`` names the same list."""
    target = URL(link)
    if not target.path.rstrip("/").endswith(path_tail):
        raise InvalidRecordError(f"next link {link!r} does not point to {path_tail}")
    base = str(url.with_query(None))
    query = target.raw_query_string
    # The query goes on as the server encoded it: decoding and encoding again could change it.
    return URL(f"{base}?{query}" if query else base, encoded=True)


class NovaPager:
    """``GET /v2.1/{project}/images/detail`` (the proxy lists what the project sees)."""

    api: Final[Api] = "nova"

    def first_url(self, root: str, project_id: str, filters: ListFilters, page_size: int) -> URL:
        query = [("limit", _check_page_size(page_size))]
        if filters.status is not None:
            query.append(("status", filters.status))
        if filters.changes_since is not None:
            query.append(("changes-since", _iso(filters.changes_since, zulu=False)))
        query.extend((_NOVA_PREFIX + key, value) for key, value in filters.properties)
        return URL(root).joinpath("v2.1", project_id, "images", "detail").with_query(query)

    def parse(self, body: object, url: URL) -> Page:
        page, records = _records(body)
        links = page.get("images_links") or []
        if not isinstance(links, list):
            raise InvalidRecordError("list page: 'images_links' is not an array")
        hrefs = [
            link.get("href") for link in links if _is_mapping(link) and link.get("rel") == "next"
        ]
        if not hrefs:
            return Page(records, None)
        if not isinstance(hrefs[0], str):
            raise InvalidRecordError("list page: the next link has no string 'href'")
        return Page(records, _next_on(url, hrefs[0], "/images/detail"))


class GlancePager:
    """``GET /v2/images`` (the caller's project comes from its credentials)."""

    api: Final[Api] = "glance"

    def first_url(self, root: str, project_id: str, filters: ListFilters, page_size: int) -> URL:
        query = [("limit", _check_page_size(page_size))]
        if filters.status is not None:
            query.append(("status", filters.status.lower()))
        if filters.changes_since is not None:
            query.append(("updated_at", "gte:" + _iso(filters.changes_since, zulu=True)))
        query.extend(filters.properties)
        if filters.owned_only:
            query.append(("owner", project_id))
        return URL(root).joinpath("v2", "images").with_query(query)

    def parse(self, body: object, url: URL) -> Page:
        page, records = _records(body)
        link = page.get("next")
        if link is None:
            return Page(records, None)
        if not isinstance(link, str):
            raise InvalidRecordError("list page: 'next' is not a string")
        return Page(records, _next_on(url, link, "/v2/images"))


PAGERS: Final[Mapping[Api, Pager]] = {"nova": NovaPager(), "glance": GlancePager()}
