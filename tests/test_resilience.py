"""Retries, throttling, authentication and broken endpoints, against the simulator."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crawler.auth import auth_from_env
from crawler.auth.base import AuthProvider
from crawler.config import CrawlSettings
from crawler.crawl import Crawl, CrawlReport
from crawler.errors import ConfigError
from crawler.simulator import (
    FaultConfig,
    InventorySpec,
    RunningSimulator,
    SimulatorConfig,
    parse_faults,
)
from tests.conftest import id_list


async def crawl(
    sim: RunningSimulator, ids: Path, out: Path, auth: AuthProvider | None = None, **kw: object
) -> CrawlReport:
    settings = CrawlSettings(
        endpoint=sim.base_url,
        input_path=str(ids),
        output_dir=out,
        backoff_base_s=0.01,
        backoff_max_s=0.2,
        **kw,  # type: ignore[arg-type]
    )
    return await Crawl(settings, auth).run()


def pairs_of(report: CrawlReport, table: str) -> set[tuple[str, str]]:
    data = pq.read_table(report.directory / f"{table}.parquet", columns=["project_id", "image_id"])
    return set(zip(*(c.to_pylist() for c in data.columns), strict=True))


@pytest.mark.slow
async def test_chaos_run_loses_nothing_and_reconciles_with_the_server(tmp_path: Path) -> None:
    spec = InventorySpec(images=2500, projects=12, seed=5)
    chaos = SimulatorConfig(inventory=spec, faults=parse_faults("chaos,hang_s=1.5,seed=9"))
    with RunningSimulator(SimulatorConfig(inventory=spec)) as clean:
        ids = id_list(clean, tmp_path / "ids.csv", unknown=50)
        expected = await crawl(clean, ids, tmp_path / "clean", concurrency=32)
    with RunningSimulator(chaos) as sim:
        report = await crawl(sim, ids, tmp_path / "out", concurrency=48, read_timeout=0.5)
        served = sim.stats()
    counts = report.counters
    assert report.stats.unique == 2550
    assert (counts.ok, counts.not_found, counts.failed) == (
        expected.counters.ok,
        expected.counters.not_found,
        0,
    )
    # Every image the simulator can serve is in images, despite the faults.
    assert pairs_of(report, "images") == pairs_of(expected, "images")
    assert pairs_of(report, "errors") == pairs_of(expected, "errors")
    # The server saw exactly the requests the manifest counts, and each 404 it sent.
    requests = report.manifest["requests"]
    assert isinstance(requests, dict)
    assert requests["total"] == requests["attempts"] == served["total"]
    assert counts.not_found == served["404"]
    faults = {k: v for k, v in served.items() if k.startswith("fault:")}
    assert faults["fault:error"] > 300
    assert faults["fault:throttle"] > 50
    assert faults["fault:reset"] > 5
    assert faults["fault:timeout"] > 5
    assert faults["fault:bad_json"] > 2
    retries = requests["retries"]
    assert set(retries) == {
        "server_error",
        "throttled",
        "connection",
        "timeout",
        "invalid_response",
    }
    assert requests["attempts"] == counts.ok + counts.not_found + sum(retries.values())


@pytest.mark.parametrize(
    ("style", "status"), [("nova429", "429"), ("nova413", "413"), ("huawei", "429")]
)
async def test_throttling_is_waited_out_with_retry_after(
    tmp_path: Path, style: str, status: str
) -> None:
    faults = FaultConfig(rate_limit=50, rate_burst=5, throttle_style=style, retry_after_s=1)
    config = SimulatorConfig(inventory=InventorySpec(images=40, projects=1, seed=2), faults=faults)
    with RunningSimulator(config) as sim:
        ids = id_list(sim, tmp_path / "ids.csv")
        started = time.monotonic()
        report = await crawl(sim, ids, tmp_path / "out", concurrency=16)
        elapsed = time.monotonic() - started
        served = sim.stats()
    assert report.counters.ok + report.counters.not_found == 40
    assert report.counters.failed == 0
    assert served["fault:rate_limit"] > 0
    limiter, requests = report.manifest["rate_limit"], report.manifest["requests"]
    assert isinstance(limiter, dict)
    assert isinstance(requests, dict)
    assert limiter["throttle_signals"] == served["fault:rate_limit"] == served[status]
    assert limiter["rate_cuts"] >= 1
    # Each throttled item waited the server's Retry-After (1 s) before its next attempt.
    throttled = requests["retries"]["throttled"]
    assert requests["retry_after_waits"] == throttled
    assert requests["backoff_s"] == pytest.approx(1.0 * throttled, rel=0.01)
    assert elapsed >= 1.0


async def test_configured_rate_stays_under_the_servers_limit(tmp_path: Path) -> None:
    faults = FaultConfig(rate_limit=100, rate_key="global")
    config = SimulatorConfig(inventory=InventorySpec(images=300, projects=3, seed=4), faults=faults)
    with RunningSimulator(config) as sim:
        ids = id_list(sim, tmp_path / "ids.csv")
        started = time.monotonic()
        report = await crawl(sim, ids, tmp_path / "out", concurrency=32, rate=100.0)
        elapsed = time.monotonic() - started
        served = sim.stats()
    assert "fault:rate_limit" not in served
    assert report.counters.failed == 0
    assert 300 / elapsed == pytest.approx(100, rel=0.15)


async def test_a_retired_proxy_is_a_configuration_error_not_deletions(tmp_path: Path) -> None:
    config = SimulatorConfig(inventory=InventorySpec(images=200, projects=2), proxy_removed=True)
    with RunningSimulator(config) as sim:
        ids = id_list(sim, tmp_path / "ids.csv")
        with pytest.raises(ConfigError, match="images API is not available there") as info:
            await crawl(sim, ids, tmp_path / "out", concurrency=4)
        served = sim.stats()
    assert "The resource could not be found." in str(info.value)
    assert served["404"] < 40  # stopped early instead of "deleting" 200 images
    assert list((tmp_path / "out").glob("*/run_id=*")) == []


def keystone_env(sim: RunningSimulator) -> dict[str, str]:
    return {
        "OS_AUTH_URL": sim.base_url + "/v3",
        "OS_USERNAME": "alice",
        "OS_PASSWORD": "correct horse battery staple",
        "OS_USER_DOMAIN_NAME": "Default",
    }


async def test_keystone_uses_one_token_per_project(tmp_path: Path) -> None:
    spec = InventorySpec(images=400, projects=7, seed=8)
    config = SimulatorConfig(inventory=spec, users={"alice": "correct horse battery staple"})
    with RunningSimulator(config) as sim:
        ids = id_list(sim, tmp_path / "ids.csv")
        auth = auth_from_env(keystone_env(sim))
        report = await crawl(sim, ids, tmp_path / "out", auth=auth, concurrency=32)
        served = sim.stats()
    assert report.counters.failed == 0
    assert auth.stats.tokens_issued == 7 == served["tokens_issued"]
    assert "400" not in served
    assert "401" not in served


async def test_tokens_expiring_mid_run_lose_nothing(tmp_path: Path) -> None:
    spec = InventorySpec(images=900, projects=3, seed=6)
    config = SimulatorConfig(
        inventory=spec, users={"alice": "correct horse battery staple"}, latency_ms=5
    )
    with RunningSimulator(config) as sim:
        ids = id_list(sim, tmp_path / "ids.csv")
        auth = auth_from_env(keystone_env(sim))
        expired = []
        timer = threading.Timer(0.4, lambda: expired.append(sim.expire_tokens()))
        timer.start()
        report = await crawl(sim, ids, tmp_path / "out", auth=auth, concurrency=16)
        timer.join()
        served = sim.stats()
    assert expired == [3], "all three projects' tokens should have been live and expired"
    assert served["401"] >= 1
    assert report.counters.failed == 0
    assert report.counters.ok + report.counters.not_found == 900
    assert auth.stats.reauths == 3  # one per project's token, however many 401s it caused
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert b"correct horse battery staple" not in path.read_bytes()
    requests = report.manifest["requests"]
    assert isinstance(requests, dict)
    assert requests["retried_after_401"] == served["401"]


async def test_aksk_signed_requests_verify_in_the_simulator(tmp_path: Path) -> None:
    config = SimulatorConfig(
        inventory=InventorySpec(images=150, projects=3, seed=1), aksk={"AKID123": "sk-secret-xyz"}
    )
    with RunningSimulator(config) as sim:
        ids = id_list(sim, tmp_path / "ids.csv")
        env = {"HUAWEICLOUD_SDK_AK": "AKID123", "HUAWEICLOUD_SDK_SK": "sk-secret-xyz"}
        auth = auth_from_env(env)
        report = await crawl(sim, ids, tmp_path / "out", auth=auth, concurrency=8)
        bad = auth_from_env({**env, "HUAWEICLOUD_SDK_SK": "wrong"})
        rejected = await crawl(
            sim, ids, tmp_path / "bad", auth=bad, concurrency=8, max_failure_ratio=1.0
        )
    assert report.counters.failed == 0
    assert auth.stats.signed == report.requests
    assert rejected.counters.by_kind == {"unauthorized": 150}
    assert report.manifest["auth"] == {
        "method": "aksk",
        "algorithm": "SDK-HMAC-SHA256",
        **auth.stats.as_dict(),
    }
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert b"sk-secret-xyz" not in path.read_bytes()
