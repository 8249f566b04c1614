"""Rate limits on a fake clock: exact, instant, deterministic."""

from __future__ import annotations

import time

import anyio
import pytest

from crawler.ratelimit import SHORT_PAUSE_S, AdaptiveLimiter, RateLimits, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admitted_within(bucket: TokenBucket, seconds: float, start: float = 0.0) -> int:
    """Requests a greedy client gets through in ``seconds`` (each waits its reserved slot)."""
    count, now = 0, start
    while True:
        now += bucket.reserve(now)
        if now >= start + seconds:
            return count
        count += 1


@pytest.mark.parametrize(("rate", "burst"), [(100.0, 1.0), (200.0, 20.0), (500.0, 5.0), (3.0, 1.0)])
def test_bucket_admits_rate_times_seconds_plus_burst(rate: float, burst: float) -> None:
    bucket = TokenBucket(rate, burst)
    assert admitted_within(bucket, 10.0) == pytest.approx(rate * 10 + burst - 1, abs=1)


def test_reservations_are_spaced_evenly_for_concurrent_callers() -> None:
    bucket = TokenBucket(100.0, 1.0)
    waits = [bucket.reserve(0.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])


def test_retry_after_pauses_everyone_and_halves_the_rate_once_per_second() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(ceiling=200.0, clock=clock)
    limiter.observe(True, retry_after=3.0)
    cooldown, _ = limiter.reserve(clock())
    assert cooldown == pytest.approx(3.0)
    assert limiter.stats.current_rate == 100.0
    # More 429s from the same burst may extend the pause but do not cut again.
    limiter.observe(True, retry_after=4.0)
    limiter.observe(True, retry_after=1.0)
    assert (limiter.stats.rate_cuts, limiter.stats.throttle_signals) == (1, 3)
    assert limiter.cooldown_until == pytest.approx(clock() + 4.0)


def test_sporadic_throttles_without_retry_after_are_left_to_backoff() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(ceiling=None, clock=clock)
    for n in range(1000):  # 2 % throttled, spread over 10 s
        clock.now += 0.01
        limiter.observe(n % 50 == 0)
    assert limiter.stats.throttle_signals == 20
    assert limiter.stats.rate_cuts == 0
    assert limiter.reserve(clock()) == (0.0, 0.0)


def test_a_real_share_of_throttles_cuts_to_half_the_observed_rate() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(ceiling=None, clock=clock)
    for n in range(600):  # 300 answers/s, then one in three throttled
        clock.now += 1 / 300
        limiter.observe(n >= 300 and n % 3 == 0)
        if limiter.stats.rate_cuts:
            break
    assert limiter.stats.current_rate == pytest.approx(150.0, abs=5)
    assert limiter.reserve(clock())[0] == pytest.approx(SHORT_PAUSE_S)


def test_rate_recovers_additively_up_to_the_ceiling() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(ceiling=200.0, clock=clock)
    limiter.observe(True, retry_after=1.0)
    rates = []
    for _ in range(30):
        clock.now += 1.0
        limiter.reserve(clock())
        rates.append(limiter.stats.current_rate)
    assert rates[:3] == [100.0, 110.0, 120.0]  # +5 % of the ceiling per second after the pause
    assert rates == sorted(rates)
    assert rates[-1] == 200.0


def test_without_a_ceiling_the_limit_is_lifted_once_the_old_rate_is_back() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(ceiling=None, clock=clock)
    for _ in range(100):
        clock.now += 0.01
        limiter.observe(False)
    limiter.observe(True, retry_after=0.0)
    assert limiter.peak == pytest.approx(100, rel=0.05)
    for _ in range(25):
        clock.now += 1.0
        limiter.reserve(clock())
    assert limiter.bucket is None
    assert limiter.stats.current_rate is None


def test_per_project_buckets_are_independent() -> None:
    clock = FakeClock()
    limits = RateLimits(per_project_rate=10.0, clock=clock)
    waits_a = [limits.reserve("a") for _ in range(3)]
    waits_b = [limits.reserve("b") for _ in range(3)]
    assert waits_a == waits_b == pytest.approx([0.0, 0.1, 0.2])
    assert limits.stats.rate_waits == 4


@pytest.mark.slow
async def test_real_time_rate_is_close_to_the_setting() -> None:
    limits = RateLimits(rate=200.0)
    sent = 0
    started = time.monotonic()

    async def worker() -> None:
        nonlocal sent
        while time.monotonic() - started < 2.0:
            await limits.acquire("p")
            sent += 1

    async with anyio.create_task_group() as tg:
        for _ in range(16):
            tg.start_soon(worker)
    rate = sent / (time.monotonic() - started)
    assert 180 <= rate <= 215
