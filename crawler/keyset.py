"""Compact keys for (project_id, image_id) pairs: digests, shards and a set of 128-bit keys.

Pure: no I/O. A pair becomes a 16-byte BLAKE2b digest (``pair_digest``); a batch of digests
becomes an ``(n, 2)`` uint64 array (``digests_array``); ``KeySet`` de-duplicates such rows at
~27-40 bytes per key, where a Python ``set`` of ``bytes`` costs ~80-100.

``KeySet`` layout: two uint64 arrays (low and high word of each key) form one open-addressing
table with linear probing. A slot whose low word is 0 is empty; to keep that unambiguous the
low bit of the low word is forced to 1 for every key, so keys carry 127 bits and two keys that
differ only in that bit are the same key. For BLAKE2b digests that leaves a collision chance
of about n**2 / 2**128, nil for any realistic n.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

DIGEST_SIZE: Final = 16
# Load stays at most 3/5; growth by half keeps it at least 2/5 after a resize, so the table
# holds 16/0.6 to 16/0.4 bytes per key (doubling would allow up to 53).
_LOAD_NUM: Final = 3
_LOAD_DEN: Final = 5
_MIN_CAPACITY: Final = 8
# Slots come from the high 32 hash bits times the capacity; that product must fit in 64 bits.
_MAX_CAPACITY: Final = 1 << 32
_REHASH_SLICE: Final = 1 << 16
_LOW_BIT: Final = np.uint64(1)
_MIX_1: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX_2: Final = np.uint64(0xBF58476D1CE4E5B9)

U64 = NDArray[np.uint64]
Mask = NDArray[np.bool_]
Slots = NDArray[np.intp]


def pair_digest(project_id: str, image_id: str) -> bytes:
    """16-byte BLAKE2b of ``f"{project_id}/{image_id}"`` (UTF-8); callers pass lower-cased ids."""
    data = f"{project_id}/{image_id}".encode()
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


def digests_array(digests: Sequence[bytes]) -> U64:
    """Stack 16-byte digests into an ``(n, 2)`` uint64 array of their little-endian words.

    Raises:
        ValueError: a digest is not 16 bytes long.
    """
    joined = b"".join(digests)
    if len(joined) != DIGEST_SIZE * len(digests):
        raise ValueError(f"every digest must be {DIGEST_SIZE} bytes long")
    # "<u8" pins the byte order; astype copies into a writable, native-order array.
    return np.frombuffer(joined, dtype="<u8").astype(np.uint64).reshape(-1, 2)


def shard_of(digest: bytes, count: int) -> int:
    """Shard ``int.from_bytes(digest[:8], "little") % count``, in ``range(count)``.

    Only integer arithmetic on the digest bytes, so every machine and Python version agrees.
    For a batch, ``digests_array(digests)[:, 0] % count`` gives the same shards.
    """
    if count < 1:
        raise ValueError(f"shard count must be >= 1, got {count}")
    return int.from_bytes(digest[:8], "little") % count


class KeySet:
    """A set of 128-bit keys, given as rows of ``(n, 2)`` uint64 arrays (see module docstring).

    Every operation handles a whole batch with numpy; the Python loop runs once per probe
    step, not per key. The table grows by half, rehashing vectorially, before a batch could
    push its load above 0.6.
    """

    def __init__(self, capacity: int = 1 << 12) -> None:
        if not 1 <= capacity <= _MAX_CAPACITY:
            raise ValueError(f"capacity must be in 1..2**32, got {capacity}")
        size = max(capacity, _MIN_CAPACITY)
        self._lo: U64 = np.zeros(size, np.uint64)
        self._hi: U64 = np.zeros(size, np.uint64)
        self._len = 0

    def __len__(self) -> int:
        return self._len

    @property
    def capacity(self) -> int:
        """Number of slots in the table."""
        return self._lo.size

    @property
    def nbytes(self) -> int:
        """Bytes held by the table arrays."""
        return self._lo.nbytes + self._hi.nbytes

    def add(self, keys: U64) -> Mask:
        """Insert ``keys``; True where a key was new (for repeats in the batch: the first)."""
        lo, hi = _split(keys)
        if lo.size:
            self._reserve(lo, hi)
        return self._insert(lo, hi)

    def contains(self, keys: U64) -> Mask:
        """True where a key is in the set; inserts nothing."""
        return self._find(*_split(keys))

    def _find(self, lo: U64, hi: U64) -> Mask:
        found = np.zeros(lo.size, np.bool_)
        idx = np.arange(lo.size)
        pos = self._home(lo, hi)
        while idx.size:
            slot_lo = self._lo[pos]
            hit = (slot_lo == lo) & (self._hi[pos] == hi)
            found[idx[hit]] = True
            going = ~hit & (slot_lo != 0)
            idx, lo, hi, pos = idx[going], lo[going], hi[going], self._step(pos[going])
        return found

    def _insert(self, lo: U64, hi: U64) -> Mask:
        """Claim empty slots; a slot wanted by several keys goes to the lowest batch index.

        A losing key stays where it is and meets the winner's key in the next round: an
        equal key there makes it a duplicate, any other key sends it on probing.
        """
        new = np.zeros(lo.size, np.bool_)
        idx = np.arange(lo.size)
        pos = self._home(lo, hi)
        while idx.size:
            slot_lo = self._lo[pos]
            empty = slot_lo == 0
            hit = (slot_lo == lo) & (self._hi[pos] == hi)
            claimants = np.flatnonzero(empty)
            # idx only ever shrinks in order, so the first claimant has the lowest index.
            won = claimants[_first_per_value(pos[claimants])]
            self._lo[pos[won]] = lo[won]
            self._hi[pos[won]] = hi[won]
            new[idx[won]] = True
            moving = ~(hit | empty)
            pos[moving] = self._step(pos[moving])
            staying = ~hit
            staying[won] = False
            idx, lo, hi, pos = idx[staying], lo[staying], hi[staying], pos[staying]
        self._len += int(np.count_nonzero(new))
        return new

    def _reserve(self, lo: U64, hi: U64) -> None:
        """Grow so that the batch fits; count only absent keys when growth is in question."""
        size = self._lo.size
        if (self._len + lo.size) * _LOAD_DEN <= size * _LOAD_NUM:
            return
        need = self._len + lo.size - int(np.count_nonzero(self._find(lo, hi)))
        while need * _LOAD_DEN > size * _LOAD_NUM:
            size += size // 2
        if size > _MAX_CAPACITY:
            raise OverflowError(f"a KeySet holds at most {_MAX_CAPACITY} slots")
        if size != self._lo.size:
            self._rehash(size)

    def _rehash(self, size: int) -> None:
        """Move every key into a table of ``size`` slots, a slice of old slots at a time.

        Slicing bounds the probe temporaries, so the peak stays near old plus new table.
        """
        old_lo, old_hi = self._lo, self._hi
        self._lo = np.zeros(size, np.uint64)
        self._hi = np.zeros(size, np.uint64)
        self._len = 0
        for start in range(0, old_lo.size, _REHASH_SLICE):
            lo, hi = old_lo[start : start + _REHASH_SLICE], old_hi[start : start + _REHASH_SLICE]
            occupied = lo != 0
            self._insert(lo[occupied], hi[occupied])

    def _home(self, lo: U64, hi: U64) -> Slots:
        """First slot to probe: a multiplicative mix of both words, scaled to the capacity.

        Mixing matters even for digests: keys of one shard share the low bits of ``lo``.
        """
        mixed = lo ^ (hi * _MIX_1)
        mixed ^= mixed >> np.uint64(29)
        mixed *= _MIX_2
        scaled = (mixed >> np.uint64(32)) * np.uint64(self._lo.size) >> np.uint64(32)
        return scaled.astype(np.intp)

    def _step(self, pos: Slots) -> Slots:
        pos = pos + 1
        pos[pos == self._lo.size] = 0
        return pos


def _first_per_value(slots: Slots) -> Slots:
    """Where in ``slots`` each distinct value first occurs.

    Same as ``np.unique(slots, return_index=True)[1]`` without its overhead, which counts on
    the many tiny late probe rounds.
    """
    if slots.size < 2:
        return np.arange(slots.size)
    order = np.argsort(slots, kind="stable")
    ordered = slots[order]
    first = np.ones(slots.size, np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return order[first]


def _split(keys: U64) -> tuple[U64, U64]:
    """Low words (low bit forced to 1) and high words of ``keys``, as contiguous copies."""
    keys = np.asarray(keys)
    if keys.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    if keys.ndim != 2 or keys.shape[1] != 2 or keys.dtype != np.uint64:
        raise ValueError(f"keys must be an (n, 2) uint64 array, got {keys.shape} {keys.dtype}")
    return keys[:, 0] | _LOW_BIT, np.ascontiguousarray(keys[:, 1])
