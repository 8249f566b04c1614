"""The listing behind every image list: who sees what, in which order, page by page.

What a project sees: the images it owns and every public one (the Nova route's rule).
:meth:`Listing.visible` is None for anything else, and for deleted and pending_delete
images; killed ones are visible. Lists never contain deleted, pending_delete or killed
images.

Lists are sorted by ``created_at`` then ``id``, descending (Glance's default; ``asc``
reverses both). :class:`ListingIndex` holds the sort order of the listable images in
numpy arrays, built once on the first list request (about 8 s per million images, more
with revisions);
a page then scans only the index positions after its marker, testing visibility, status,
owner and time filters on the arrays and the other filters on the records it reads.
"""

from __future__ import annotations

import asyncio
import threading
from array import array
from collections.abc import Callable, Iterator
from typing import Final

import numpy as np
import numpy.typing as npt

from crawler.simulator.inventory import HIDDEN_STATUSES, Inventory
from crawler.simulator.listquery import STATUSES, VISIBILITIES, BadQuery, ListQuery, epoch_seconds
from crawler.simulator.records import listing_fields
from crawler.simulator.revisions import apply_change, night_time

__all__ = ["UNLISTED", "Listing", "ListingIndex", "Record"]

UNLISTED: Final = frozenset({"killed", "deleted", "pending_delete"})
_PUBLIC: Final = VISIBILITIES.index("public")
_NOBODY: Final = -1  # project number that owns nothing: anonymous, or not in the inventory

Record = dict[str, object]


def _entry(inventory: Inventory, index: int) -> tuple[int, int, str, str, str] | None:
    """``(created, updated, owner, visibility, status)`` of a listable image, else None.

    Cheap: one digest plus the revision events, never the whole record. Mirrors
    ``Inventory._history`` (tests compare the two over whole inventories).
    """
    digest = inventory.digest(index)
    status, visibility, created, updated = listing_fields(digest)
    if status in UNLISTED:
        return None
    born = inventory.born(index)
    if born:
        created = updated = int(epoch_seconds(night_time(born, digest[-1] * 300)) or 0)
    revision = inventory.spec.revision
    if revision > born:
        scratch: Record = {"status": status}
        for event in inventory.revision_events(index, born):
            if event.kind == "delete":
                return None
            apply_change(scratch, event)  # only status and updated_at are read back
        if "updated_at" in scratch:
            updated = int(epoch_seconds(str(scratch["updated_at"])) or 0)
            status = str(scratch["status"])
    return created, updated, inventory.owner_of(digest), visibility, status


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
            created = epoch_seconds(str(marker["created_at"])) or 0.0
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
