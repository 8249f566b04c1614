"""Token buckets, the way an API gateway meters requests.

The clock is injectable so tests can drive a bucket through simulated seconds exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["BucketTable", "Clock", "TokenBucket"]

Clock = Callable[[], float]

# Refills are sums of float products; without slack a token due exactly "now" could be
# missed by a rounding error of 1e-16 and a request at the boundary rejected.
_EPSILON = 1e-9


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; one request takes one token."""

    __slots__ = ("_burst", "_clock", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst  # a gateway starts with a full bucket
        self._last = clock()

    def take(self) -> bool:
        """Take a token if one is available; return whether the request is admitted."""
        now = self._clock()
        elapsed = now - self._last
        if elapsed > 0:  # a clock that stands still (or a fake one going back) adds nothing
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            self._last = now
        if self._tokens >= 1 - _EPSILON:
            self._tokens -= 1
            return True
        return False


class BucketTable:
    """One :class:`TokenBucket` per key (project, credential, or a single global one)."""

    __slots__ = ("_buckets", "_burst", "_clock", "_rate")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> bool:
        """Take a token from ``key``'s bucket, creating a full one on first use."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._clock)
        return bucket.take()
