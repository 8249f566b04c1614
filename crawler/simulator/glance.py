"""Glance v2 over the simulator's inventory, and the listing behind every image list.

``GET /v2/images/{image_id}`` answers the Glance image object itself (custom properties at
top level, status lower-case); ``GET /v2/images`` pages through the images the caller
sees as Glance does (API.md 2.1-2.4). Nova's ``/images/detail`` (in ``app``) reuses
:class:`Listing` with Nova's parameters (:func:`parse_nova_query`).

Who is asking: Glance has no project in its URLs. With a Keystone token the project is the
token's; otherwise (static token, AK/SK, or no auth configured) it is ``X-Project-Id``, the
header keystonemiddleware hands to Glance and Huawei's signed requests carry. Without
either the caller is anonymous and sees public images only, like Glance's
``allow_anonymous_access``. Credentials are checked by the Nova route's :class:`Guard`.

What a project sees: the images it owns and every public one (the Nova route's rule).
Show answers 404 "No image found with ID <id>" for anything else, and for deleted and
pending_delete images; killed ones are shown. Lists never contain deleted, pending_delete
or killed images.

Lists are sorted by ``created_at`` then ``id``, descending (Glance's default; ``asc``
reverses both). :class:`ListingIndex` holds the sort order of the listable images in
numpy arrays, built once on the first list request (about 8 s per million images, more
with revisions);
a page then scans only the index positions after its marker, testing visibility, status,
owner and time filters on the arrays and the other filters on the records it reads.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import threading
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
from aiohttp import web
from multidict import CIMultiDict, MultiMapping

from crawler.simulator.config import SimulatorConfig
from crawler.simulator.guard import Guard, credential_of
from crawler.simulator.injector import FaultPlan
from crawler.simulator.inventory import HIDDEN_STATUSES, Inventory
from crawler.simulator.outcomes import answer_fault
from crawler.simulator.ratelimit import Clock
from crawler.simulator.records import listing_fields, uuid4_text
from crawler.simulator.revisions import apply_change, events, night_time
from crawler.simulator.stats import SimulatorStats
from crawler.simulator.tokens import TokenStore

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "BadQuery",
    "GlanceRoute",
    "ListQuery",
    "Listing",
    "ListingIndex",
    "parse_glance_query",
    "parse_nova_query",
]

#: Glance's ``limit_param_default`` and ``api_limit_max``.
DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 1000
STATUSES: Final = (
    *("queued", "saving", "active", "killed", "deleted", "uploading", "importing"),
    *("pending_delete", "deactivated"),
)
UNLISTED: Final = frozenset({"killed", "deleted", "pending_delete"})
VISIBILITIES: Final = ("public", "private", "shared", "community")
_PUBLIC: Final = VISIBILITIES.index("public")
_NOBODY: Final = -1  # project number that owns nothing: anonymous, or not in the inventory
_TIME_OPS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
}
_IN_KEYS: Final = ("name", "id", "disk_format", "container_format")
_TITLES: Final = {400: "Bad Request", 404: "Not Found"}

Record = dict[str, object]
Check = Callable[[Mapping[str, object]], bool]
TimeFilter = tuple[Callable[[Any, Any], Any], float]


class BadQuery(ValueError):
    """A list request Glance (or Nova) answers 400; the message is the explanation."""


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One list request, parsed.

    Attributes:
        limit: Page size; None for no limit (Nova without ``limit``).
        marker: Id of the last image of the previous page.
        descending: Newest first (the default).
        statuses: Only these statuses; None for any.
        visibility: Only this visibility; None (or ``all``) for any the caller sees.
        owner: Only images of this project.
        created: ``(compare, epoch seconds)`` tests on ``created_at``.
        updated: The same on ``updated_at``.
        checks: Tests on the whole record, for the other filters.
    """

    limit: int | None = DEFAULT_LIMIT
    marker: str | None = None
    descending: bool = True
    statuses: frozenset[str] | None = None
    visibility: str | None = None
    owner: str | None = None
    created: tuple[TimeFilter, ...] = ()
    updated: tuple[TimeFilter, ...] = ()
    checks: tuple[Check, ...] = ()


def _seconds(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 time (naive is UTC), or None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _entry(inventory: Inventory, index: int) -> tuple[int, int, str, str, str] | None:
    """``(created, updated, owner, visibility, status)`` of a listable image, else None.

    Cheap: one digest plus the revision events, never the whole record. Mirrors
    ``Inventory._history`` (tests compare the two over whole inventories).
    """
    digest = inventory._digest(index)  # the inventory's own key: no public equivalent
    status, visibility, created, updated = listing_fields(digest)
    if status in UNLISTED:
        return None
    born = inventory.born(index)
    if born:
        created = updated = int(_seconds(night_time(born, digest[-1] * 300)) or 0)
    revision = inventory.spec.revision
    if revision > born:
        scratch: Record = {"status": status}
        for event in events(inventory._revision_key, index, born, revision):
            if event.kind == "delete":
                return None
            apply_change(scratch, event)  # only status and updated_at are read back
        if "updated_at" in scratch:
            updated = int(_seconds(str(scratch["updated_at"])) or 0)
            status = str(scratch["status"])
    return created, updated, inventory._owner_of(digest), visibility, status


class ListingIndex:
    """The listable images in list order (``created_at`` desc, ``id`` desc), as arrays.

    Position ``p`` holds image ``index[p]``, its negated creation time, update time, owner
    (number in ``projects``), visibility (in :data:`VISIBILITIES`) and status (in
    :data:`STATUSES`).
    """

    __slots__ = ("index", "neg_created", "owner", "projects", "status", "updated", "vis")

    def __init__(self, inventory: Inventory) -> None:
        self.projects = projects = {name: n for n, name in enumerate(inventory.projects)}
        vis_code = {name: n for n, name in enumerate(VISIBILITIES)}
        status_code = {name: n for n, name in enumerate(STATUSES)}
        cols = [array("q") for _ in range(6)]  # index, created, updated, owner, vis, status
        appends = [col.append for col in cols]  # a million rounds: bound methods save 20%
        for i in range(len(inventory)):
            entry = _entry(inventory, i)
            if entry is not None:
                appends[0](i)
                appends[1](entry[0])
                appends[2](entry[1])
                appends[3](projects[entry[2]])
                appends[4](vis_code[entry[3]])
                appends[5](status_code[entry[4]])
        index, created, updated, owner, vis, status = (np.frombuffer(c, np.int64) for c in cols)
        order = _list_order(inventory, index, created)
        self.index = index[order]
        self.neg_created = -created[order]
        self.updated = updated[order]
        self.owner = owner[order].astype(np.int32)
        self.vis = vis[order].astype(np.int8)
        self.status = status[order].astype(np.int8)

    def __len__(self) -> int:
        return len(self.index)

    def start(self, inventory: Inventory, created: float, image_id: str, descending: bool) -> int:
        """Return where a scan after the image ``(created, image_id)`` starts.

        Descending scans go up from the returned position, ascending ones down from just
        below it. The image itself need not be in the index (a killed marker is not).
        """
        lo = int(np.searchsorted(self.neg_created, -created, "left"))
        hi = int(np.searchsorted(self.neg_created, -created, "right"))
        ids = [inventory.image_id(int(i)) for i in self.index[lo:hi]]  # descending
        if descending:
            return lo + sum(other >= image_id for other in ids)
        return lo + sum(other > image_id for other in ids)

    def scan(self, start: int, descending: bool, mask: MaskFn) -> Iterator[int]:
        """Yield image indices from ``start`` on, in list order, where ``mask`` holds."""
        chunk, n = 64, len(self.index)
        pos = start
        while (pos < n) if descending else (pos > 0):
            lo, hi = (pos, min(n, pos + chunk)) if descending else (max(0, pos - chunk), pos)
            hits = np.flatnonzero(mask(self, slice(lo, hi))) + lo
            yield from self.index[hits if descending else hits[::-1]].tolist()
            pos = hi if descending else lo
            chunk = min(chunk * 4, 65536)


MaskFn = Callable[[ListingIndex, slice], npt.NDArray[np.bool_]]


def _list_order(
    inventory: Inventory, index: npt.NDArray[np.int64], created: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Positions sorting by created desc, then id desc (ids computed for ties only)."""
    values, counts = np.unique(created, return_counts=True)
    tied = np.flatnonzero(np.isin(created, values[counts > 1]))
    hi, lo = np.zeros(len(index), np.uint64), np.zeros(len(index), np.uint64)
    for k in tied.tolist():
        digits = inventory.image_id(int(index[k])).replace("-", "")
        hi[k], lo[k] = int(digits[:16], 16), int(digits[16:], 16)
    return np.lexsort((lo, hi, created))[::-1]


def _mask_for(query: ListQuery, project: int, owner: int | None) -> MaskFn:
    """The array part of ``query`` for a caller of project number ``project``."""
    statuses = None if query.statuses is None else [STATUSES.index(s) for s in query.statuses]
    visibility = (
        None if query.visibility in (None, "all") else VISIBILITIES.index(str(query.visibility))
    )

    def mask(ix: ListingIndex, sl: slice) -> npt.NDArray[np.bool_]:
        vis = ix.vis[sl]
        keep: npt.NDArray[np.bool_] = (ix.owner[sl] == project) | (vis == _PUBLIC)
        if visibility is not None:
            keep &= vis == visibility
        if owner is not None:
            keep &= ix.owner[sl] == owner
        if statuses is not None:
            keep &= np.isin(ix.status[sl], statuses)
        for compare, value in query.created:
            keep &= compare(-ix.neg_created[sl], value)
        for compare, value in query.updated:
            keep &= compare(ix.updated[sl], value)
        return keep

    return mask


class Listing:
    """Visibility and pages of one inventory; the index is built on first use."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._index: ListingIndex | None = None
        self._lock = threading.Lock()

    async def ready(self) -> None:
        """Build the index if needed, off the event loop."""
        if self._index is None:
            await asyncio.to_thread(self.index)

    def index(self) -> ListingIndex:
        """Return the index, building it now if needed."""
        with self._lock:
            if self._index is None:
                self._index = ListingIndex(self.inventory)
            return self._index

    def visible(self, image_id: str, project: str | None) -> Record | None:
        """Return the record of ``image_id`` if ``project`` may see it, else None.

        None also for deleted and pending_delete images (Glance's 404).
        """
        index = self.inventory.lookup(image_id)
        record = None if index is None else self.inventory.record(index)
        if record is None or record["status"] in HIDDEN_STATUSES:
            return None
        if record["owner"] != project and record["visibility"] != "public":
            return None
        return record

    def page(self, query: ListQuery, project: str | None) -> list[Record]:
        """Return the records of one page for ``project`` (None: anonymous).

        Raises:
            BadQuery: the marker is unknown, deleted or not visible to ``project``.
        """
        ix = self.index()
        if query.marker is None:
            start = 0 if query.descending else len(ix)
        else:
            marker = self.visible(query.marker, project)
            if marker is None:
                raise BadQuery(f"No image found with ID {query.marker}")
            created = _seconds(str(marker["created_at"])) or 0.0
            start = ix.start(self.inventory, created, str(marker["id"]), query.descending)
        found: list[Record] = []
        if query.limit == 0:
            return found
        number = ix.projects.get(project or "", _NOBODY)
        owner = None if query.owner is None else ix.projects.get(query.owner, _NOBODY)
        for i in ix.scan(start, query.descending, _mask_for(query, number, owner)):
            record = self.inventory.record(i)
            if record is not None and all(check(record) for check in query.checks):
                found.append(record)
                if len(found) == query.limit:
                    break
        return found


# -- query parsing -------------------------------------------------------------------------


def _values(text: str) -> frozenset[str]:
    """``in:a,b`` or a single value."""
    return frozenset(text[3:].split(",")) if text.startswith("in:") else frozenset({text})


def _has(key: str, values: frozenset[str], record: Mapping[str, object]) -> bool:
    return record.get(key) in values


def _equals(key: str, text: str, record: Mapping[str, object]) -> bool:
    value = record.get(key)
    if value is None or isinstance(value, dict | list):
        return False
    if isinstance(value, bool):
        return text == str(value).lower()
    return str(value) == text


def _flag(key: str, wanted: bool, record: Mapping[str, object]) -> bool:
    return bool(record.get(key)) is wanted


def _size(minimum: bool, bound: int, record: Mapping[str, object]) -> bool:
    size = record.get("size")
    return isinstance(size, int) and (size >= bound if minimum else size <= bound)


def _tagged(tags: frozenset[str], record: Mapping[str, object]) -> bool:
    have = record.get("tags")
    return isinstance(have, list) and tags <= set(have)


def _time_filter(expression: str) -> TimeFilter:
    """Parse ``[op:]ISO-8601`` as Glance's ``split_filter_op`` does."""
    op, threshold = "eq", expression
    if _seconds(expression) is None and ":" in expression:
        op, _, threshold = expression.partition(":")
    compare = _TIME_OPS.get(op)
    if compare is None:
        raise BadQuery(f"Unable to filter on a unknown operator '{op}'.")
    seconds = _seconds(threshold)
    if seconds is None:
        raise BadQuery(f"Invalid date format '{threshold}'.")
    return compare, seconds


def _boolean(name: str, text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise BadQuery(
            f"Invalid value '{text}' for '{name}' filter. Valid values are 'true' or 'false'."
        )
    return text.lower() == "true"


def _glance_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise BadQuery("limit param must be an integer") from None
    if limit < 0:
        raise BadQuery("limit param must be positive")
    return min(limit, MAX_LIMIT)


def _descending(params: MultiMapping[str]) -> bool:
    """The sort direction; the simulator sorts by ``created_at`` (then ``id``) only."""
    pairs = [part.partition(":")[::2] for part in params.get("sort", "").split(",") if part]
    keys, dirs = params.getall("sort_key", []), params.getall("sort_dir", [])
    if pairs and (keys or dirs):
        raise BadQuery("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.")
    keys = keys or [key for key, _ in pairs]
    dirs = dirs or [direction for _, direction in pairs if direction]
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise BadQuery(f"Invalid sort direction: {direction}")
    for key in keys:
        if key not in ("created_at", "id"):
            raise BadQuery(f"Sort key {key} is not supported by the simulator.")
    if len(set(dirs)) > 1:
        raise BadQuery("The simulator sorts created_at and id in one direction.")
    return not dirs or dirs[0] == "desc"


def parse_glance_query(params: MultiMapping[str]) -> ListQuery:
    """Parse the query of ``GET /v2/images``.

    Raises:
        BadQuery: a parameter Glance answers 400 for.
    """
    checks: list[Check] = []
    statuses, hidden = None, False  # os_hidden defaults to false
    created: list[TimeFilter] = []
    updated: list[TimeFilter] = []
    for key in dict.fromkeys(params):  # each key once, in request order
        text = params[key]
        if key in ("limit", "marker", "sort", "sort_key", "sort_dir", "visibility", "owner"):
            continue
        if key == "status":
            statuses = _values(text)
            if not statuses <= set(STATUSES):
                raise BadQuery(f"Invalid status value: {text}")
        elif key in _IN_KEYS:
            checks.append(partial(_has, key, _values(text)))
        elif key == "os_hidden":
            hidden = _boolean(key, text)
        elif key == "protected":
            checks.append(partial(_flag, key, _boolean(key, text)))
        elif key in ("size_min", "size_max"):
            if not text.isdigit():
                raise BadQuery(f"Invalid value '{text}' for parameter '{key}'.")
            checks.append(partial(_size, key == "size_min", int(text)))
        elif key == "tag":
            checks.append(partial(_tagged, frozenset(params.getall("tag"))))
        elif key in ("created_at", "updated_at"):
            target = created if key == "created_at" else updated
            target.extend(_time_filter(value) for value in params.getall(key))
        elif key != "member_status":
            checks.append(partial(_equals, key, text))
    visibility = params.get("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise BadQuery(f"Invalid visibility value: {visibility}")
    return ListQuery(
        limit=_glance_limit(params.get("limit")),
        marker=params.get("marker"),
        descending=_descending(params),
        statuses=statuses,
        visibility=visibility,
        owner=params.get("owner"),
        created=tuple(created),
        updated=tuple(updated),
        checks=(partial(_flag, "os_hidden", hidden), *checks),
    )


def parse_nova_query(params: MultiMapping[str]) -> ListQuery:
    """Parse the query of Nova's ``GET /images/detail`` into the Glance list it makes.

    ``limit`` is not capped (glanceclient pages through Glance for Nova) and its absence
    means every image; ``property-KEY`` filters on ``KEY`` with Nova's ``lstrip`` quirk.

    Raises:
        BadQuery: a parameter Nova (or Glance behind it) answers 400 for.
    """
    limit: int | None = None
    if (text := params.get("limit")) is not None:
        if not text.isdigit():
            raise BadQuery(
                f"Invalid input for query parameters limit. Value: {text}. "
                f"'{text}' does not match '^[0-9]*$'"
            )
        limit = int(text)
    checks: list[Check] = [partial(_flag, "os_hidden", False)]
    statuses = None
    updated: list[TimeFilter] = []
    for key, prop in (("name", "name"), ("minDisk", "min_disk"), ("minRam", "min_ram"),
                      ("type", "image_type")):  # fmt: skip
        if key in params:
            checks.append(partial(_equals, prop, params[key]))
    if "server" in params:
        checks.append(partial(_equals, "instance_uuid", params["server"].rsplit("/", 1)[-1]))
    for key in dict.fromkeys(params):
        if key.startswith("property-"):
            # Nova's own lstrip('property-') strips characters, not the prefix (API.md 1.2):
            # property-os_distro filters on s_distro, as on a real cloud.
            checks.append(partial(_equals, key.lstrip("property-"), params[key]))  # noqa: B005
    if "status" in params:
        statuses = frozenset({params["status"].lower()})
        if not statuses <= set(STATUSES):
            raise BadQuery(f"Invalid status value: {params['status'].lower()}")
    if "changes-since" in params:
        seconds = _seconds(params["changes-since"])
        if seconds is None:
            value = params["changes-since"]
            raise BadQuery(
                f"Invalid input for query parameters changes-since. Value: {value}. "
                f"'{value}' is not a 'date-time'"
            )
        updated.append((operator.ge, seconds))
    return ListQuery(
        limit=limit,
        marker=params.get("marker"),
        statuses=statuses,
        updated=tuple(updated),
        checks=tuple(checks),
    )


# -- the routes ----------------------------------------------------------------------------


def _wants_json(accept: str) -> bool:
    # webob offers text/plain, text/html, application/json in that order: JSON only when
    # it is asked for and nothing that matches text/plain is (q-values are not weighed).
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return "application/json" in types and not types & {"*/*", "text/*", "text/plain"}


def glance_error(status: int, explanation: str, accept: str, headers: CIMultiDict[str]) -> bytes:
    """Return the body of Glance's webob error (and set its content type in ``headers``)."""
    title = _TITLES[status]
    if _wants_json(accept):
        headers["Content-Type"] = "application/json"
        message = f"{explanation}<br /><br />\n\n\n"  # webob's template, nothing filled in
        body = {"message": message, "code": f"{status} {title}", "title": title}
        return json.dumps(body).encode()
    headers["Content-Type"] = "text/plain; charset=UTF-8"
    return f"{status} {title}\n\n{explanation}\n\n   ".encode()


Answer = Callable[[web.Request, str | None, CIMultiDict[str]], tuple[int, bytes]]


class GlanceRoute:
    """``GET /v2/images`` and ``GET /v2/images/{image_id}``, with auth and faults."""

    def __init__(
        self,
        config: SimulatorConfig,
        listing: Listing,
        tokens: TokenStore,
        stats: SimulatorStats,
        clock: Clock,
    ) -> None:
        self._config = config
        self._listing = listing
        self._tokens = tokens
        self._stats = stats
        self._guard = Guard(config, tokens) if config.auth_required else None
        # Glance is an API of its own: its own buckets and per-item fault counts.
        self._plan = FaultPlan(config.faults, clock) if config.faults.enabled else None
        self._by_credential = config.faults.rate_key == "token"

    async def show(self, request: web.Request) -> web.StreamResponse:
        """Answer ``GET /v2/images/{image_id}``."""
        return await self._serve(request, request.match_info["image_id"], self._show)

    async def index(self, request: web.Request) -> web.StreamResponse:
        """Answer ``GET /v2/images``."""
        return await self._serve(request, "?" + request.query_string, self._index, listing=True)

    def _project_of(self, request: web.Request) -> str | None:
        token = request.headers.get("X-Auth-Token")
        if self._guard is not None and token:
            scoped = self._tokens.project_of(token)
            if scoped is not None:  # keystonemiddleware sets X-Project-Id from the token
                return scoped
        return request.headers.get("X-Project-Id") or None

    async def _serve(
        self, request: web.Request, item: str, answer: Answer, *, listing: bool = False
    ) -> web.StreamResponse:
        config = self._config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        request_id = "req-" + uuid4_text(os.urandom(16))
        headers: CIMultiDict[str] = CIMultiDict(
            {"Content-Type": "application/json", "X-Openstack-Request-Id": request_id}
        )
        project = self._project_of(request)
        if self._guard is not None:
            # The project passed is the one the credentials name, so only 401s come back.
            refusal = await self._guard.check(request, project or "", headers)
            if refusal is not None:
                return refusal
        if listing:
            await self._listing.ready()  # once authenticated: the first list builds the index
        normal = partial(answer, request, project, headers)
        if self._plan is not None:
            credential = credential_of(request.headers) if self._by_credential else ""
            fault = self._plan.decide(project or "", item, credential)
            if fault is not None:
                self._stats.event(f"fault:{fault.kind}")
                return await answer_fault(request, fault, config.faults, headers, normal)
        status, body = normal()
        return web.Response(status=status, body=body, headers=headers)

    def _show(
        self, request: web.Request, project: str | None, headers: CIMultiDict[str]
    ) -> tuple[int, bytes]:
        image_id = request.match_info["image_id"]
        record = self._listing.visible(image_id, project)
        if record is None:
            accept = request.headers.get("Accept", "")
            return 404, glance_error(404, f"No image found with ID {image_id}", accept, headers)
        return 200, json.dumps(record).encode()

    def _index(
        self, request: web.Request, project: str | None, headers: CIMultiDict[str]
    ) -> tuple[int, bytes]:
        try:
            query = parse_glance_query(request.query)
            images = self._listing.page(query, project)
        except BadQuery as exc:
            return 400, glance_error(400, str(exc), request.headers.get("Accept", ""), headers)
        params = [(k, v) for k, v in request.query.items() if k != "marker"]
        query_text = urlencode(params)
        body: dict[str, object] = {
            "images": images,
            "first": "/v2/images" + (f"?{query_text}" if query_text else ""),
            "schema": "/v2/schemas/images",
        }
        if images and len(images) == query.limit:  # a full page: Glance links on
            body["next"] = "/v2/images?" + urlencode([*params, ("marker", images[-1]["id"])])
        return 200, json.dumps(body).encode()
