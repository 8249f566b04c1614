"""The demo: a simulated cloud on loopback, a crawl of it, and a short summary."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import anyio
import click
import pyarrow.parquet as pq

from crawler.config import CrawlSettings
from crawler.crawl import Crawl, CrawlReport
from crawler.progress import wanted as progress_wanted
from crawler.report import write_report
from crawler.runner import run_with_signals, summary
from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig, write_id_list

# Lines appended to the demo's ID list so the summary shows the input checks at work.
_BAD_LINES = (
    "not-a-project,3f1c2a9e-0000-4000-8000-000000000000\n",
    "0123456789abcdef0123456789abcdef,not-a-uuid\n",
)


def write_demo_ids(simulator: RunningSimulator, path: Path, unknown: int) -> None:
    """The inventory's IDs, some unknown ones, a few repeats and two malformed lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_id_list(simulator.inventory, path, unknown=unknown)
    repeats = list(itertools.islice(simulator.inventory.iter_pairs(), 5))
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(f"{project},{image}\n" for project, image in repeats)
        handle.writelines(_BAD_LINES)


def top_os_releases(report: CrawlReport, limit: int = 10) -> list[tuple[str, int]]:
    """Most common normalised OS releases (``os_distro os_release``) in the images table."""
    table = pq.read_table(report.directory / "images.parquet", columns=["os_distro", "os_release"])
    counts = table.group_by(["os_distro", "os_release"]).aggregate([([], "count_all")])
    pairs: Iterable[tuple[str, str | None, int]] = zip(
        counts.column("os_distro").to_pylist(),
        counts.column("os_release").to_pylist(),
        counts.column("count_all").to_pylist(),
        strict=True,
    )
    ranked = sorted(
        ((f"{distro} {release or ''}".strip(), n) for distro, release, n in pairs),
        key=lambda p: (-p[1], p[0]),
    )
    return ranked[:limit]


def run_demo(
    spec: InventorySpec, output_dir: Path, *, unknown: int, concurrency: int, quiet: bool
) -> int:
    """Run the whole demo; returns the exit code."""
    with RunningSimulator(SimulatorConfig(inventory=spec)) as simulator:
        ids = output_dir / "demo-ids.csv"
        write_demo_ids(simulator, ids, unknown)
        click.echo(
            f"simulator on {simulator.base_url}: {spec.images} images in {spec.projects} projects;"
            f" crawling {ids}"
        )
        settings = CrawlSettings(
            endpoint=simulator.base_url,
            input_path=str(ids),
            output_dir=output_dir,
            concurrency=concurrency,
        )
        report, code = anyio.run(
            lambda: run_with_signals(Crawl(settings), progress=progress_wanted(quiet))
        )
    for line in summary(report):
        click.echo(line)
    if report.status == "complete":
        click.echo("top 10 OS releases:")
        for release, count in top_os_releases(report):
            click.echo(f"  {count:6d}  {release}")
        click.echo(f"read it: pandas.read_parquet('{report.directory / 'images.parquet'}')")
        click.echo(f"report:  {write_report(report.directory)}")
    return code
