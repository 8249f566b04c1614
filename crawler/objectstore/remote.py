"""Reading committed runs back from object storage: listing, the latest run, one table.

Only runs with a readable ``manifest.json`` exist here; an upload in progress has none yet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from crawler.errors import ConfigError, SnapshotError
from crawler.normalize.schema import ALL_SCHEMAS
from crawler.objectstore.location import S3Location
from crawler.snapshot import MANIFEST

_RUN_MANIFEST: Final = re.compile(
    rf"snapshot_date=(\d{{4}}-\d{{2}}-\d{{2}})/run_id=([^/]+)/{MANIFEST}"
)


def load_manifest(data: bytes, where: object) -> dict[str, Any]:
    """A manifest's JSON object; SnapshotError naming ``where`` if it is not one."""
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise SnapshotError(f"{where}: unreadable {MANIFEST} ({exc})") from exc
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{where}: {MANIFEST} is not a JSON object")
    return manifest


@dataclass(frozen=True, slots=True)
class RemoteRun:
    """A committed run in object storage (one with a readable ``manifest.json``)."""

    snapshot_date: date
    run_id: str
    location: S3Location
    shard: tuple[int, int] | None = None
    counts: dict[str, object] | None = field(default=None, hash=False)
    started_at: str | None = None


def list_runs(root: S3Location | str, filesystem: pafs.FileSystem) -> list[RemoteRun]:
    """Committed runs under ``root``, oldest first; runs without a readable manifest are absent."""
    root = S3Location.parse(root) if isinstance(root, str) else root
    selector = pafs.FileSelector(root.path, recursive=True, allow_not_found=True)
    try:
        keys = [info.path for info in filesystem.get_file_info(selector)]
    except OSError as exc:
        raise SnapshotError(f"cannot list {root}: {exc}") from exc
    runs = []
    for key in keys:
        match = _RUN_MANIFEST.fullmatch(key[len(root.path) :].lstrip("/"))
        if match and (run := _remote_run(filesystem, root, *match.groups())) is not None:
            runs.append(run)
    return sorted(runs, key=lambda run: (run.snapshot_date, run.run_id))


def _remote_run(
    filesystem: pafs.FileSystem, root: S3Location, day: str, run_id: str
) -> RemoteRun | None:
    location = root.child(f"snapshot_date={day}", f"run_id={run_id}")
    try:
        with filesystem.open_input_stream(location.child(MANIFEST).path) as stream:
            manifest = load_manifest(stream.read(), location)
        snapshot_date = date.fromisoformat(day)
    except (OSError, ValueError, SnapshotError):
        return None
    shard, counts, started = (manifest.get(k) for k in ("shard", "counts", "started_at"))
    return RemoteRun(
        snapshot_date,
        run_id,
        location,
        (shard["index"], shard["count"]) if isinstance(shard, dict) else None,
        counts if isinstance(counts, dict) else None,
        started if isinstance(started, str) else None,
    )


def latest_run(
    root: S3Location | str, filesystem: pafs.FileSystem, *, include_shards: bool = False
) -> RemoteRun | None:
    """The newest committed run; shard runs count only with ``include_shards``."""
    runs = [r for r in list_runs(root, filesystem) if include_shards or r.shard is None]
    return runs[-1] if runs else None


def read_table(
    run: RemoteRun | S3Location | str,
    table: str = "images",
    *,
    filesystem: pafs.FileSystem,
    fmt: str = "parquet",
) -> pa.Table:
    """One table of a committed remote run with its declared schema (see ``crawler.read``).

    Raises ConfigError if the run has no manifest (it is absent, or still uploading).
    """
    location = run.location if isinstance(run, RemoteRun) else run
    location = S3Location.parse(location) if isinstance(location, str) else location
    schema = ALL_SCHEMAS[table]
    try:
        if filesystem.get_file_info(location.child(MANIFEST).path).type != pafs.FileType.File:
            raise ConfigError(f"{location} is not a committed snapshot (no {MANIFEST})")
        path = location.child(f"{table}.{fmt}").path
        if fmt == "parquet":
            return pq.read_table(path, schema=schema, filesystem=filesystem)
        options = pacsv.ConvertOptions(
            column_types=schema,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=schema.names,
        )
        with filesystem.open_input_stream(path) as stream:
            return pacsv.read_csv(stream, convert_options=options).cast(schema)
    except OSError as exc:
        raise SnapshotError(f"cannot read {table}.{fmt} of {location}: {exc}") from exc
