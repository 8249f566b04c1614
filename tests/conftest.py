"""Shared fixtures: a simulator on loopback and ID lists made from its inventory.

Servers run in ``RunningSimulator`` (own thread and event loop) from sync fixtures, so no
anyio task group or cancel scope spans pytest-asyncio's fixture tasks (see STYLE.md, 12):
every crawl's task group lives inside the test that runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig, write_id_list

SPEC = InventorySpec(images=1900, projects=24, seed=11)
TOKEN = "tok-9f8e7d6c5b4a-secret"


@pytest.fixture(scope="module")
def simulator() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as running:
        yield running


@pytest.fixture(scope="module")
def token_simulator() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC, token=TOKEN)) as running:
        yield running


def id_list(simulator: RunningSimulator, path: Path, *, unknown: int = 0) -> Path:
    """Write the simulator's inventory (plus ``unknown`` unknown IDs) as CSV."""
    write_id_list(simulator.inventory, path, unknown=unknown)
    return path
