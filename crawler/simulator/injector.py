"""Deciding which request gets which fault (no I/O; answers are in ``outcomes``).

Two independent mechanisms, checked in this order:

1. The token bucket (``rate_limit``): time-based, so not reproducible by nature. A request
   it rejects does not count as an attempt of its item.
2. Random faults: the n-th admitted request for ``(project_id, image_id)`` gets the fault
   picked by a keyed BLAKE2b hash of ``(project_id, image_id, n)``. Concurrent requests
   for *different* items therefore never shift each other's faults, and two simulators
   with the same seed answer the same per-item request sequence the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from hashlib import blake2b
from typing import Literal

from crawler.simulator.faults import RATE_FIELDS, FaultConfig
from crawler.simulator.ratelimit import BucketTable, Clock

__all__ = ["Fault", "FaultKind", "FaultPlan"]

FaultKind = Literal["error", "throttle", "rate_limit", "reset", "timeout", "bad_json"]

_ERROR_STATUSES = (500, 502, 503, 504)
_KIND_OF_RATE: dict[str, FaultKind] = {
    "error_rate": "error",
    "throttle_rate": "throttle",
    "reset_rate": "reset",
    "timeout_rate": "timeout",
    "bad_json_rate": "bad_json",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One decided fault.

    Attributes:
        kind: What goes wrong; ``rate_limit`` is the token bucket, ``throttle`` a random one.
        status: HTTP status of an ``error`` (500, 502, 503 or 504), else 0.
        variant: 0 or 1, picks the flavour of a ``reset`` or ``bad_json`` fault.
    """

    kind: FaultKind
    status: int = 0
    variant: int = 0


RATE_LIMITED = Fault("rate_limit")


class FaultPlan:
    """Decides the fault, if any, of each request to the Nova route."""

    def __init__(self, config: FaultConfig, clock: Clock = time.monotonic) -> None:
        self._config = config
        self._buckets = (
            None
            if config.rate_limit is None
            else BucketTable(config.rate_limit, config.burst, clock)
        )
        self._key = blake2b(f"crawler.simulator.faults:{config.seed}".encode()).digest()
        # Upper ends of each kind's share of [0, 1), in RATE_FIELDS order.
        self._ranges: list[tuple[float, FaultKind]] = []
        upper = 0.0
        for name in RATE_FIELDS:
            if rate := getattr(config, name):
                upper += rate
                self._ranges.append((upper, _KIND_OF_RATE[name]))
        # Per item: [admitted requests so far, faults injected so far].
        self._items: dict[str, list[int]] = {}

    def decide(self, project_id: str, image_id: str, credential: str = "") -> Fault | None:
        """Return the fault for this request, or None to answer it normally.

        Args:
            project_id: Project in the request path.
            image_id: Image id in the request path, as sent.
            credential: Token or access key, the bucket key when ``rate_key="token"``.
        """
        if self._buckets is not None and not self._buckets.take(
            self._bucket_key(project_id, credential)
        ):
            return RATE_LIMITED
        if not self._ranges:
            return None
        item = f"{project_id}/{image_id}"
        counts = self._items.get(item)
        if counts is None:
            counts = self._items[item] = [0, 0]
        attempt = counts[0]
        counts[0] += 1
        cap = self._config.max_faults_per_item
        if cap is not None and counts[1] >= cap:
            return None
        fault = self._pick(f"{item}/{attempt}".encode())
        if fault is not None:
            counts[1] += 1
        return fault

    def _bucket_key(self, project_id: str, credential: str) -> str:
        rate_key = self._config.rate_key
        if rate_key == "project":
            return project_id
        return credential if rate_key == "token" else ""

    def _pick(self, message: bytes) -> Fault | None:
        digest = blake2b(message, key=self._key, digest_size=16).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        for upper, kind in self._ranges:
            if share < upper:
                status = _ERROR_STATUSES[digest[8] % 4] if kind == "error" else 0
                return Fault(kind, status, digest[9] & 1)
        return None
