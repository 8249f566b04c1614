"""``crawl --discover``: snapshots straight from list pages, over real HTTP to the simulator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawler.config import CrawlSettings
from crawler.crawl import Crawl, CrawlReport
from crawler.discover import ListFilters
from crawler.discover.snapshot import DiscoverySettings
from crawler.errors import ConfigError
from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig
from tests.test_cli import run_cli, snapshots
from tests.test_discover import EMPTY, api_requests, projects_file, visible

SPEC = InventorySpec(images=240, projects=5, seed=8)


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as running:
        yield running


def discover_crawl(
    sim: RunningSimulator, projects: Path, out: Path, api: str, page_size: int, **kw: object
) -> CrawlReport:
    settings = CrawlSettings(
        endpoint=sim.base_url,
        image_endpoint=sim.base_url,
        api=api,  # type: ignore[arg-type]
        input_path=str(projects),
        output_dir=out,
        concurrency=3,
        discovery=DiscoverySettings(ListFilters(owned_only=True), page_size),
        **kw,  # type: ignore[arg-type]
    )
    return anyio.run(Crawl(settings).run)


def table(report: CrawlReport, name: str = "images") -> pa.Table:
    return pq.read_table(report.directory / f"{name}.parquet").sort_by("image_id")


@pytest.mark.parametrize(("api", "size"), [("glance", 7), ("nova", 25), ("glance", 1000)])
def test_a_discovery_snapshot_holds_exactly_the_listed_images(
    sim: RunningSimulator, tmp_path: Path, api: str, size: int
) -> None:
    inventory = sim.inventory
    projects = [*inventory.projects[:3], EMPTY]
    before = api_requests(sim)
    report = discover_crawl(sim, projects_file(tmp_path, projects), tmp_path / "out", api, size)
    assert report.status == "complete"
    expected = visible(inventory, projects, owned_only=api == "glance")
    rows = table(report)
    assert sorted(rows["image_id"].to_pylist()) == sorted(set().union(*expected.values()))
    for project, image in zip(
        rows["project_id"].to_pylist(), rows["image_id"].to_pylist(), strict=True
    ):
        assert image in expected[project]
    # One request per page, none per image: a full page gets a next link.
    pages = sum(len(ids) // size + 1 for ids in expected.values())
    after = api_requests(sim)
    assert after[api] - before[api] == report.requests == pages
    listed = sum(len(ids) for ids in expected.values())
    counts, discovery = report.manifest["counts"], report.manifest["discovery"]
    assert discovery == {  # type: ignore[comparison-overlap]
        "projects": 4,
        "failed_projects": 0,
        "pages": pages,
        "images_listed": listed,
        "requests_saved": listed - pages,
    }
    assert counts["input"] == listed  # type: ignore[index]
    assert counts["duplicates"] == listed - rows.num_rows  # type: ignore[index]
    assert counts["ok"] == rows.num_rows  # type: ignore[index]
    assert math.ceil(listed / size) <= pages


def test_listed_rows_equal_fetched_rows(sim: RunningSimulator, tmp_path: Path) -> None:
    projects = list(sim.inventory.projects[:2])
    listed = discover_crawl(sim, projects_file(tmp_path, projects), tmp_path / "l", "glance", 50)
    ids = tmp_path / "ids.csv"
    images = table(listed)
    ids.write_text(
        "project_id,image_id\n"
        + "".join(
            f"{p},{i}\n"
            for p, i in zip(
                images["project_id"].to_pylist(), images["image_id"].to_pylist(), strict=True
            )
        )
    )
    settings = CrawlSettings(
        endpoint="", image_endpoint=sim.base_url, api="glance", input_path=str(ids),
        output_dir=tmp_path / "f",
    )  # fmt: skip
    fetched = table(anyio.run(Crawl(settings).run))
    assert fetched.num_rows == images.num_rows > 50
    for name in images.column_names:
        if name != "fetched_at":
            assert images[name].equals(fetched[name]), name


def test_discovery_refuses_resume_and_shard(sim: RunningSimulator, tmp_path: Path) -> None:
    projects = projects_file(tmp_path, list(sim.inventory.projects[:1]))
    with pytest.raises(ConfigError, match="--discover"):
        discover_crawl(sim, projects, tmp_path / "o", "glance", 10, resume="latest")


def test_crawl_discover_on_the_command_line(sim: RunningSimulator, tmp_path: Path) -> None:
    projects = projects_file(tmp_path, list(sim.inventory.projects[:2]))
    out = tmp_path / "out"
    code, _stdout, stderr = run_cli(
        "crawl", "--discover", "--projects", str(projects), "--image-endpoint", sim.base_url,
        "--api", "glance", "--page-size", "20", "--status", "active", "--output", str(out),
        "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    statuses = set(pq.read_table(snapshot / "images.parquet")["status"].to_pylist())
    assert statuses == {"ACTIVE"}
    code, _, stderr = run_cli(
        "crawl", "--discover", "--input", str(projects), "--image-endpoint", sim.base_url,
        "--output", str(out),
    )  # fmt: skip
    assert code == 2
    assert "--projects" in stderr
