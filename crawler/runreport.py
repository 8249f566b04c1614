"""What a run reports: its status, the manifest's counts section, and the check they add up.

``CrawlReport`` is what ``Crawl.run()`` returns; ``count_outcomes`` and ``check_reconciled``
derive the manifest's counts from the input statistics and the pool's counters, and
``report_from_manifest`` rebuilds a report from a manifest already on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from crawler.errors import SnapshotError
from crawler.inputs import InputStats
from crawler.pool import PoolCounters

__all__ = [
    "CrawlReport",
    "RunStatus",
    "check_reconciled",
    "count_outcomes",
    "report_from_manifest",
]

RunStatus = Literal["complete", "interrupted"]


@dataclass(frozen=True, slots=True)
class CrawlReport:
    """What a finished (or stopped) run did; ``manifest`` is what was written to disk."""

    status: RunStatus
    run_id: str
    directory: Path
    manifest: dict[str, object]
    stats: InputStats
    counters: PoolCounters
    requests: int
    duration_s: float

    @property
    def failure_ratio(self) -> float:
        """Share of the distinct inputs (valid or not) that ended neither as a row nor 404."""
        failures = self.counters.failed + self.counters.invalid
        return failures / max(1, self.stats.unique + self.stats.invalid)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def count_outcomes(stats: InputStats, counters: PoolCounters) -> dict[str, object]:
    """The manifest's counts section."""
    return {
        "input": stats.records,
        "invalid": stats.invalid,
        "unique": stats.unique,
        "duplicates": stats.duplicates,
        "other_shards": stats.other_shards,
        "resumed": stats.resumed,
        "ok": counters.ok,
        "not_found": counters.not_found,
        "failed": counters.failed,
        "by_kind": dict(sorted(counters.by_kind.items())),
    }


def check_reconciled(stats: InputStats, counters: PoolCounters) -> None:
    """Refuse to publish counts that do not add up: that would be a bug, never bad data."""
    if stats.unique != counters.ok + counters.not_found + counters.failed or (
        stats.records != stats.unique + stats.duplicates + stats.invalid + stats.other_shards
    ):
        raise SnapshotError(f"counts do not reconcile: {count_outcomes(stats, counters)}")


def report_from_manifest(
    manifest: dict[str, Any], run_id: str, directory: Path, source: str
) -> CrawlReport:
    """The report of a complete run, rebuilt from its manifest's counts (no request sent)."""
    counts = manifest["counts"]
    stats = InputStats(
        source=source,
        records=counts["input"],
        invalid=counts["invalid"],
        unique=counts["unique"],
        duplicates=counts["duplicates"],
        resumed=counts["unique"],
        other_shards=counts["other_shards"],
    )
    counters = PoolCounters(
        ok=counts["ok"],
        not_found=counts["not_found"],
        failed=counts["failed"],
        invalid=counts["invalid"],
        by_kind=dict(counts["by_kind"]),
    )
    return CrawlReport("complete", run_id, directory, manifest, stats, counters, 0, 0.0)
