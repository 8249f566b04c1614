"""Flatten one Nova image record into one row of the images table. Pure: no I/O.

The rules: a missing key is a null, never an error; a value of an unexpected type becomes a
null in its column and is kept verbatim (metadata in ``metadata_json``, top-level fields in
``extra_json``), so nothing the API said is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, TypeGuard

from crawler.errors import InvalidRecordError
from crawler.normalize.jsoncodec import dumps_sorted
from crawler.normalize.osinfo import parse_os

SOURCE_NOVA_PROXY: Final = "nova-proxy"

_INT32_MAX: Final = 2**31 - 1
_INT64_MAX: Final = 2**63 - 1
_SIZE: Final = "OS-EXT-IMG-SIZE:size"
_DISK_CONFIG: Final = "OS-DCF:diskConfig"

# column -> metadata key; values are copied only when they are strings.
METADATA_COLUMNS: Final = {
    "os_type": "__os_type",
    "os_version": "__os_version",
    "disk_bus": "hw_disk_bus",
    "virtual_env_type": "virtual_env_type",
    "platform": "__platform",
    "os_bit": "__os_bit",
    "image_type": "__imagetype",
}

#: Columns only Glance fills (``crawler.normalize.glance``); null in Nova rows.
GLANCE_ONLY_COLUMNS: Final = (
    "visibility",
    "owner",
    "disk_format",
    "container_format",
    "checksum",
    "virtual_size_bytes",
    "protected",
    "tags_json",
)
_GLANCE_ONLY_NULLS: Final = dict.fromkeys(GLANCE_ONLY_COLUMNS)

# Top-level fields that map to columns (or, for links, are rebuilt from the endpoint and
# carry nothing of the image): anything else goes to extra_json.
_KNOWN_FIELDS: Final = frozenset(
    {
        "id",
        "name",
        "status",
        "progress",
        "OS-EXT-IMG-SIZE:size",
        "minDisk",
        "minRam",
        "created",
        "updated",
        "metadata",
        "links",
        "server",
        "OS-DCF:diskConfig",
    }
)


def _is_mapping(value: object) -> TypeGuard[Mapping[str, object]]:
    # isinstance() against an ABC costs more than the rest of a field: try dict first.
    return type(value) is dict or isinstance(value, Mapping)


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp; naive values are taken as UTC. None if unparsable."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is UTC:  # the usual "...Z"; astimezone(UTC) would return it as is
        return parsed
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def image_of(body: object) -> Mapping[str, object]:
    """Return the image object of a ``GET /images/{id}`` body, or raise InvalidRecordError."""
    if not _is_mapping(body):
        raise InvalidRecordError(f"expected a JSON object, got {type(body).__name__}")
    image = body.get("image")
    if not _is_mapping(image):
        raise InvalidRecordError("response has no 'image' object")
    if not isinstance(image.get("id"), str):
        raise InvalidRecordError("image object has no string 'id'")
    return image


# The field helpers take the value and put it in ``extras`` under ``key`` when it does not
# fit its column. They are plain functions over a dict, not methods of a per-row object:
# flatten runs once per fetched image.


def _text(value: object, key: str, extras: dict[str, object]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    extras[key] = value
    return None


def _integer(value: object, key: str, maximum: int, extras: dict[str, object]) -> int | None:
    if value is None:
        return None
    if (type(value) is int or (isinstance(value, int) and not isinstance(value, bool))) and (
        -maximum <= value <= maximum
    ):
        return value
    extras[key] = value
    return None


def _timestamp(value: object, key: str, extras: dict[str, object]) -> datetime | None:
    if value is None:
        return None
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        extras[key] = value
    return parsed


def _server_id(server: object, extras: dict[str, object]) -> str | None:
    if server is None:
        return None
    if _is_mapping(server) and isinstance(server.get("id"), str):
        return str(server["id"])
    extras["server"] = server
    return None


def fill_os_columns(row: dict[str, object], metadata: Mapping[str, object]) -> None:
    """Fill the metadata columns and the OS columns parsed from them (both APIs' rows)."""
    for column, key in METADATA_COLUMNS.items():
        value = metadata.get(key)
        row[column] = value if isinstance(value, str) else None
    distro, version = metadata.get("os_distro"), metadata.get("os_version")  # Glance-style
    os_info = parse_os(
        row["os_version"],  # type: ignore[arg-type]  # str or None, set just above
        platform=row["platform"],  # type: ignore[arg-type]
        os_type=row["os_type"],  # type: ignore[arg-type]
        os_bit=row["os_bit"],  # type: ignore[arg-type]
        distro_hint=distro if isinstance(distro, str) else None,
        version_hint=version if isinstance(version, str) else None,
    )
    row["os_family"] = os_info.family
    row["os_distro"] = os_info.distro
    row["os_release"] = os_info.release
    row["os_major"] = os_info.major
    row["os_edition"] = os_info.edition
    row["os_bits"] = os_info.bits
    # Lifecycle columns depend on the snapshot date and the lifecycle table: the crawl fills them.
    row["os_eol_date"] = None
    row["os_is_eol"] = None


def flatten_nova_image(
    body: object,
    *,
    project_id: str,
    region: str | None,
    fetched_at: datetime,
) -> dict[str, object]:
    """Turn a decoded ``{"image": {...}}`` response into one images-table row.

    Raises:
        InvalidRecordError: the body is not an image record (no ``image`` object or ``id``).
    """
    image = image_of(body)
    get = image.get
    extras: dict[str, object] = {}
    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif not _is_mapping(metadata):
        extras["metadata"] = metadata
        metadata = {}
    row: dict[str, object] = {
        "project_id": project_id,
        "region": region,
        "image_id": image["id"],
        "name": _text(get("name"), "name", extras),
        "status": _text(get("status"), "status", extras),
        "progress": _integer(get("progress"), "progress", _INT32_MAX, extras),
        "size_bytes": _integer(get(_SIZE), _SIZE, _INT64_MAX, extras),
        "min_disk_gb": _integer(get("minDisk"), "minDisk", _INT32_MAX, extras),
        "min_ram_mb": _integer(get("minRam"), "minRam", _INT32_MAX, extras),
        "created_at": _timestamp(get("created"), "created", extras),
        "updated_at": _timestamp(get("updated"), "updated", extras),
    }
    fill_os_columns(row, metadata)
    row["disk_config"] = _text(get(_DISK_CONFIG), _DISK_CONFIG, extras)
    row["server_id"] = _server_id(get("server"), extras)
    row.update(_GLANCE_ONLY_NULLS)
    row["metadata_json"] = dumps_sorted(metadata)
    if not _KNOWN_FIELDS.issuperset(image):  # one C-level pass in the usual case
        extras.update((key, value) for key, value in image.items() if key not in _KNOWN_FIELDS)
    row["extra_json"] = dumps_sorted(extras) if extras else None
    row["source_api"] = SOURCE_NOVA_PROXY
    row["fetched_at"] = fetched_at
    return row
