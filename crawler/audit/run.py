"""A snapshot's audit: read its images, evaluate the policy, write the findings and
``audit.json`` beside them. The only I/O of the audit besides reading the policy file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from crawler.audit.evaluate import columns_for, evaluate, resolve_eol
from crawler.audit.policy import SEVERITIES, Policy
from crawler.errors import ConfigError, SnapshotError
from crawler.lifecycle_data import LIFECYCLE_COMPILED, packaged_lifecycle, read_lifecycle_csv
from crawler.normalize.schema import IMAGES_SCHEMA
from crawler.snapshot import MANIFEST, write_json_atomically, write_side_table

FINDINGS: Final = "findings"
AUDIT_JSON: Final = "audit.json"


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The findings of one audit, their counts, and the files written."""

    findings: pa.Table
    as_of: date
    images: int
    by_rule: dict[str, int]  # every rule, in policy order
    by_project: dict[str, dict[str, int]]  # project -> severity -> count (all four)
    files: list[Path] = field(default_factory=list)  # findings.parquet, .csv, audit.json

    @property
    def by_severity(self) -> dict[str, int]:
        return {s: sum(c[s] for c in self.by_project.values()) for s in SEVERITIES}

    def at_or_above(self, threshold: str) -> int:
        """How many findings have ``threshold``'s severity or a higher one."""
        wanted = SEVERITIES[SEVERITIES.index(threshold) :]
        return sum(count for severity, count in self.by_severity.items() if severity in wanted)


def _counts(findings: pa.Table, policy: Policy) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    by_rule = dict.fromkeys((rule.id for rule in policy.rules), 0)
    for row in findings.group_by("rule").aggregate([("rule", "count")]).to_pylist():
        by_rule[row["rule"]] = row["rule_count"]
    by_project: dict[str, dict[str, int]] = {}
    grouped = findings.group_by(["project_id", "severity"]).aggregate([("rule", "count")])
    for row in sorted(grouped.to_pylist(), key=lambda r: r["project_id"]):
        counts = by_project.setdefault(row["project_id"], dict.fromkeys(SEVERITIES, 0))
        counts[row["severity"]] = row["rule_count"]
    return by_rule, by_project


def _snapshot_date(directory: Path) -> tuple[date, dict[str, Any]]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
        return date.fromisoformat(manifest["snapshot_date"]), manifest
    except (OSError, ValueError, KeyError, TypeError) as exc:  # TypeError: not an object
        raise SnapshotError(f"{path}: no readable snapshot_date ({exc!r})") from exc


def _read_images(directory: Path, columns: list[str]) -> pa.Table:
    schema = pa.schema([IMAGES_SCHEMA.field(name) for name in columns])
    parquet = directory / "images.parquet"
    try:
        if parquet.is_file():
            names = pq.read_schema(parquet).names
            if missing := [name for name in columns if name not in names]:
                raise SnapshotError(
                    f"{parquet} has no column {missing[0]!r}: written before schema version 2?"
                )
            return pq.read_table(parquet, columns=columns).select(columns).cast(schema)
        if (directory / "images.csv").is_file():
            from crawler.read import read_arrow  # pulls in pandas: only for CSV snapshots

            return read_arrow(directory, "images", "csv").select(columns)
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise SnapshotError(f"{directory}: images unreadable ({exc})") from exc
    raise SnapshotError(f"{directory} has no images.parquet or images.csv")


def _file_ref(path: Path | None, sha256: str | None) -> dict[str, str | None] | None:
    return None if path is None else {"path": str(path), "sha256": sha256}


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def audit_snapshot(
    directory: Path, policy: Policy, *, lifecycle_override: Path | None = None
) -> AuditResult:
    """Audit one committed snapshot and write ``findings.parquet``, ``findings.csv`` and
    ``audit.json`` into its directory (each atomically: temporary name, then rename).

    The snapshot date (the manifest's ``snapshot_date``) is the audit's "today".

    Raises:
        ConfigError: the override file is unreadable or invalid.
        SnapshotError: the snapshot cannot be read, or the results cannot be written.
    """
    override, override_ref = None, None
    if lifecycle_override is not None:
        override = read_lifecycle_csv(lifecycle_override)
        override_ref = _file_ref(lifecycle_override, _sha256(lifecycle_override))
    as_of, manifest = _snapshot_date(directory)
    images = _read_images(directory, columns_for(policy))
    if "os_eol_date" in images.column_names:
        eol = resolve_eol(images, packaged_lifecycle(), override)
        images = images.set_column(images.column_names.index("os_eol_date"), "os_eol_date", eol)
    findings = evaluate(images, policy, as_of)
    by_rule, by_project = _counts(findings, policy)
    try:
        files = write_side_table(directory, FINDINGS, findings)
    except OSError as exc:
        raise SnapshotError(f"cannot write the findings to {directory}: {exc}") from exc
    written = [*files, directory / AUDIT_JSON]
    result = AuditResult(findings, as_of, images.num_rows, by_rule, by_project, written)
    document = {
        "snapshot": {"path": str(directory), "run_id": manifest.get("run_id")},
        "as_of": as_of.isoformat(),
        "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy": _file_ref(policy.path, policy.sha256),
        "lifecycle": {
            "compiled": LIFECYCLE_COMPILED.isoformat(),
            "override": override_ref,
        },
        "counts": {
            "images": result.images,
            "findings": findings.num_rows,
            "by_rule": by_rule,
            "by_severity": result.by_severity,
            "by_project": by_project,
        },
        "files": [path.name for path in files],
    }
    try:
        write_json_atomically(directory / AUDIT_JSON, document)
    except OSError as exc:
        raise SnapshotError(f"cannot write the audit to {directory}: {exc}") from exc
    return result
