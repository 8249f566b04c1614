"""Reading a snapshot for the report: the manifest, and the few columns it needs from the
images, findings and changes tables (Parquet or else CSV), aggregated with Arrow group-bys
so a million images stay columnar, never Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crawler.errors import SnapshotError
from crawler.normalize.schema import ALL_SCHEMAS
from crawler.read import Table
from crawler.report.model import (
    ChangedField,
    ChangeSummary,
    FindingCount,
    ProjectEol,
    ReleaseCount,
    ReportData,
)
from crawler.snapshot import MANIFEST

TOP_RELEASES: Final = 20
TOP_PROJECTS: Final = 25
FIRST_CHANGES: Final = 50
CHANGE_KINDS: Final = ("added", "removed", "changed", "unknown")


def _batches(directory: Path, table: Table, columns: list[str]) -> Iterator[pa.RecordBatch] | None:
    """The given columns of a snapshot table, batch by batch, from Parquet or else CSV;
    None if the snapshot has neither file."""
    schema = ALL_SCHEMAS[table]
    parquet, csv = directory / f"{table}.parquet", directory / f"{table}.csv"
    if parquet.is_file():
        missing = sorted(set(columns) - set(pq.read_schema(parquet).names))
        if missing:
            raise SnapshotError(
                f"{parquet} has no column {', '.join(missing)}: written by an older version"
                " (re-crawl, or run the newer command that writes it)"
            )
        batches: Iterator[pa.RecordBatch] = pq.ParquetFile(parquet).iter_batches(columns=columns)
        return batches
    if csv.is_file():
        options = pacsv.ConvertOptions(
            column_types={name: schema.field(name).type for name in columns},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=columns,
        )
        reader: Iterator[pa.RecordBatch] = pacsv.open_csv(csv, convert_options=options)
        return reader
    return None


def _read(directory: Path, table: Table, columns: list[str]) -> pa.Table | None:
    batches = _batches(directory, table, columns)
    if batches is None:
        return None
    schema = pa.schema([ALL_SCHEMAS[table].field(name) for name in columns])
    return pa.Table.from_batches([batch.cast(schema) for batch in batches], schema)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read {path}: {exc}") from exc
    return document if isinstance(document, dict) else None


def _count(value: object) -> int | None:
    return value if type(value) is int else None


def _releases(images: pa.Table, top: int) -> tuple[list[ReleaseCount], tuple[int, int]]:
    """The ``top`` biggest (distro, release) groups, grouped by distro, and what is left."""
    groups = images.group_by(["os_distro", "os_release"]).aggregate([([], "count_all")])
    groups = groups.sort_by(
        [("count_all", "descending"), ("os_distro", "ascending"), ("os_release", "ascending")]
    )
    shown = [
        ReleaseCount(row["os_distro"], row["os_release"], row["count_all"])
        for row in groups.slice(0, top).to_pylist()
    ]
    rest = groups.slice(top)
    by_distro: dict[str, int] = {}
    for release in shown:
        by_distro[release.distro] = by_distro.get(release.distro, 0) + release.images
    shown.sort(key=lambda r: (-by_distro[r.distro], r.distro, -r.images, r.release or ""))
    return shown, (rest.num_rows, pc.sum(rest["count_all"]).as_py() or 0)


def _projects_eol(images: pa.Table, top: int) -> tuple[list[ProjectEol], ProjectEol | None, int]:
    """Per project, images on an EOL release, a supported one, or unknown; the ``top``
    projects by EOL count, the sum of the others, and the number of projects."""
    is_eol = images["os_is_eol"]
    flags = pa.table(
        {
            "project_id": images["project_id"],
            "eol": pc.cast(pc.fill_null(is_eol, False), pa.int64()),
            "supported": pc.cast(pc.fill_null(pc.invert(is_eol), False), pa.int64()),
            "unknown": pc.cast(pc.is_null(is_eol), pa.int64()),
        }
    )
    sums = flags.group_by("project_id").aggregate(
        [("eol", "sum"), ("supported", "sum"), ("unknown", "sum"), ([], "count_all")]
    )
    sums = sums.sort_by(
        [("eol_sum", "descending"), ("count_all", "descending"), ("project_id", "ascending")]
    )
    rows = [
        ProjectEol(r["project_id"], r["eol_sum"], r["supported_sum"], r["unknown_sum"])
        for r in sums.slice(0, top).to_pylist()
    ]
    rest = sums.slice(top)
    others = None
    if rest.num_rows:
        others = ProjectEol(
            f"{rest.num_rows} other projects",
            *(pc.sum(rest[f"{name}_sum"]).as_py() for name in ("eol", "supported", "unknown")),
        )
    return rows, others, sums.num_rows


def _findings(directory: Path) -> tuple[FindingCount, ...] | None:
    findings = _read(directory, "findings", ["rule", "severity"])
    if findings is None:
        return None
    groups = findings.group_by(["rule", "severity"]).aggregate([([], "count_all")])
    return tuple(
        FindingCount(row["rule"], row["severity"], row["count_all"]) for row in groups.to_pylist()
    )


def _first_changed(directory: Path, limit: int) -> tuple[ChangedField, ...]:
    """The first ``limit`` changed fields, reading only as many batches as that takes."""
    columns = ["change", "project_id", "image_id", "field", "old", "new"]
    found: list[ChangedField] = []
    for batch in _batches(directory, "changes", columns) or ():
        changed = batch.filter(pc.equal(batch.column("change"), "changed"))
        for row in changed.slice(0, limit - len(found)).to_pylist():
            row.pop("change")
            found.append(ChangedField(**row))
        if len(found) >= limit:
            break
    return tuple(found)


def _changes(directory: Path) -> ChangeSummary | None:
    changes = _read(directory, "changes", ["change", "project_id", "image_id"])
    if changes is None:
        return None
    kinds = dict.fromkeys(CHANGE_KINDS, 0)
    for item in pc.value_counts(changes["change"]).to_pylist():
        kinds[item["values"]] = item["counts"]
    changed = changes.filter(pc.equal(changes["change"], "changed"))
    fields = kinds["changed"]
    kinds["changed"] = changed.group_by(["project_id", "image_id"]).aggregate([]).num_rows
    side = _read_json(directory / "changes.json") or {}
    old, previous = side.get("old"), None
    if isinstance(old, dict) and old.get("run_id"):
        previous = f"{old.get('snapshot_date') or '?'}, run {old['run_id']}"
    return ChangeSummary(
        tuple(kinds.items()), fields, _first_changed(directory, FIRST_CHANGES), previous
    )


def collect_report_data(
    snapshot_dir: Path, *, top_releases: int = TOP_RELEASES, top_projects: int = TOP_PROJECTS
) -> ReportData:
    """Read and aggregate what the report shows from one snapshot directory.

    Raises:
        SnapshotError: the manifest or a table cannot be read, or the images table is
            missing or lacks the OS columns (a snapshot written before schema version 2).
    """
    try:
        manifest = _read_json(snapshot_dir / MANIFEST) or {}
        columns = ["project_id", "os_distro", "os_release", "os_is_eol"]
        images = _read(snapshot_dir, "images", columns)
        if images is None:
            raise SnapshotError(f"{snapshot_dir} has no images table (images.parquet or .csv)")
        releases, other_releases = _releases(images, top_releases)
        projects_eol, other_projects, projects = _projects_eol(images, top_projects)
        eol = pc.sum(pc.cast(pc.fill_null(images["os_is_eol"], False), pa.int64())).as_py()
        findings, changes = _findings(snapshot_dir), _changes(snapshot_dir)
    except (OSError, pa.ArrowException) as exc:
        raise SnapshotError(f"cannot read the snapshot {snapshot_dir}: {exc}") from exc
    counts = manifest.get("counts")
    counts = counts if isinstance(counts, dict) else {}
    return ReportData(
        snapshot_date=str(manifest.get("snapshot_date") or snapshot_dir.parent.name.split("=")[-1]),
        run_id=str(manifest.get("run_id") or snapshot_dir.name.removeprefix("run_id=")),
        images=images.num_rows,
        not_found=_count(counts.get("not_found")),
        failed=_count(counts.get("failed")),
        invalid=_count(counts.get("invalid")),
        projects=projects,
        eol=eol or 0,
        eol_unknown=images["os_is_eol"].null_count,
        releases=tuple(releases),
        other_releases=other_releases,
        projects_eol=tuple(projects_eol),
        other_projects=other_projects,
        findings=findings,
        changes=changes,
    )
