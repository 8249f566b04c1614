"""The query of an image list request: :class:`ListQuery`, parsed from Glance's or Nova's.

``GET /v2/images`` takes Glance's parameters (API.md 2.1-2.4, :func:`parse_glance_query`);
Nova's ``/images/detail`` (in ``app``) takes Nova's (:func:`parse_nova_query`). Both become
one :class:`ListQuery` for :class:`~crawler.simulator.listing.Listing`; a parameter either
API answers 400 for raises :class:`BadQuery`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from multidict import MultiMapping

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "STATUSES",
    "VISIBILITIES",
    "BadQuery",
    "ListQuery",
    "epoch_seconds",
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
VISIBILITIES: Final = ("public", "private", "shared", "community")
_TIME_OPS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
}
_IN_KEYS: Final = ("name", "id", "disk_format", "container_format")

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


def epoch_seconds(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 time (naive is UTC), or None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


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
    if epoch_seconds(expression) is None and ":" in expression:
        op, _, threshold = expression.partition(":")
    compare = _TIME_OPS.get(op)
    if compare is None:
        raise BadQuery(f"Unable to filter on a unknown operator '{op}'.")
    seconds = epoch_seconds(threshold)
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
        seconds = epoch_seconds(params["changes-since"])
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
