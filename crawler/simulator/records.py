"""Build one realistic Huawei-flavoured Glance v2 image record from random bytes.

Pure: the caller supplies two 64-byte digests and gets the same record back every time.
The mix imitates a real IMS tenancy: ~90% active images, the IMS ``__*`` properties with
consistent OS attributes, and a sprinkling of odd-but-documented shapes (``__os_type``
``Suse``, null property values, ``size`` 0 or null, snapshots carrying
``instance_uuid``, missing ``__os_version``, unicode and formula-looking names).
"""

from __future__ import annotations

import struct
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from hashlib import sha512
from itertools import accumulate
from typing import Generic, TypeVar

from crawler.simulator.os_catalog import OS_CATALOG, OsEntry

__all__ = ["build_record", "listing_fields", "uuid4_text"]

T = TypeVar("T")

_START = 1420070400  # 2015-01-01T00:00:00Z
_CREATED_SPAN = 1767225600 - _START  # created before 2026-01-01
_END = 1798761599  # 2026-12-31T23:59:59Z caps updated_at
_EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # what IMS reports when size is "unavailable"
_MULTIHASH_SINCE = 1546300800  # 2019: Glance started filling os_hash_* (Rocky)


class _Choice(Generic[T]):
    """Weighted choice driven by a 16-bit random value."""

    __slots__ = ("_cum", "_total", "_values")

    def __init__(self, pairs: Sequence[tuple[T, int]]) -> None:
        self._values = [value for value, _ in pairs]
        self._cum = list(accumulate(weight for _, weight in pairs))
        self._total = self._cum[-1]

    def __call__(self, u16: int) -> T:
        return self._values[bisect_right(self._cum, (u16 * self._total) >> 16)]


_STATUS = _Choice(
    [
        ("active", 900),
        ("queued", 20),
        ("saving", 20),
        ("killed", 15),
        ("deactivated", 15),
        ("deleted", 15),
        ("pending_delete", 5),
        ("importing", 5),
        ("uploading", 5),
    ]
)
_IMAGETYPE = _Choice([("gold", 20), ("private", 65), ("shared", 15)])
_VISIBILITY = {"gold": "public", "private": "private", "shared": "shared"}
_ENV = _Choice(
    [("FusionCompute", 80), ("KVM", 8), ("Ironic", 5), ("DataImage", 5), ("IsoImage", 2)]
)
_DISK_BUS = _Choice([("scsi", 50), ("virtio", 40), ("ide", 6), ("sata", 4)])
_FIRMWARE = _Choice([("bios", 85), ("uefi", 15)])
_DISK_FORMAT = _Choice([("zvhd2", 60), ("zvhd", 15), ("qcow2", 10), ("raw", 8), ("vhd", 7)])
_MIN_RAM = _Choice([(0, 60), (1024, 15), (2048, 15), (4096, 10)])
_MIN_DISK = _Choice([(40, 70), (20, 5), (50, 10), (100, 10), (0, 5)])
_OS = _Choice([(entry, entry.weight) for entry in OS_CATALOG])
_LAZY = _Choice([("true", 60), ("True", 20), ("false", 15), ("False", 5)])
_DISK_CONFIG = _Choice([("True", 40), ("False", 30), ("true", 15), ("0", 10), ("yes", 5)])
_NAME_STYLE = _Choice([("plain", 930), ("unicode", 50), ("formula", 15), ("null", 5)])
_WORDS = (
    "web-server", "db-mysql", "jenkins", "k8s-node", "gitlab-runner", "backup", "nginx",
    "redis-cache", "bastion", "ci-build", "sap-hana", "kafka", "elk", "app-prod",
)  # fmt: skip
_UNICODE = (
    "镜像-生产", "Größe-Test", "образ-бд", "イメージ-検証", "café-crème", "δοκιμή",
    "año-nuevo", "🚀-launch",
)  # fmt: skip
# Names a spreadsheet would run as formulas: downstream CSV writers must neutralise them.
_FORMULAS = ("=1+2", '=HYPERLINK("http://example.invalid","x")', "-2+3", "-cmd", "+SUM(A1:A2)")


def _name(draw: Callable[[], int], imagetype: str, entry: OsEntry) -> str | None:
    style = _NAME_STYLE(draw())
    n = draw()
    if imagetype == "gold":
        return entry.version
    if style == "null":
        return None
    if style == "unicode":
        return f"{_UNICODE[n % len(_UNICODE)]}-{n % 100}"
    if style == "formula":
        return _FORMULAS[n % len(_FORMULAS)]
    return f"{_WORDS[n % len(_WORDS)]}-{n % 1000:03d}"


def uuid4_text(raw: bytes) -> str:
    """Format 16 bytes as a canonical lowercase uuid with the v4 version/variant bits set."""
    h = raw.hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _payload(draw: Callable[[], int], status: str, aux: bytes, created: int) -> dict[str, object]:
    """Size, checksum and hashes; images without uploaded data have none of them."""
    roll = draw()
    if status in ("queued", "saving", "importing", "uploading") or roll < 1966:  # ~3% null
        return {"size": None, "checksum": None, "os_hash_algo": None, "os_hash_value": None}
    if roll < 9830:  # ~12%: IMS reports size as "unavailable": 0 plus md5 of nothing
        return {"size": 0, "checksum": _EMPTY_MD5, "os_hash_algo": None, "os_hash_value": None}
    size = 300_000_000 + ((draw() << 16) | draw()) * 9
    multihash = created >= _MULTIHASH_SINCE
    return {
        "size": size,
        "checksum": aux[:16].hex(),
        "os_hash_algo": "sha512" if multihash else None,
        "os_hash_value": sha512(aux).hexdigest() if multihash else None,
    }


def _os_props(draw: Callable[[], int], entry: OsEntry) -> dict[str, object]:
    props: dict[str, object] = {
        "__os_version": entry.version,
        "__os_type": entry.os_type,
        "__platform": entry.platform,
        "__os_bit": entry.bit,
    }
    roll = draw()
    if roll < 1311:  # ~2%: no __os_version at all
        del props["__os_version"]
    elif entry.platform == "SUSE" and roll < 26214:  # documented oddity outside the enum
        props["__os_type"] = "Suse"
    return props


def _ims_props(draw: Callable[[], int], imagetype: str, size: object) -> dict[str, object]:
    env = _ENV(draw())
    props: dict[str, object] = {
        "__imagetype": imagetype,
        "__isregistered": "true",
        "__image_source_type": "uds",
        "virtual_env_type": env,
        "hw_disk_bus": _DISK_BUS(draw()),
        "hw_firmware_type": _FIRMWARE(draw()),
        "__lazyloading": _LAZY(draw()),
        "__description": "" if draw() < 45000 else "Image maintained by the platform team",
    }
    if isinstance(size, int) and size > 0:
        props["__image_size"] = str(size)
    if draw() < 26214:
        props["__support_kvm"] = "true"
    if draw() < 5243:
        props["__support_xen"] = "true"
    if imagetype != "gold":
        props["enterprise_project_id"] = "0"
    return props


def _quirks(draw: Callable[[], int], aux: bytes, owner: str, imagetype: str) -> dict[str, object]:
    props: dict[str, object] = {}
    if draw() < 3277:  # ~5%: Nova shows these as null in metadata
        props["kernel_id"] = None
        props["ramdisk_id"] = None
    if draw() < 6554:  # ~10%
        props["auto_disk_config"] = _DISK_CONFIG(draw())
    if imagetype != "gold" and draw() < 6554:  # ~10% of private/shared are snapshots
        props["image_type"] = "snapshot"
        props["image_location"] = "snapshot"
        props["image_state"] = "available"
        props["instance_uuid"] = uuid4_text(aux[16:32])
        props["owner_id"] = owner
        props["user_id"] = aux[32:48].hex()
        props["instance_type_name"] = "s3.large.2"
        props["instance_type_memory_mb"] = "4096"
    return props


def _times(head: Sequence[int]) -> tuple[int, int]:
    """``created_at`` and ``updated_at`` (epoch seconds) from the record's head draws."""
    created = _START + ((head[3] << 16) | head[4]) % _CREATED_SPAN
    return created, min(created + head[5] * 613, _END)


def listing_fields(digest: bytes) -> tuple[str, str, int, int]:
    """Return ``(status, visibility, created, updated)`` of ``build_record``'s record.

    The times are epoch seconds. A fraction of ``build_record``'s cost, for indexing a
    whole inventory.
    """
    head = struct.unpack_from(">6H", digest, 2)
    return _STATUS(head[0]), _VISIBILITY[_IMAGETYPE(head[1])], *_times(head)


def build_record(image_id: str, owner: str, digest: bytes, aux: bytes) -> dict[str, object]:
    """Return the Glance image object for one image.

    Args:
        image_id: The image id.
        owner: Owning project id.
        digest: 64 random bytes; the first two chose the owner and are skipped here.
        aux: 64 more random bytes for checksums and related ids.
    """
    # 31 sixteen-bit draws: six for the head (also read by listing_fields), then the
    # helpers below draw from the other 25.
    head = struct.unpack_from(">6H", digest, 2)
    status, imagetype, entry = _STATUS(head[0]), _IMAGETYPE(head[1]), _OS(head[2])
    created, updated = _times(head)
    draw = iter(struct.unpack_from(">25H", digest, 14)).__next__
    payload = _payload(draw, status, aux, created)
    env_disk = _DISK_FORMAT(draw())
    record: dict[str, object] = {
        "id": image_id,
        "name": _name(draw, imagetype, entry),
        "status": status,
        "visibility": _VISIBILITY[imagetype],
        "protected": imagetype == "gold",
        "os_hidden": False,
        **payload,
        "owner": owner,
        "virtual_size": None,
        "min_ram": _MIN_RAM(draw()),
        "min_disk": 0 if status == "queued" else _MIN_DISK(draw()),
        "container_format": "bare",
        "disk_format": env_disk,
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "tags": [],
        "self": f"/v2/images/{image_id}",
        "file": f"/v2/images/{image_id}/file",
        "schema": "/v2/schemas/image",
    }
    record.update(_os_props(draw, entry))
    record.update(_ims_props(draw, imagetype, payload["size"]))
    record.update(_quirks(draw, aux, owner, imagetype))
    if record["virtual_env_type"] == "IsoImage":
        record["disk_format"] = "iso"
    return record
