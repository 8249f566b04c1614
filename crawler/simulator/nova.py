"""Nova's side of the images proxy: microversions, faults and the image view.

Pure functions that mirror ``nova/api/openstack/wsgi.py`` (version negotiation, ``Fault``
bodies) and ``nova/api/openstack/compute/views/images.py`` (Glance record -> Nova image).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache

__all__ = [
    "IMAGE_NOT_FOUND",
    "MAX_PROXY_VERSION",
    "MAX_VERSION",
    "MIN_VERSION",
    "RESOURCE_NOT_FOUND",
    "UNAUTHORIZED",
    "VersionFault",
    "fault_body",
    "image_view",
    "negotiate_version",
    "origin_on_port",
]

Version = tuple[int, int]

MIN_VERSION: Version = (2, 1)
MAX_VERSION: Version = (2, 104)
#: Last microversion at which the image proxy APIs exist (``MAX_PROXY_API_SUPPORT_VERSION``).
MAX_PROXY_VERSION: Version = (2, 35)

_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")

# Glance keys Nova keeps out of ``metadata`` (base schema properties and dropped fields).
_BASE_KEYS = frozenset(
    {
        "id", "name", "status", "owner", "size", "checksum", "os_hash_algo", "os_hash_value",
        "os_hidden", "container_format", "disk_format", "created_at", "updated_at", "min_ram",
        "min_disk", "visibility", "protected", "virtual_size", "tags", "self", "file", "schema",
        "locations", "direct_url", "stores", "deleted", "deleted_at", "is_public",
    }
)  # fmt: skip
_STATUS = {
    "active": ("ACTIVE", 100),
    "queued": ("SAVING", 25),
    "saving": ("SAVING", 50),
    "deleted": ("DELETED", 0),
    "pending_delete": ("DELETED", 0),
    "killed": ("ERROR", 0),
}
_TRUE_STRINGS = frozenset({"1", "t", "true", "on", "y", "yes"})  # oslo strutils


def fault_body(status: int, message: str) -> bytes:
    """Return the JSON body of a Nova ``Fault`` with ``status`` and ``message``."""
    name = _FAULT_NAMES.get(status, "computeFault")
    return json.dumps({name: {"code": status, "message": message}}).encode()


IMAGE_NOT_FOUND = fault_body(404, "Image not found.")
RESOURCE_NOT_FOUND = fault_body(404, "The resource could not be found.")
#: keystonemiddleware's 401 body (not a Nova fault).
UNAUTHORIZED = json.dumps(
    {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }
).encode()


class VersionFault(Exception):
    """A microversion header Nova rejects; carries the HTTP status and fault body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = fault_body(status, message)


def _requested(headers: Mapping[str, str]) -> str | None:
    # Like microversion_parse: the new header wins when it names "compute".
    new = headers.get("OpenStack-API-Version")
    if new:
        for part in new.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute":
                return value.strip()
    return headers.get("X-OpenStack-Nova-API-Version")


def negotiate_version(headers: Mapping[str, str]) -> Version:
    """Return the microversion a request asks for.

    Raises:
        VersionFault: 400 for a malformed version, 406 for one out of range.
    """
    text = _requested(headers)
    if text is None:
        return MIN_VERSION
    if text.lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(text)
    if match is None:
        raise VersionFault(
            400,
            f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum.",
        )
    version = (int(match[1]), int(match[2]))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise VersionFault(
            406,
            f"Version {version[0]}.{version[1]} is not supported by the API. "
            f"Minimum is {_fmt(MIN_VERSION)} and maximum is {_fmt(MAX_VERSION)}.",
        )
    return version


@lru_cache(maxsize=256)
def origin_on_port(origin: str, port: int) -> str:
    """Return ``origin`` with its port replaced, e.g. for the default Glance link."""
    scheme, _, host = origin.partition("://")
    if host.startswith("["):  # IPv6 literal: the port follows the closing bracket
        return f"{scheme}://{host[: host.index(']') + 1]}:{port}"
    return f"{scheme}://{host.rpartition(':')[0] or host}:{port}"


def _fmt(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def _as_int(value: object) -> int:
    """``int(value or 0)`` as Nova does, for the int or numeric-string values Glance sends."""
    return int(value) if isinstance(value, int | str) and value else 0


def _links(base: str, bookmark: str, collection: str, item: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": f"{base}/{collection}/{item}"},
        {"rel": "bookmark", "href": f"{bookmark}/{collection}/{item}"},
    ]


def image_view(
    record: Mapping[str, object], *, origin: str, prefix: str, project_id: str, glance: str
) -> dict[str, object]:
    """Return the Nova ``image`` object for a Glance ``record``.

    Args:
        record: Glance v2 image object with custom properties at top level.
        origin: ``scheme://host[:port]`` of the request.
        prefix: Version segment of the request path, ``/v2.1`` or ``/v2``.
        project_id: Project id from the request path (used in every link).
        glance: Base URL of the image service for the ``alternate`` link.
    """
    image_id = str(record["id"])
    status, progress = _STATUS.get(str(record["status"]), ("UNKNOWN", 0))
    links: list[dict[str, str]] = _links(
        f"{origin}{prefix}/{project_id}", f"{origin}/{project_id}", "images", image_id
    )
    links.append(
        {"rel": "alternate", "type": "application/vnd.openstack.image",
         "href": f"{glance}/images/{image_id}"}
    )  # fmt: skip
    view: dict[str, object] = {
        "id": image_id,
        "name": record.get("name"),
        "minRam": _as_int(record.get("min_ram")),
        "minDisk": _as_int(record.get("min_disk")),
        "metadata": {k: v for k, v in record.items() if k not in _BASE_KEYS},
        "created": record.get("created_at"),
        "updated": record.get("updated_at"),
        "status": status,
        "progress": progress,
        "OS-EXT-IMG-SIZE:size": record.get("size") or 0,
        "links": links,
    }
    server = record.get("instance_uuid")
    if "instance_uuid" in record:
        view["server"] = {
            "id": server,
            "links": _links(
                f"{origin}{prefix}/{project_id}", f"{origin}/{project_id}", "servers", str(server)
            ),
        }
    if "auto_disk_config" in record:
        flag = str(record["auto_disk_config"]).strip().lower() in _TRUE_STRINGS
        view["OS-DCF:diskConfig"] = "AUTO" if flag else "MANUAL"
    return view
