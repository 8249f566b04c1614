"""Fault injection and throttling of the simulator, over real loopback HTTP.

Servers run in ``RunningSimulator`` (own thread and loop), opened inside each test, so no
task group or cancel scope spans pytest-asyncio's fixture tasks. Token buckets are
driven by a fake clock; the only real waits are sub-second hangs.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from crawler.simulator import (
    PROFILES,
    FaultConfig,
    InventorySpec,
    RunningSimulator,
    SimulatorConfig,
    parse_faults,
)
from crawler.simulator.injector import Fault, FaultPlan
from crawler.simulator.ratelimit import BucketTable, TokenBucket

SPEC = InventorySpec(images=400, projects=4, seed=5)
HEX32 = re.compile(r"^[0-9a-f]{32}$")
NOVA_ID = re.compile(r"^req-[0-9a-f-]{36}$")

Result = tuple[int, CIMultiDict[str], bytes]  # status, headers, body


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running(*, clock: FakeClock | None = None, **faults: Any) -> RunningSimulator:
    config = SimulatorConfig(inventory=SPEC, faults=FaultConfig(**faults))
    return RunningSimulator(config) if clock is None else RunningSimulator(config, clock=clock)


def url_of(sim: RunningSimulator, index: int, project: str | None = None) -> str:
    owner = project or sim.inventory.owner(index)
    return f"{sim.base_url}/v2.1/{owner}/images/{sim.inventory.image_id(index)}"


async def get(url: str, headers: dict[str, str] | None = None, read_s: float = 5) -> Result:
    timeout = aiohttp.ClientTimeout(total=10, sock_read=read_s)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers) as resp,
    ):
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def outcome(url: str) -> str:
    """Status of one GET, ``"bad_json"`` for an undecodable 200, or the exception's name."""
    try:
        status, _, body = await get(url, read_s=0.3)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return type(exc).__name__
    if status == 200:
        try:
            json.loads(body)
        except ValueError:
            return "bad_json"
    return str(status)


# --- profiles and parsing -----------------------------------------------------------------


def test_profiles() -> None:
    assert set(PROFILES) >= {"none", "chaos", "throttle", "nova-throttle", "flaky"}
    assert not PROFILES["none"].enabled
    chaos = PROFILES["chaos"]
    assert (chaos.error_rate, chaos.throttle_rate, chaos.reset_rate) == (0.2, 0.05, 0.01)
    assert (chaos.timeout_rate, chaos.bad_json_rate, chaos.max_faults_per_item) == (0.01, 0.005, 3)
    assert chaos.hang_s <= 2
    assert (PROFILES["throttle"].rate_limit, PROFILES["throttle"].throttle_style) == (200, "huawei")
    assert PROFILES["nova-throttle"].throttle_style == "nova429"
    assert PROFILES["nova-throttle"].retry_after == 1
    assert (PROFILES["flaky"].error_rate, PROFILES["flaky"].reset_rate) == (0.05, 0.01)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", FaultConfig()),
        ("none", FaultConfig()),
        ("chaos", PROFILES["chaos"]),
        ("chaos, error_rate=0.1 ,seed=3", replace(PROFILES["chaos"], error_rate=0.1, seed=3)),
        (
            "rate_limit=200,throttle_style=nova429,rate_key=token",
            FaultConfig(rate_limit=200, throttle_style="nova429", rate_key="token"),
        ),
        (
            "throttle,retry_after_s=2.5,retry_after_http_date=true,rate_burst=none",
            FaultConfig(rate_limit=200, retry_after_s=2.5, retry_after_http_date=True),
        ),
        (
            "max_faults_per_item=2,token_ttl_s=60",
            FaultConfig(max_faults_per_item=2, token_ttl_s=60),
        ),
    ],
)
def test_parse_faults(spec: str, expected: FaultConfig) -> None:
    assert parse_faults(spec) == expected


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("storm", "storm"),
        ("chaos,bogus=1", "bogus"),
        ("error_rate=lots", "error_rate"),
        ("seed=1.5", "seed"),
        ("error_rate=1.5", "error_rate"),
        ("error_rate=0.6,reset_rate=0.6", "reset_rate"),
        ("throttle_style=polite", "throttle_style"),
        ("rate_key=user", "rate_key"),
        ("rate_limit=0", "rate_limit"),
        ("rate_burst=5", "rate_burst"),
        ("hang_s=-1", "hang_s"),
        ("retry_after_http_date=maybe", "retry_after_http_date"),
        ("max_faults_per_item=-1", "max_faults_per_item"),
        ("chaos,flaky", "flaky"),
    ],
)
def test_parse_faults_errors_name_the_key(spec: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_faults(spec)


def test_config_derived_values() -> None:
    assert FaultConfig(rate_limit=200).burst == 20
    assert FaultConfig(rate_limit=5).burst == 1
    assert FaultConfig(rate_limit=5, rate_burst=7).burst == 7
    assert FaultConfig().retry_after is None  # Huawei style: no Retry-After by default
    assert FaultConfig(throttle_style="nova413").retry_after == 1
    assert FaultConfig().token_ttl == 3600
    assert FaultConfig(rate_limit=1).enabled
    assert not FaultConfig(rate_limit=1).random_faults


# --- token bucket on a fake clock ---------------------------------------------------------


@pytest.mark.parametrize(("last_ms", "admitted"), [(999, 219), (1000, 220)])
def test_bucket_admits_burst_plus_rate(last_ms: int, admitted: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(200, 20, clock)
    count = 0
    for ms in range(last_ms + 1):  # one request every simulated millisecond
        clock.now = ms / 1000
        count += bucket.take()
    assert count == admitted  # 20 at once, then one per 5 ms


def test_bucket_caps_idle_refill_and_ignores_backward_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, 3, clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 3600.0  # an idle hour refills the burst, not 36000 tokens
    assert sum(bucket.take() for _ in range(10)) == 3
    clock.now = 1.0
    assert not bucket.take()
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, 1)


def test_bucket_table_keys_are_independent() -> None:
    clock = FakeClock()
    table = BucketTable(1, 2, clock)
    assert [table.take("a") for _ in range(3)] == [True, True, False]
    assert [table.take("b") for _ in range(3)] == [True, True, False]
    clock.now = 1.0
    assert table.take("a")
    assert not table.take("a")


# --- fault decisions (no I/O) -------------------------------------------------------------


def decisions(plan: FaultPlan, items: list[tuple[str, str]], rounds: int) -> list[Fault | None]:
    return [plan.decide(p, i) for _ in range(rounds) for p, i in items]


ITEMS = [(f"{n:032x}", f"image-{n}") for n in range(300)]


def test_plan_is_reproducible_and_independent_of_interleaving() -> None:
    config = FaultConfig(seed=9, error_rate=0.3, throttle_rate=0.1, bad_json_rate=0.1)
    forward = FaultPlan(config)
    got = {item: [forward.decide(*item) for _ in range(4)] for item in ITEMS}
    interleaved = FaultPlan(config)
    per_item: dict[tuple[str, str], list[Fault | None]] = {item: [] for item in ITEMS}
    for _ in range(4):
        for item in reversed(ITEMS):  # other order, rounds interleaved across items
            per_item[item].append(interleaved.decide(*item))
    assert per_item == got
    other_seed = FaultPlan(FaultConfig(seed=10, error_rate=0.3, throttle_rate=0.1))
    assert decisions(other_seed, ITEMS, 1) != [got[item][0] for item in ITEMS]


def test_plan_rates_and_error_mix() -> None:
    plan = FaultPlan(FaultConfig(seed=1, error_rate=0.2, reset_rate=0.1, timeout_rate=0.05))
    faults = decisions(plan, ITEMS, 10)
    kinds = [f.kind if f else "ok" for f in faults]
    assert 0.17 < kinds.count("error") / len(kinds) < 0.23
    assert 0.08 < kinds.count("reset") / len(kinds) < 0.12
    assert 0.03 < kinds.count("timeout") / len(kinds) < 0.07
    assert {f.status for f in faults if f and f.kind == "error"} == {500, 502, 503, 504}
    assert {f.variant for f in faults if f and f.kind == "reset"} == {0, 1}


def test_plan_caps_faults_per_item() -> None:
    plan = FaultPlan(FaultConfig(error_rate=1.0, max_faults_per_item=2))
    for item in ITEMS[:20]:
        assert [plan.decide(*item) is None for _ in range(4)] == [False, False, True, True]


def test_plan_bucket_does_not_consume_attempts() -> None:
    config = FaultConfig(seed=4, error_rate=0.5, rate_limit=1, rate_burst=1)
    unthrottled = FaultPlan(replace(config, rate_limit=None, rate_burst=None))
    expected = [unthrottled.decide("p", "i") for _ in range(8)]
    assert None in expected  # a mix, or the test proves nothing
    assert any(expected)
    clock = FakeClock()
    plan = FaultPlan(config, clock)
    got = []
    for second in range(8):
        clock.now = float(second)
        got.append(plan.decide("p", "i"))
        assert plan.decide("p", "i") == Fault("rate_limit")  # bucket empty: no attempt used
    assert got == expected


# --- each fault over HTTP -----------------------------------------------------------------


async def test_errors_bodies_and_mix() -> None:
    with running(error_rate=1.0) as sim:
        results = [await get(url_of(sim, i)) for i in range(40)]
        stats = sim.stats()
    by_status = {status: (headers, json.loads(body)) for status, headers, body in results}
    assert set(by_status) == {500, 502, 503, 504}
    for status in (500, 502):
        headers, body = by_status[status]
        assert list(body) == ["computeFault"]
        assert body["computeFault"]["code"] == status
        assert NOVA_ID.match(headers["X-Compute-Request-Id"])
    assert by_status[503][1] == {
        "serviceUnavailable": {
            "code": 503,
            "message": by_status[503][1]["serviceUnavailable"]["message"],
        }
    }
    headers, body = by_status[504]
    assert (body["error_code"], body["error_msg"]) == ("APIGW.0201", "Backend timeout.")
    assert HEX32.match(body["request_id"])
    assert headers["X-Request-Id"] == body["request_id"]
    assert stats["fault:error"] == 40
    assert stats["total"] == sum(stats[str(s)] for s in by_status) == 40


@pytest.mark.parametrize(("retry_after_s", "header"), [(None, None), (2.5, "3")])
async def test_huawei_throttle(retry_after_s: float | None, header: str | None) -> None:
    with running(throttle_rate=1.0, retry_after_s=retry_after_s) as sim:
        status, headers, body = await get(url_of(sim, 0))
        assert sim.stats()["fault:throttle"] == 1
    assert status == 429
    data = json.loads(body)
    assert list(data) == ["error_msg", "error_code", "request_id"]
    assert data["error_code"] == "APIG.0308"
    assert data["error_msg"] == (
        "The throttling threshold has been reached: "
        "policy user over ratelimit,limit:200,time:1 second"
    )
    assert HEX32.match(data["request_id"])
    assert headers.get("Retry-After") == header


@pytest.mark.parametrize("style", ["nova429", "nova413"])
async def test_nova_throttle_delta_seconds(style: str) -> None:
    with running(throttle_rate=1.0, throttle_style=style) as sim:
        status, headers, body = await get(url_of(sim, 0))
    code = int(style[-3:])
    assert status == code
    assert json.loads(body) == {
        "overLimit": {"code": code, "message": "This request was rate-limited.", "retryAfter": "1"}
    }
    assert headers["Retry-After"] == "1"
    assert NOVA_ID.match(headers["X-Compute-Request-Id"])


async def test_nova_throttle_http_date() -> None:
    with running(
        throttle_rate=1.0, throttle_style="nova429", retry_after_s=30, retry_after_http_date=True
    ) as sim:
        before = time.time()
        _, headers, body = await get(url_of(sim, 0))
    when = parsedate_to_datetime(headers["Retry-After"]).timestamp()
    assert before + 29 <= when <= time.time() + 32
    assert json.loads(body)["overLimit"]["retryAfter"] == headers["Retry-After"]


async def test_reset_is_a_connection_error() -> None:
    with running(reset_rate=1.0) as sim:
        for i in range(8):  # both flavours: short body + FIN, headers + RST
            with pytest.raises(aiohttp.ClientError) as info:
                await get(url_of(sim, i))
            assert not isinstance(info.value, aiohttp.ClientResponseError)
        stats = sim.stats()
    assert stats == {"total": 8, "reset": 8, "fault:reset": 8, "api:nova": 8}


async def test_hang_times_the_client_out() -> None:
    with running(timeout_rate=1.0, hang_s=20) as sim:
        started = time.perf_counter()
        with pytest.raises(asyncio.TimeoutError):  # aiohttp's SocketTimeoutError is one
            await get(url_of(sim, 0), read_s=0.2)
        assert time.perf_counter() - started < 2
        for _ in range(40):  # the server notices the client left within ~50 ms
            if sim.stats().get("timeout"):
                break
            await asyncio.sleep(0.05)
        assert sim.stats() == {"total": 1, "timeout": 1, "fault:timeout": 1, "api:nova": 1}


async def test_short_hang_then_normal_answer() -> None:
    with running(timeout_rate=1.0, hang_s=0.3) as sim:
        started = time.perf_counter()
        status, _, body = await get(url_of(sim, 0))
        assert time.perf_counter() - started >= 0.29
    assert status in (200, 404)
    json.loads(body)


async def test_bad_json() -> None:
    with running(bad_json_rate=1.0) as sim:
        results = [await get(url_of(sim, i)) for i in range(10)]
    for status, headers, body in results:
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
    assert len({body.endswith(b",}") for _, _, body in results}) == 2  # both flavours


async def test_max_faults_per_item_over_http() -> None:
    with running(error_rate=1.0, max_faults_per_item=2) as sim:
        inv = sim.inventory
        active = [i for i in range(len(inv)) if inv.glance_record(i)["status"] == "active"][:3]
        statuses = [[(await get(url_of(sim, i)))[0] for _ in range(4)] for i in active]
        stats = sim.stats()
    for first, second, *rest in statuses:
        assert first >= 500
        assert second >= 500
        assert rest == [200, 200]
    assert stats["fault:error"] == 6


# --- token bucket over HTTP ---------------------------------------------------------------


async def test_rate_limit_per_project_on_fake_clock() -> None:
    clock = FakeClock()
    with running(clock=clock, rate_limit=10, rate_burst=3) as sim:
        inv = sim.inventory
        mine = [i for i in range(len(inv)) if inv.owner(i) == inv.projects[0]][:5]
        other = next(i for i in range(len(inv)) if inv.owner(i) != inv.projects[0])
        statuses = [(await get(url_of(sim, i)))[0] for i in mine]
        assert [s == 429 for s in statuses] == [False, False, False, True, True]
        assert (await get(url_of(sim, other)))[0] != 429  # another project, another bucket
        clock.now = 0.1  # one token back
        assert [(await get(url_of(sim, i)))[0] == 429 for i in mine[:2]] == [False, True]
        status, _, body = await get(url_of(sim, mine[0]))
        stats = sim.stats()
    assert status == 429
    assert json.loads(body)["error_msg"].endswith("limit:10,time:1 second")
    assert stats["fault:rate_limit"] == 4
    assert stats["429"] == 4


@pytest.mark.parametrize(("rate_key", "throttled"), [("global", True), ("token", False)])
async def test_rate_limit_keys(rate_key: str, throttled: bool) -> None:
    clock = FakeClock()
    with running(clock=clock, rate_limit=1, rate_burst=1, rate_key=rate_key) as sim:
        inv = sim.inventory
        first = next(i for i in range(len(inv)) if inv.owner(i) == inv.projects[0])
        second = next(i for i in range(len(inv)) if inv.owner(i) == inv.projects[1])
        assert (await get(url_of(sim, first), {"X-Auth-Token": "a"}))[0] != 429
        got = (await get(url_of(sim, second), {"X-Auth-Token": "b"}))[0]
        assert (got == 429) is throttled
        assert (await get(url_of(sim, second), {"X-Auth-Token": "a"}))[0] == 429


# --- determinism, caps and the profiles end to end ----------------------------------------

MIXED: dict[str, Any] = {
    "seed": 21,
    "error_rate": 0.3,
    "throttle_rate": 0.1,
    "reset_rate": 0.1,
    "bad_json_rate": 0.1,
}


async def per_item_outcomes(
    sim: RunningSimulator, items: list[int], reverse: bool
) -> dict[int, list[str]]:
    """Three rounds over ``items``; within a round all items are requested concurrently."""
    got: dict[int, list[str]] = {i: [] for i in items}
    order = items[::-1] if reverse else items
    for _ in range(3):
        results = await asyncio.gather(*(outcome(url_of(sim, i)) for i in order))
        for i, result in zip(order, results, strict=True):
            got[i].append(result)
    return got


async def test_same_seed_same_faults_whatever_the_interleaving() -> None:
    items = list(range(30))
    with running(**MIXED) as first:
        a = await per_item_outcomes(first, items, reverse=False)
    with running(**MIXED) as second:
        b = await per_item_outcomes(second, items, reverse=True)
    assert a == b
    kinds = {result for results in a.values() for result in results}
    assert {"429", "bad_json"} <= kinds
    assert kinds & {"500", "502", "503", "504"}
    assert kinds & {"ClientPayloadError", "ServerDisconnectedError", "ClientOSError"}
    with running(**{**MIXED, "seed": 22}) as third:
        assert await per_item_outcomes(third, items, reverse=False) != a


async def test_chaos_profile_serves_every_image_within_four_attempts() -> None:
    config = SimulatorConfig(inventory=SPEC, faults=replace(PROFILES["chaos"], hang_s=0.5))
    with RunningSimulator(config) as sim:
        items = range(120)

        async def fetch_with_retries(i: int) -> str:
            for _ in range(4):  # max_faults_per_item=3: the 4th attempt is always clean
                result = await outcome(url_of(sim, i))
                if result in ("200", "404"):
                    return result
            return result

        results = await asyncio.gather(*(fetch_with_retries(i) for i in items))
        stats = sim.stats()
    assert set(results) <= {"200", "404"}
    assert stats["fault:error"] > 5
    assert stats["total"] > len(items)


async def test_faults_come_after_auth() -> None:
    config = SimulatorConfig(inventory=SPEC, token="t", faults=FaultConfig(error_rate=1.0))
    with RunningSimulator(config) as sim:
        assert (await get(url_of(sim, 0)))[0] == 401
        assert (await get(url_of(sim, 0), {"X-Auth-Token": "t"}))[0] >= 500
        assert sim.stats()["fault:error"] == 1


async def test_proxy_removed() -> None:
    config = SimulatorConfig(inventory=SPEC, proxy_removed=True)
    with RunningSimulator(config) as sim:
        status, headers, body = await get(url_of(sim, 0))
    assert status == 404
    assert json.loads(body) == {
        "itemNotFound": {"code": 404, "message": "The resource could not be found."}
    }
    assert headers["X-OpenStack-Nova-API-Version"] == "2.1"


async def test_stats_route_reports_faults() -> None:
    with running(error_rate=0.5, reset_rate=0.5, seed=3) as sim:
        for i in range(20):
            await outcome(url_of(sim, i))
        status, _, body = await get(f"{sim.base_url}/_sim/stats")
    stats = json.loads(body)
    assert status == 200
    assert stats["total"] == 20
    assert stats["fault:error"] + stats["fault:reset"] == 20
    assert stats["reset"] == stats["fault:reset"]
    assert sum(v for k, v in stats.items() if k.isdigit()) == stats["fault:error"]
