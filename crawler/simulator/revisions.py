"""The inventory's history: what happens to each image night after night. Pure.

Revision ``r`` is "the same cloud, ``r`` nights later". Each image has a timeline of events
derived from keyed digests of its index alone, so every revision agrees on the past: an
image deleted on night 3 is gone at every revision from 3 on, and its record at revision
``r`` is its record at birth with the changes of nights ``1..r`` applied in order.

Every night an existing image is changed with probability :data:`CHANGE_BP` and deleted
with probability :data:`DELETE_BP` (basis points), and ``added_per_revision(images)`` new
images appear. Events form a Bernoulli process, so the gaps between them are geometric:
finding the events up to night ``r`` costs one digest per event plus one, not one per
night, and nothing at all at revision 0.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import blake2b
from typing import Final, Literal

__all__ = [
    "ADD_BP",
    "CHANGE_BP",
    "DELETE_BP",
    "Event",
    "added_per_revision",
    "apply_change",
    "events",
    "night_time",
]

#: Per night and image, in basis points (1/10,000): changed, deleted; and images added
#: per night as a share of the revision-0 inventory (rounded up).
CHANGE_BP: Final = 200
DELETE_BP: Final = 100
ADD_BP: Final = 100

_EVENT_BP: Final = CHANGE_BP + DELETE_BP
_LOG_STAY: Final = math.log1p(-_EVENT_BP / 10_000)  # log of "no event tonight"
# 2027-01-01T00:00:00Z: after every revision-0 timestamp (records cap them at 2026-12-31).
_EPOCH: Final = 1798761600
_DAY: Final = 86400
_DISK_BUSES: Final = ("scsi", "virtio", "ide", "sata")
#: The custom metadata key the changes add, alter and remove.
CUSTOM_KEY: Final = "cost_center"


def added_per_revision(images: int) -> int:
    """How many images appear each night in an inventory of ``images`` at revision 0."""
    return -(-images * ADD_BP // 10_000)


def night_time(night: int, offset: int) -> str:
    """ISO 8601 UTC time ``offset`` seconds (mod one day) into ``night``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_EPOCH + night * _DAY + offset % _DAY))


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to an image on ``night``; ``digest`` drives the details."""

    night: int
    kind: Literal["change", "delete"]
    digest: bytes


def _gap(u64: int) -> int:
    """Nights until the next event: geometric, from a uniform 64-bit value."""
    uniform = (u64 + 1) / 2.0**64  # in (0, 1]
    return 1 + int(math.log(uniform) / _LOG_STAY)


def events(key: bytes, index: int, born: int, until: int) -> Iterator[Event]:
    """The events of image ``index`` on nights ``born + 1 .. until``, in order.

    A ``delete`` event is the last one.
    """
    night, k = born, 0
    while night < until:
        data = index.to_bytes(5, "big") + k.to_bytes(4, "big")
        digest = blake2b(data, key=key, digest_size=32).digest()
        night += _gap(int.from_bytes(digest[:8], "big"))
        if night > until:
            return
        deleted = int.from_bytes(digest[8:10], "big") * _EVENT_BP < DELETE_BP * 65536
        yield Event(night, "delete" if deleted else "change", digest[10:])
        if deleted:
            return
        k += 1


def apply_change(record: dict[str, object], event: Event) -> None:
    """Apply one ``change`` event to a Glance record, in place.

    ``updated_at`` always moves to the event's night; then, each by its own draw, the name
    changes, ``hw_disk_bus`` switches, :data:`CUSTOM_KEY` is added, altered or removed, and
    an active image is deactivated (a deactivated one reactivated).
    """
    draw = iter(struct.unpack(">11H", event.digest[:22])).__next__
    night = event.night
    record["updated_at"] = night_time(night, draw() * 3)
    if draw() < 32768:
        record["name"] = f"{record.get('name') or 'image'}-r{night}"
    if draw() < 26214:
        current = record.get("hw_disk_bus")
        others = [bus for bus in _DISK_BUSES if bus != current]
        record["hw_disk_bus"] = others[draw() % len(others)]
    if draw() < 26214:
        if CUSTOM_KEY in record and draw() < 32768:
            del record[CUSTOM_KEY]
        else:
            record[CUSTOM_KEY] = f"cc-{night:04d}-{draw() % 100:02d}"
    if draw() < 16384:
        flip = {"active": "deactivated", "deactivated": "active"}
        record["status"] = flip.get(str(record["status"]), record["status"])
