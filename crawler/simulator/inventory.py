"""A deterministic, stateless inventory of Glance images.

Nothing is stored per image: every attribute of image ``index`` is derived from keyed
BLAKE2b digests of the index, so a million-image inventory costs a few hundred bytes.
Image ids carry their own index: 40 bits of ``(index * mul) ^ mask`` in the last five
bytes, 82 bits of a keyed tag over those bytes everywhere else, and the uuid4
version/variant bits set. :meth:`Inventory.lookup` decodes the index and re-derives the
id to check it, which is O(1) and rejects foreign uuids with probability 1 - 2**-82.

``InventorySpec.revision`` ages the cloud by that many nights (``crawler.simulator.revisions``):
images change or are deleted, and new ones get the indices after ``images``. Revision 0 is
the inventory as it always was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Literal

from crawler.simulator.records import build_record, uuid4_text
from crawler.simulator.revisions import Event, added_per_revision, apply_change, events, night_time

__all__ = ["HIDDEN_STATUSES", "MAX_IMAGES", "Inventory", "InventorySpec", "write_id_list"]

_INDEX_BITS = 40
_INDEX_MASK = (1 << _INDEX_BITS) - 1
#: Largest inventory the id encoding can address.
MAX_IMAGES = 1 << _INDEX_BITS
#: Glance statuses Nova answers 404 for, as for an image that does not exist.
HIDDEN_STATUSES = frozenset({"deleted", "pending_delete"})


@dataclass(frozen=True, slots=True)
class InventorySpec:
    """Shape of a generated inventory.

    Attributes:
        images: Number of images (0 .. 2**40).
        projects: Number of projects the images are spread over (at least 1).
        seed: Any integer; the same seed always yields the same inventory.
        revision: Nights since revision 0 (see ``crawler.simulator.revisions``): about 2%
            of the images change and 1% are deleted each night, and ``added`` new ones
            appear, with the indices after ``images``.
    """

    images: int = 2000
    projects: int = 20
    seed: int = 1
    revision: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.images <= MAX_IMAGES:
            raise ValueError(f"images must be between 0 and {MAX_IMAGES}, got {self.images}")
        if not 1 <= self.projects <= 1_000_000:
            raise ValueError(f"projects must be between 1 and 1000000, got {self.projects}")
        if self.revision < 0:
            raise ValueError(f"revision must be 0 or more, got {self.revision}")
        if self.images + self.added > MAX_IMAGES:
            raise ValueError(f"images plus the {self.added} added by revision exceed {MAX_IMAGES}")

    @property
    def added(self) -> int:
        """How many images were added since revision 0."""
        return self.revision * added_per_revision(self.images)


def _key(root: bytes, label: str) -> bytes:
    return blake2b(label.encode(), key=root, digest_size=32).digest()


class Inventory:
    """Images ``0 .. spec.images + spec.added - 1``, each owned by one of ``projects``.

    Indices from ``spec.images`` on are the images added since revision 0. Images deleted
    by ``spec.revision`` keep their index (and are in ``len``, ``iter_pairs`` and the id
    list) but :meth:`record` is None for them and the simulator answers 404.
    """

    __slots__ = (
        "_attr_key",
        "_aux_key",
        "_id_key",
        "_mask",
        "_mul",
        "_mul_inv",
        "_n",
        "_revision_key",
        "_unknown_key",
        "projects",
        "spec",
    )

    def __init__(self, spec: InventorySpec) -> None:
        self.spec = spec
        self._n = spec.images + spec.added
        root = blake2b(f"crawler.simulator.inventory:{spec.seed}".encode()).digest()
        self._id_key = _key(root, "id")
        self._attr_key = _key(root, "attributes")
        self._aux_key = _key(root, "aux")
        self._unknown_key = _key(root, "unknown")
        self._revision_key = _key(root, "revisions")
        codec = _key(root, "codec")
        self._mask = int.from_bytes(codec[:5], "big")
        self._mul = int.from_bytes(codec[5:10], "big") | 1  # odd, so invertible mod 2**40
        self._mul_inv = pow(self._mul, -1, 1 << _INDEX_BITS)
        project_key = _key(root, "projects")
        self.projects: tuple[str, ...] = tuple(
            blake2b(i.to_bytes(4, "big"), key=project_key, digest_size=16).hexdigest()
            for i in range(spec.projects)
        )

    def __len__(self) -> int:
        return self._n

    def _check(self, index: int) -> None:
        if not 0 <= index < self._n:
            raise IndexError(f"image index {index} out of range 0..{self._n - 1}")

    def _compose(self, enc: int) -> str:
        tail = enc.to_bytes(5, "big")
        tag = blake2b(tail, key=self._id_key, digest_size=11).digest()
        return uuid4_text(tag + tail)

    def image_id(self, index: int) -> str:
        """Return the id of image ``index``."""
        self._check(index)
        return self._compose(((index * self._mul) & _INDEX_MASK) ^ self._mask)

    def lookup(self, image_id: str) -> int | None:
        """Return the index of ``image_id`` or None when it is not one of ours."""
        if len(image_id) != 36:
            return None
        text = image_id.lower()
        try:
            enc = int(text[26:], 16)
        except ValueError:
            return None
        index = ((enc ^ self._mask) * self._mul_inv) & _INDEX_MASK
        if index >= self._n or self._compose(enc) != text:
            return None
        return index

    def digest(self, index: int) -> bytes:
        """Return the keyed digest the attributes of image ``index`` are derived from."""
        return blake2b(index.to_bytes(5, "big"), key=self._attr_key, digest_size=64).digest()

    def owner_of(self, digest: bytes) -> str:
        """Return the project id that owns the image of attribute ``digest``."""
        # Skewed on purpose: a few projects own most images, as in real tenancies.
        share = int.from_bytes(digest[:2], "big") / 65536
        return self.projects[int(len(self.projects) * share**1.5)]

    def owner(self, index: int) -> str:
        """Return the project id that owns image ``index``."""
        self._check(index)
        return self.owner_of(self.digest(index))

    def born(self, index: int) -> int:
        """Return the revision at which image ``index`` appeared (0 for the original ones)."""
        if index < self.spec.images:
            return 0
        return (index - self.spec.images) // added_per_revision(self.spec.images) + 1

    def revision_events(self, index: int, born: int) -> Iterator[Event]:
        """Yield the events of image ``index`` (born at ``born``) up to ``spec.revision``."""
        return events(self._revision_key, index, born, self.spec.revision)

    def _history(self, index: int) -> tuple[dict[str, object], bool]:
        """The record at this revision (the last one, if deleted) and whether it is deleted."""
        image_id = self.image_id(index)
        digest = self.digest(index)
        aux = blake2b(index.to_bytes(5, "big"), key=self._aux_key, digest_size=64).digest()
        record = build_record(image_id, self.owner_of(digest), digest, aux)
        born = self.born(index)
        if born:
            record["created_at"] = record["updated_at"] = night_time(born, digest[-1] * 300)
        for event in self.revision_events(index, born):
            if event.kind == "delete":
                return record, True
            apply_change(record, event)
        return record, False

    def glance_record(self, index: int) -> dict[str, object]:
        """Return the Glance v2 image object of image ``index`` (custom props at top level).

        It is the image as of this revision; for a deleted image, as it was last seen.
        """
        return self._history(index)[0]

    def record(self, index: int) -> dict[str, object] | None:
        """Return the Glance record of image ``index`` at this revision, or None if the image
        does not exist: deleted by now, or added after this revision (``index >= len``).

        Images with a status in :data:`HIDDEN_STATUSES` exist, but Nova answers 404 for them.
        """
        if index < 0:
            raise IndexError(f"image index {index} is negative")
        if index >= self._n:
            return None
        record, deleted = self._history(index)
        return None if deleted else record

    def iter_pairs(self) -> Iterator[tuple[str, str]]:
        """Yield ``(project_id, image_id)`` for every image, in index order.

        Deleted images are included: an id list of this revision still names them.
        """
        for index in range(self._n):
            yield self.owner_of(self.digest(index)), self.image_id(index)

    def unknown_pair(self, k: int) -> tuple[str, str]:
        """Return the ``k``-th deterministic pair whose image id is not in the inventory."""
        salt = 0
        while True:
            raw = blake2b(f"{k}:{salt}".encode(), key=self._unknown_key, digest_size=20).digest()
            candidate = uuid4_text(raw[:16])
            if self.lookup(candidate) is None:
                project = self.projects[int.from_bytes(raw[16:], "big") % len(self.projects)]
                return project, candidate
            salt += 1  # astronomically rare: the random uuid decoded to a real image

    def unknown_pairs(self, count: int) -> list[tuple[str, str]]:
        """Return ``count`` deterministic pairs whose image ids are unknown."""
        return [self.unknown_pair(k) for k in range(count)]


def _stride(total: int, seed: int) -> tuple[int, int]:
    """Pick a stride coprime with ``total`` (near the golden ratio) and a start offset."""
    if total <= 1:
        return 1, 0
    h = int.from_bytes(blake2b(f"shuffle:{seed}:{total}".encode()).digest()[:8], "big")
    step = (int(total * 0.6180339887) + h % 97) % total or 1
    while math.gcd(step, total) != 1:
        step = step % total + 1
    return step, h % total


def write_id_list(
    inventory: Inventory,
    path: Path,
    *,
    unknown: int = 0,
    fmt: Literal["csv", "jsonl"] = "csv",
) -> int:
    """Write every inventory pair plus ``unknown`` unknown pairs, deterministically shuffled.

    At a revision above 0 the list holds the images added so far and the deleted ones too
    (they answer 404), as yesterday's list of a real cloud would.

    The order is a strided walk over all rows, so nothing is materialised and memory stays
    flat however large the inventory is.

    Args:
        inventory: Source of the pairs.
        path: File to (over)write.
        unknown: How many pairs with unknown image ids to mix in.
        fmt: ``csv`` (header ``project_id,image_id``) or ``jsonl``.

    Returns:
        Number of data rows written.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unsupported id list format {fmt!r}")
    if unknown < 0:
        raise ValueError("unknown must not be negative")
    known = len(inventory)
    total = known + unknown
    step, offset = _stride(total, inventory.spec.seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            fh.write("project_id,image_id\n")
        for k in range(total):
            row = (k * step + offset) % total
            if row < known:
                pair = inventory.owner(row), inventory.image_id(row)
            else:
                pair = inventory.unknown_pair(row - known)
            if fmt == "csv":
                fh.write(f"{pair[0]},{pair[1]}\n")
            else:
                fh.write(json.dumps({"project_id": pair[0], "image_id": pair[1]}) + "\n")
    return total
