"""Rate limits: token buckets (overall and per project) and an adaptive endpoint limiter.

Every request first waits on ``RateLimits.acquire``. Buckets use GCRA-style reservations: a
caller reserves the next free slot at once and sleeps until it, so N concurrent workers are
spread evenly instead of waking together. The endpoint limiter adapts (AIMD): throttling
(429/413) pauses every worker on that endpoint together and halves the rate; each second after
the pause adds 5 % of the target back, up to the configured ceiling (or, with none, up to the
rate that was throttled, after which the limit is lifted).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import anyio

Clock = Callable[[], float]

SHORT_PAUSE_S: Final = 0.5  # lets a server's token bucket refill before we go on
THROTTLE_SHARE: Final = 0.2  # throttles per answer, within a second, that mean "too fast"
THROTTLE_MIN_COUNT: Final = 5  # fewer is noise (a 5 % random 429 rate stays below)
MIN_WINDOW_S: Final = 0.25  # shortest stretch a rate is measured over
DECREASE_FACTOR: Final = 0.5
INCREASE_FRACTION: Final = 0.05  # of the ceiling (or of the cut rate) per quiet second
MIN_RATE: Final = 1.0


class TokenBucket:
    """``rate`` requests per second with bursts of up to ``burst``; ``reserve`` never blocks."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # A small default burst absorbs a late wake-up without ever sending a burst large
        # enough to trip a server bucket of the same rate (those allow rate/10 or more).
        self.burst = max(1.0, burst if burst is not None else min(rate / 40, 10.0))
        self._tat = 0.0  # theoretical arrival time of the next request

    def set_rate(self, rate: float, now: float) -> None:
        """Change the rate from now on, keeping the reservations already made."""
        self._tat = max(self._tat, now)
        self.rate = rate

    def reserve(self, now: float) -> float:
        """Reserve one slot; return how long the caller must wait before using it."""
        interval = 1.0 / self.rate
        tat = max(self._tat, now)
        wait = max(0.0, tat - (self.burst - 1) * interval - now)
        self._tat = tat + interval
        return wait


@dataclass(slots=True)
class LimiterStats:
    """Counters for the manifest."""

    throttle_signals: int = 0
    rate_cuts: int = 0
    cooldown_waits: int = 0
    cooldown_wait_s: float = 0.0
    rate_waits: int = 0
    rate_wait_s: float = 0.0
    current_rate: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "throttle_signals": self.throttle_signals,
            "rate_cuts": self.rate_cuts,
            "cooldown_waits": self.cooldown_waits,
            "cooldown_wait_s": round(self.cooldown_wait_s, 3),
            "rate_waits": self.rate_waits,
            "rate_wait_s": round(self.rate_wait_s, 3),
            "final_rate": None if self.current_rate is None else round(self.current_rate, 1),
        }


@dataclass(slots=True)
class AdaptiveLimiter:
    """One endpoint's shared cool-down and AIMD rate.

    Unlimited until throttled when no ceiling is set. A throttle with Retry-After pauses
    everyone that long. Without Retry-After (Huawei's gateway sends none) a lone 429 is left to
    the item's own backoff; only when throttles are a real share of the answers (the server's
    limit is below our rate) is there a short pause and a cut. At most one cut per second.
    """

    ceiling: float | None
    clock: Clock = time.monotonic
    stats: LimiterStats = field(default_factory=LimiterStats)
    bucket: TokenBucket | None = None
    cooldown_until: float = 0.0
    peak: float | None = None  # the rate that was too high: recovery aims back at it
    _last_cut: float = float("-inf")
    _last_increase: float = 0.0
    _window_start: float = 0.0
    _answers: int = 0
    _throttles: int = 0
    _previous_answers: int = 0

    def __post_init__(self) -> None:
        if self.ceiling is not None:
            self.bucket = TokenBucket(self.ceiling)
            self.stats.current_rate = self.ceiling

    def observe(self, throttled: bool, retry_after: float | None = None) -> None:
        """Record one answer from the endpoint; react if it was a throttle."""
        now = self.clock()
        if now - self._window_start >= 1.0:
            self._previous_answers = self._answers if now - self._window_start < 2.0 else 0
            self._window_start, self._answers, self._throttles = now, 0, 0
        self._answers += 1
        if not throttled:
            return
        self._throttles += 1
        self.stats.throttle_signals += 1
        if retry_after is not None:
            self.cooldown_until = max(self.cooldown_until, now + retry_after)
        elif self._throttles >= max(THROTTLE_MIN_COUNT, THROTTLE_SHARE * self._answers):
            self.cooldown_until = max(self.cooldown_until, now + SHORT_PAUSE_S)
        else:
            return
        self._cut(now)

    def _cut(self, now: float) -> None:
        if now - self._last_cut < 1.0:
            return
        self._last_cut = now
        current = self.bucket.rate if self.bucket else max(MIN_RATE, self._observed_rate(now))
        self.peak = max(self.peak or 0.0, current)
        cut = max(MIN_RATE, current * DECREASE_FACTOR)
        if self.bucket is None:
            self.bucket = TokenBucket(cut)
        self.bucket.set_rate(cut, now)
        self.stats.rate_cuts += 1
        self.stats.current_rate = cut
        self._last_increase = max(now, self.cooldown_until)

    def _observed_rate(self, now: float) -> float:
        """Answers per second lately: the last full second, or this one if it is not young."""
        elapsed = now - self._window_start
        if elapsed < MIN_WINDOW_S and self._previous_answers:
            return float(self._previous_answers)
        return self._answers / max(elapsed, MIN_WINDOW_S)

    def _recover(self, now: float) -> None:
        if self.bucket is None or now - self._last_increase < 1.0:
            return
        seconds = int(now - self._last_increase)
        self._last_increase += seconds
        target = self.ceiling if self.ceiling is not None else self.peak or self.bucket.rate
        rate = self.bucket.rate + max(MIN_RATE, target * INCREASE_FRACTION) * seconds
        if self.ceiling is None and rate >= target:
            self.bucket = None  # back where trouble began, with no ceiling: unlimited again
            self.stats.current_rate = None
            return
        rate = min(rate, target)
        self.bucket.set_rate(rate, now)
        self.stats.current_rate = rate

    def reserve(self, now: float) -> tuple[float, float]:
        """Return (cool-down wait, rate wait) for one request starting now."""
        cooldown = max(0.0, self.cooldown_until - now)
        start = now + cooldown
        self._recover(start)
        if self.bucket is None:
            return cooldown, 0.0
        return cooldown, self.bucket.reserve(start)


class RateLimits:
    """All limits one request passes: the endpoint's adaptive limiter (ceiling ``rate``) and,
    when set, a bucket per project."""

    def __init__(
        self,
        rate: float | None = None,
        per_project_rate: float | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.endpoint = AdaptiveLimiter(rate, clock)
        self._per_project_rate = per_project_rate
        self._projects: dict[str, TokenBucket] = {}
        self._clock = clock

    @property
    def stats(self) -> LimiterStats:
        return self.endpoint.stats

    def reserve(self, project_id: str) -> float:
        """Reserve a slot in every limit; return the total wait (counted in the stats)."""
        now = self._clock()
        cooldown, rate_wait = self.endpoint.reserve(now)
        if self._per_project_rate is not None:
            bucket = self._projects.get(project_id)
            if bucket is None:
                bucket = self._projects[project_id] = TokenBucket(self._per_project_rate)
            rate_wait = max(rate_wait, bucket.reserve(now + cooldown))
        stats = self.endpoint.stats
        if cooldown:
            stats.cooldown_waits += 1
            stats.cooldown_wait_s += cooldown
        if rate_wait:
            stats.rate_waits += 1
            stats.rate_wait_s += rate_wait
        return cooldown + rate_wait

    async def acquire(self, project_id: str) -> None:
        """Wait until this request may go; a cool-down that began meanwhile is honoured too."""
        endpoint = self.endpoint
        if (
            endpoint.bucket is None
            and self._per_project_rate is None
            and not endpoint.cooldown_until
        ):
            return  # unlimited and never throttled: the common case costs nothing
        while (wait := self.reserve(project_id)) > 0:
            await anyio.sleep(wait)
            if self.endpoint.cooldown_until <= self._clock():
                return

    def observe(self, throttled: bool, retry_after: float | None = None) -> None:
        """Tell the endpoint limiter about one answer (throttled or not)."""
        self.endpoint.observe(throttled, retry_after)
