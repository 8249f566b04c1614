"""Spare workers stand in for items waiting out a backoff; requests in flight stay bounded."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from crawler.backlog import Backlog
from crawler.config import CrawlSettings
from crawler.crawl import SPARES_PER_SLOT, Crawl
from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig, write_id_list
from crawler.simulator.faults import FaultConfig


async def test_spare_k_passes_once_k_items_wait_and_every_spare_once_open() -> None:
    backlog, passed = Backlog(), []

    async def spare(rank: int) -> None:
        await backlog.at_least(rank)
        passed.append(rank)

    async with anyio.create_task_group() as group:
        for rank in (1, 2, 3):
            group.start_soon(spare, rank)
        await anyio.sleep(0.01)
        assert passed == []
        backlog.enter()
        backlog.enter()
        await anyio.sleep(0.01)
        assert sorted(passed) == [1, 2]
        backlog.leave()
        backlog.open()
    assert sorted(passed) == [1, 2, 3]
    assert backlog.max_waiting == 2
    assert backlog.waiting == 1


@pytest.mark.parametrize("concurrency", [1, 3])
def test_waiting_items_do_not_hold_request_slots(tmp_path: Path, concurrency: int) -> None:
    # Every image fails once (500) and then answers: each waits out one backoff.
    faults = FaultConfig(error_rate=1.0, max_faults_per_item=1, seed=4)
    config = SimulatorConfig(inventory=InventorySpec(images=60, projects=3, seed=2), faults=faults)
    with RunningSimulator(config) as sim:
        ids = tmp_path / "ids.csv"
        write_id_list(sim.inventory, ids)
        settings = CrawlSettings(
            endpoint=sim.base_url,
            input_path=str(ids),
            output_dir=tmp_path / "out",
            concurrency=concurrency,
            backoff_base_s=0.4,
            backoff_max_s=0.4,
        )
        report = anyio.run(Crawl(settings).run)
        assert sim.max_in_flight() <= concurrency  # the slots bound what is sent at once
        served = sim.stats()
    counts, requests = report.manifest["counts"], report.manifest["requests"]
    assert counts["failed"] == 0  # type: ignore[index]
    assert served["total"] == 2 * counts["unique"]  # type: ignore[index]
    # More items waited at once than there are slots: spare workers kept sending meanwhile.
    waited = requests["max_waiting"]  # type: ignore[index]
    assert concurrency < waited <= concurrency * (1 + SPARES_PER_SLOT)
