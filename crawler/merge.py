"""Merge the shard runs of one snapshot date into one snapshot, as if one run had crawled all.

Shard runs (``crawler crawl --shard K/N``) that read the same input (same SHA-256) with the
same endpoint and shard count belong together. The merge takes, for each shard index, the
newest complete run, streams their Parquet tables into a new run directory, sums the counts,
and commits it like any run: it then is the date's latest complete snapshot, and the shard runs
are left as they were (``crawler snapshots prune`` ages them out).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from crawler import __version__
from crawler.catalog import RunInfo, list_runs
from crawler.errors import ConfigError, SnapshotError
from crawler.normalize import SCHEMA_VERSION
from crawler.snapshot import MANIFEST, TABLES, SnapshotWriter, new_run_id, run_dirs

SUMMED = ("invalid", "unique", "duplicates", "resumed", "ok", "not_found", "failed")


@dataclass(frozen=True, slots=True)
class ShardRun:
    info: RunInfo
    manifest: dict[str, Any]

    @property
    def group(self) -> tuple[str, str, int]:
        """Runs of one sharded crawl share input bytes, endpoint and shard count."""
        manifest = self.manifest
        sha256, endpoint = manifest["input"]["sha256"], manifest["settings"]["endpoint"]
        return (sha256, endpoint, manifest["shard"]["count"])


def _shard_runs(output_dir: Path, day: date | None) -> list[ShardRun]:
    runs = [r for r in list_runs(output_dir) if r.status == "complete" and r.shard is not None]
    if day is None and runs:
        day = max(run.snapshot_date for run in runs)
    found = []
    for run in runs:
        if run.snapshot_date == day:
            manifest = json.loads((run.path / MANIFEST).read_text(encoding="utf-8"))
            found.append(ShardRun(run, manifest))
    return found


def pick_shards(output_dir: Path, day: date | None = None) -> list[ShardRun]:
    """The newest complete run of each shard of the newest sharded crawl of ``day``.

    Raises:
        ConfigError: no shard runs, or some shard has no complete run.
    """
    runs = _shard_runs(output_dir, day)
    if not runs:
        where = f" for {day.isoformat()}" if day else ""
        raise ConfigError(f"no complete shard runs under {output_dir}{where}")
    newest = max(runs, key=lambda run: run.info.run_id)
    group = [run for run in runs if run.group == newest.group]
    count = newest.group[2]
    chosen: dict[int, ShardRun] = {}
    for run in sorted(group, key=lambda run: run.info.run_id):
        chosen[run.manifest["shard"]["index"]] = run  # the newest run of each index wins
    missing = sorted(set(range(count)) - set(chosen))
    if missing:
        raise ConfigError(
            f"cannot merge {newest.info.snapshot_date}: shard(s) "
            f"{', '.join(f'{k}/{count}' for k in missing)} have no complete run"
        )
    return [chosen[index] for index in range(count)]


def merge_shards(output_dir: Path, day: date | None = None) -> Path:
    """Write and commit the merged snapshot; returns its directory."""
    shards = pick_shards(output_dir, day)
    for shard in shards:
        for table in TABLES:
            if not (shard.info.path / f"{table}.parquet").is_file():
                raise ConfigError(f"{shard.info.path} has no {table}.parquet to merge")
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    snapshot_date = shards[0].info.snapshot_date
    work_dir, final_dir = run_dirs(output_dir, run_id, snapshot_date)
    formats = tuple(shards[0].manifest["settings"]["formats"])
    writer = SnapshotWriter(work_dir, final_dir, formats, journaled=False)
    try:
        for shard in shards:
            for table in TABLES:
                source = pq.ParquetFile(shard.info.path / f"{table}.parquet")
                for batch in source.iter_batches(batch_size=16_384):
                    writer.write_table(table, pa.Table.from_batches([batch]))
        writer.close()
        manifest = _manifest(shards, run_id, snapshot_date, started)
        return writer.commit(manifest)
    finally:
        writer.close()
        writer.release()


def _manifest(
    shards: list[ShardRun], run_id: str, snapshot_date: date, started: datetime
) -> dict[str, object]:
    first = shards[0].manifest
    counts: dict[str, Any] = dict.fromkeys(SUMMED, 0)
    by_kind: Counter[str] = Counter()
    for shard in shards:
        for key in SUMMED:
            counts[key] += shard.manifest["counts"].get(key, 0)
        by_kind.update(shard.manifest["counts"]["by_kind"])
    counts = {"input": first["counts"]["input"], "other_shards": 0, **counts}
    counts["by_kind"] = dict(sorted(by_kind.items()))
    if counts["input"] != counts["unique"] + counts["duplicates"] + counts["invalid"]:
        raise SnapshotError(f"shard counts do not add up to the input: {counts}")
    return {
        "status": "complete",
        "run_id": run_id,
        "snapshot_date": snapshot_date.isoformat(),
        "started_at": min(shard.manifest["started_at"] for shard in shards),
        "finished_at": datetime.now(UTC).isoformat(),
        "merged_at": started.isoformat(),
        "tool": {"name": "imagecrawler", "version": __version__},
        "schema_version": SCHEMA_VERSION,
        "input": first["input"],
        "shard": None,
        "merged_from": [shard.info.run_id for shard in shards],
        "settings": {**first["settings"], "shard": None},
        "counts": counts,
        "requests": {"total": sum(shard.manifest["requests"]["total"] for shard in shards)},
    }
