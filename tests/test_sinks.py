"""Writers on edge values: what goes into Parquet and CSV comes back the same."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from crawler.normalize.schema import IMAGES_SCHEMA
from crawler.read import read_frame
from crawler.sinks import neutralize_formulas
from crawler.snapshot import SnapshotWriter, run_dirs

EDGE_TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    None,
]


def row(n: int, when: datetime | None, name: str | None) -> dict[str, object]:
    values: dict[str, object] = dict.fromkeys(IMAGES_SCHEMA.names)
    values |= {
        "project_id": "0123456789abcdef0123456789abcdef",
        "image_id": f"00000000-0000-4000-8000-{n:012d}",
        "name": name,
        "progress": n,
        "size_bytes": 2**62 + n,
        "created_at": when,
        "updated_at": when,
        "metadata_json": '{"a":"=1+1"}',
        "os_family": "unknown",
        "os_distro": "unknown",
        "source_api": "nova-proxy",
        "fetched_at": EDGE_TIMES[3],
    }
    return values


NAMES = ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tx", 'plain, with "quotes"', "", None]


def write(tmp_path: Path, rows: list[dict[str, object]], batches: int) -> Path:
    work_dir, final_dir = run_dirs(tmp_path, "run", date(2026, 11, 27))
    writer = SnapshotWriter(work_dir, final_dir, ("parquet", "csv"))
    size = max(1, len(rows) // batches)
    for start in range(0, len(rows), size):
        writer.write(rows[start : start + size], [], [])
    writer.close()
    writer.release()
    return writer.work_dir


@pytest.mark.parametrize("batches", [1, 3])
def test_edge_values_round_trip_through_both_formats(tmp_path: Path, batches: int) -> None:
    rows = [row(n, EDGE_TIMES[n % 6], NAMES[n % 8]) for n in range(48)]
    directory = write(tmp_path, rows, batches)
    parquet = read_frame(directory, "images", "parquet")
    csv = read_frame(directory, "images", "csv")
    expected = [pd.NaT if r["created_at"] is None else pd.Timestamp(r["created_at"]) for r in rows]
    assert list(parquet.created_at) == expected
    pd.testing.assert_series_equal(csv.created_at, parquet.created_at)
    pd.testing.assert_series_equal(csv.size_bytes, parquet.size_bytes)
    assert list(parquet.name) == [pd.NA if r["name"] is None else r["name"] for r in rows]
    risky = parquet.name.str.match(r"^[=+\-@\t\r]").fillna(False)
    assert risky.sum() == 30  # 5 of every 8 names look like formulas
    assert (csv.name[risky] == "'" + parquet.name[risky]).all()
    assert (csv.name[~risky].fillna("<null>") == parquet.name[~risky].fillna("<null>")).all()


def test_empty_batches_leave_valid_empty_files(tmp_path: Path) -> None:
    directory = write(tmp_path, [], 1)
    assert len(read_frame(directory, "images", "parquet")) == 0
    assert len(read_frame(directory, "errors", "csv")) == 0


def test_neutralize_touches_only_risky_text() -> None:
    import pyarrow as pa

    table = pa.table({"a": ["=x", "x=", None, "-", "@"], "n": pa.array([-1, 2, 3, 4, 5])})
    out = neutralize_formulas(table)
    assert out.column("a").to_pylist() == ["'=x", "x=", None, "'-", "'@"]
    assert out.column("n").to_pylist() == [-1, 2, 3, 4, 5]
