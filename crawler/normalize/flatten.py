"""Flatten one Nova image record into one row of the images table. Pure: no I/O.

The rules: a missing key is a null, never an error; a value of an unexpected type becomes a
null in its column and is kept verbatim (metadata in ``metadata_json``, top-level fields in
``extra_json``), so nothing the API said is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from crawler.errors import InvalidRecordError
from crawler.normalize.jsoncodec import dumps_sorted

SOURCE_NOVA_PROXY: Final = "nova-proxy"

_INT32_MAX: Final = 2**31 - 1
_INT64_MAX: Final = 2**63 - 1

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


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp; naive values are taken as UTC. None if unparsable."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def image_of(body: object) -> Mapping[str, object]:
    """Return the image object of a ``GET /images/{id}`` body, or raise InvalidRecordError."""
    if not isinstance(body, Mapping):
        raise InvalidRecordError(f"expected a JSON object, got {type(body).__name__}")
    image = body.get("image")
    if not isinstance(image, Mapping):
        raise InvalidRecordError("response has no 'image' object")
    if not isinstance(image.get("id"), str):
        raise InvalidRecordError("image object has no string 'id'")
    return image


class _Extras:
    """Collects top-level values that did not fit their column."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def text(self, image: Mapping[str, object], key: str) -> str | None:
        value = image.get(key)
        if value is None or isinstance(value, str):
            return value
        self.values[key] = value
        return None

    def integer(self, image: Mapping[str, object], key: str, maximum: int) -> int | None:
        value = image.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and -maximum <= value <= maximum:
            return value
        self.values[key] = value
        return None

    def timestamp(self, image: Mapping[str, object], key: str) -> datetime | None:
        value = image.get(key)
        if value is None:
            return None
        parsed = parse_timestamp(value) if isinstance(value, str) else None
        if parsed is None:
            self.values[key] = value
        return parsed


def _server_id(image: Mapping[str, object], extras: _Extras) -> str | None:
    server = image.get("server")
    if server is None:
        return None
    if isinstance(server, Mapping) and isinstance(server.get("id"), str):
        return str(server["id"])
    extras.values["server"] = server
    return None


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
    extras = _Extras()
    metadata = image.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, Mapping):
        extras.values["metadata"] = metadata
        metadata = {}
    row: dict[str, object] = {
        "project_id": project_id,
        "region": region,
        "image_id": image["id"],
        "name": extras.text(image, "name"),
        "status": extras.text(image, "status"),
        "progress": extras.integer(image, "progress", _INT32_MAX),
        "size_bytes": extras.integer(image, "OS-EXT-IMG-SIZE:size", _INT64_MAX),
        "min_disk_gb": extras.integer(image, "minDisk", _INT32_MAX),
        "min_ram_mb": extras.integer(image, "minRam", _INT32_MAX),
        "created_at": extras.timestamp(image, "created"),
        "updated_at": extras.timestamp(image, "updated"),
    }
    for column, key in METADATA_COLUMNS.items():
        value = metadata.get(key)
        row[column] = value if isinstance(value, str) else None
    row["disk_config"] = extras.text(image, "OS-DCF:diskConfig")
    row["server_id"] = _server_id(image, extras)
    row["metadata_json"] = dumps_sorted(metadata)
    for key, value in image.items():
        if key not in _KNOWN_FIELDS:
            extras.values[key] = value
    row["extra_json"] = dumps_sorted(extras.values) if extras.values else None
    row["source_api"] = SOURCE_NOVA_PROXY
    row["fetched_at"] = fetched_at
    return row
