"""Flatten one Glance v2 image record into one row of the images table. Pure: no I/O.

The row has the shape of :func:`~crawler.normalize.flatten.flatten_nova_image`'s, and the
columns both APIs can fill carry *Nova's view* of the image, so one image gives one row
whichever API answered (bar ``source_api``, ``fetched_at``, ``extra_json`` and the
Glance-only columns):

* ``status``/``progress``: Glance's status mapped as Nova's image view does
  (``nova/api/openstack/compute/views/images.py``): active -> ACTIVE/100, queued ->
  SAVING/25, saving -> SAVING/50, deleted and pending_delete -> DELETED/0, killed ->
  ERROR/0, anything else (deactivated, importing, uploading...) -> UNKNOWN/0.
* ``size_bytes``, ``min_disk_gb``, ``min_ram_mb``: a null or missing value is 0, as Nova
  shows it.
* ``metadata_json``: every top-level key that is not a Glance core field
  (:data:`GLANCE_CORE_FIELDS`), which is what Nova shows as ``metadata``; like Nova,
  string values of ``block_device_mapping`` and ``mappings`` are JSON-decoded.
* ``disk_config`` from the ``auto_disk_config`` property and ``server_id`` from
  ``instance_uuid``, as Nova derives ``OS-DCF:diskConfig`` and ``server``.
* The Glance-only columns (``visibility`` ... ``tags_json``) are filled; Nova rows have
  them null.

Nothing is lost: ``extra_json`` keeps the core fields without a column (``os_hash_algo``,
``os_hash_value``, ``os_hidden``, ``locations``...; ``self``, ``file`` and ``schema`` are
dropped, as they are rebuilt from the id), values of an unexpected type, and Glance's own
value wherever a shared column cannot give it back: a status whose Nova spelling and
progress do not name it (deactivated, pending_delete, ...) and a null ``size``,
``min_disk`` or ``min_ram``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from crawler.errors import InvalidRecordError
from crawler.normalize.flatten import (  # the field rules are shared with the Nova flattener
    _INT32_MAX,
    _INT64_MAX,
    _integer,
    _is_mapping,
    _text,
    _timestamp,
    fill_os_columns,
)
from crawler.normalize.jsoncodec import dumps_sorted, loads

SOURCE_GLANCE: Final = "glance"

#: Top-level Glance fields that are not custom properties: Nova keeps them out of
#: ``metadata`` (Glance's base schema properties and the fields Nova drops).
GLANCE_CORE_FIELDS: Final = frozenset(
    {
        "id", "name", "status", "owner", "size", "checksum", "os_hash_algo", "os_hash_value",
        "os_hidden", "container_format", "disk_format", "created_at", "updated_at", "min_ram",
        "min_disk", "visibility", "protected", "virtual_size", "tags", "self", "file", "schema",
        "locations", "direct_url", "stores", "deleted", "deleted_at", "is_public",
    }
)  # fmt: skip

# Core fields with a column here, and the links rebuilt from the id: not kept in extra_json.
_CONSUMED: Final = frozenset(
    {
        "id", "name", "status", "owner", "size", "checksum", "container_format", "disk_format",
        "created_at", "updated_at", "min_ram", "min_disk", "visibility", "protected",
        "virtual_size", "tags", "self", "file", "schema",
    }
)  # fmt: skip

# Glance status -> (Nova status, Nova progress); the rest is ("UNKNOWN", 0).
NOVA_STATUS: Final[Mapping[str, tuple[str, int]]] = {
    "active": ("ACTIVE", 100),
    "queued": ("SAVING", 25),
    "saving": ("SAVING", 50),
    "deleted": ("DELETED", 0),
    "pending_delete": ("DELETED", 0),
    "killed": ("ERROR", 0),
}
# Statuses that (status, progress) name unambiguously: the others go to extra_json too.
_RECOVERABLE: Final = frozenset({"active", "queued", "saving", "killed"})
_JSON_PROPERTIES: Final = ("block_device_mapping", "mappings")  # nova.image.glance
_TRUE_STRINGS: Final = frozenset({"1", "t", "true", "on", "y", "yes"})  # oslo strutils


def glance_image_of(body: object) -> Mapping[str, object]:
    """Return a ``GET /v2/images/{id}`` body (the image itself), or raise InvalidRecordError."""
    if not _is_mapping(body):
        raise InvalidRecordError(f"expected a JSON object, got {type(body).__name__}")
    if not isinstance(body.get("id"), str):
        raise InvalidRecordError("image object has no string 'id'")
    return body


def _metadata(image: Mapping[str, object]) -> dict[str, object]:
    metadata = {key: value for key, value in image.items() if key not in GLANCE_CORE_FIELDS}
    for key in _JSON_PROPERTIES:
        value = metadata.get(key)
        if isinstance(value, str):
            # Not JSON: Nova would fail on it; the string is kept as it came.
            with contextlib.suppress(ValueError):
                metadata[key] = loads(value.encode())
    return metadata


def _status(value: object, extras: dict[str, object]) -> tuple[str | None, int | None]:
    if not isinstance(value, str):
        if value is not None:
            extras["status"] = value
        return None, None
    if value not in _RECOVERABLE:
        extras["status"] = value
    return NOVA_STATUS.get(value, ("UNKNOWN", 0))


def _zero_if_null(
    image: Mapping[str, object], key: str, maximum: int, extras: dict[str, object]
) -> int | None:
    value = image.get(key)
    if value is None:
        if key in image:  # an explicit null, which the 0 would hide
            extras[key] = None
        return 0
    return _integer(value, key, maximum, extras)


def _tags(value: object, extras: dict[str, object]) -> str | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return dumps_sorted(sorted(value))
    extras["tags"] = value
    return None


def _protected(value: object, extras: dict[str, object]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    extras["protected"] = value
    return None


def _nova_derived(row: dict[str, object], metadata: Mapping[str, object]) -> None:
    if "auto_disk_config" in metadata:
        flag = str(metadata["auto_disk_config"]).strip().lower() in _TRUE_STRINGS
        row["disk_config"] = "AUTO" if flag else "MANUAL"
    else:
        row["disk_config"] = None
    server = metadata.get("instance_uuid")
    row["server_id"] = server if isinstance(server, str) else None


def flatten_glance_image(
    body: object,
    *,
    project_id: str,
    region: str | None,
    fetched_at: datetime,
) -> dict[str, object]:
    """Turn a decoded Glance v2 image object into one images-table row.

    Raises:
        InvalidRecordError: the body is not an image object (not an object, or no ``id``).
    """
    image = glance_image_of(body)
    get = image.get
    extras: dict[str, object] = {}
    status, progress = _status(get("status"), extras)
    row: dict[str, object] = {
        "project_id": project_id,
        "region": region,
        "image_id": image["id"],
        "name": _text(get("name"), "name", extras),
        "status": status,
        "progress": progress,
        "size_bytes": _zero_if_null(image, "size", _INT64_MAX, extras),
        "min_disk_gb": _zero_if_null(image, "min_disk", _INT32_MAX, extras),
        "min_ram_mb": _zero_if_null(image, "min_ram", _INT32_MAX, extras),
        "created_at": _timestamp(get("created_at"), "created_at", extras),
        "updated_at": _timestamp(get("updated_at"), "updated_at", extras),
    }
    metadata = _metadata(image)
    fill_os_columns(row, metadata)
    _nova_derived(row, metadata)
    row["visibility"] = _text(get("visibility"), "visibility", extras)
    row["owner"] = _text(get("owner"), "owner", extras)
    row["disk_format"] = _text(get("disk_format"), "disk_format", extras)
    row["container_format"] = _text(get("container_format"), "container_format", extras)
    row["checksum"] = _text(get("checksum"), "checksum", extras)
    row["virtual_size_bytes"] = _integer(get("virtual_size"), "virtual_size", _INT64_MAX, extras)
    row["protected"] = _protected(get("protected"), extras)
    row["tags_json"] = _tags(get("tags"), extras)
    row["metadata_json"] = dumps_sorted(metadata)
    extras.update(
        (key, value)
        for key, value in image.items()
        if key in GLANCE_CORE_FIELDS and key not in _CONSUMED
    )
    row["extra_json"] = dumps_sorted(extras) if extras else None
    row["source_api"] = SOURCE_GLANCE
    row["fetched_at"] = fetched_at
    return row
