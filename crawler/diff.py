"""What changed between two snapshots: images added, removed or changed, and those unknown.

An image is the pair ``(project_id, image_id)``. With OLD and NEW two committed snapshots:

``added``
    in NEW's images; not in OLD's images, and OLD either did not ask for it or got 404.
``removed``
    in OLD's images, and NEW got 404 "Image not found." for it (``error_kind`` not_found).
    An image NEW merely failed to fetch is never removed.
``changed``
    in both snapshots' images with differing values: one row per differing column,
    compared as text (``old``/``new``; null is None, timestamps ISO 8601 UTC), and one
    row per differing metadata key, ``field`` = ``metadata.<key>``, ``old``/``new`` the
    value's JSON text (None: the key is absent). ``metadata_json`` itself does not appear;
    a column copied from metadata (``disk_bus``) shows next to its key. ``fetched_at`` is
    not compared, nor ``os_is_eol``, which turns true with the date alone.
``unknown``
    the state is not known: in OLD's images but NEW failed for it other than by 404
    (``detail`` = ``error_kind: message``) or did not ask for it at all; or in NEW's
    images while OLD failed for it (``old run failed: <kind>``).

Only the columns both snapshots have are compared, so snapshots of different schema
versions can be diffed. Joins and comparisons are Arrow kernels over whole columns, read
one column at a time; only rows whose values differ are looked at one by one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crawler.errors import SnapshotError
from crawler.normalize.jsoncodec import dumps_sorted, loads
from crawler.normalize.schema import CHANGES_SCHEMA, IMAGES_SCHEMA
from crawler.outcomes import ErrorKind
from crawler.read import Table, read_arrow
from crawler.snapshot import MANIFEST, write_json_atomically, write_side_table

KEY: Final = ["project_id", "image_id"]
#: Columns that are not compared: when the row was fetched, and what moves with the date.
IGNORED: Final = frozenset({"fetched_at", "os_is_eol"})
METADATA: Final = "metadata_json"
CHANGE_KINDS: Final = ("added", "removed", "changed", "unknown")
NOT_IN_INPUT: Final = "not in the new run's input"
CHANGES: Final = "changes"
_NOT_FOUND: Final = ErrorKind.NOT_FOUND.value
_UTC_US: Final = pa.timestamp("us", tz="UTC")
_SLICE: Final = 1 << 18  # images compared at a time: bounds the copies of a wide column


class _Snapshot:
    """One snapshot directory's tables, read a few columns at a time (Parquet, else CSV)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._csv: dict[str, pa.Table] = {}

    def columns(self, table: Table) -> list[str]:
        """The columns ``table`` has in this snapshot, in file order."""
        path = self.directory / f"{table}.parquet"
        if not path.is_file():
            return list(self._csv_table(table).column_names)
        return list(_reading(path, lambda: pq.read_schema(path)).names)

    def read(self, table: Table, columns: list[str]) -> pa.Table:
        path = self.directory / f"{table}.parquet"
        if not path.is_file():
            return self._csv_table(table).select(columns)
        return _reading(path, lambda: pq.read_table(path, columns=columns))

    def _csv_table(self, table: Table) -> pa.Table:
        if table not in self._csv:
            path = self.directory / f"{table}.csv"
            if not path.is_file():
                raise SnapshotError(f"{self.directory} has no {table}.parquet or {table}.csv")
            self._csv[table] = _reading(path, lambda: read_arrow(self.directory, table, "csv"))
        return self._csv[table]

    @cached_property
    def errors(self) -> pa.Table:
        """Key, error_kind and message of the errors: one row per key (its first), and no
        row for a key that is among the images too."""
        errors = self.read("errors", [*KEY, "error_kind", "message"])
        keyed = pc.and_(pc.is_valid(errors["project_id"]), pc.is_valid(errors["image_id"]))
        errors = errors.filter(keyed)
        errors = errors.append_column("_row", pa.array(np.arange(errors.num_rows)))
        first = errors.group_by(KEY).aggregate([("_row", "min")]).column("_row_min")
        errors = errors.take(first).drop_columns(["_row"])
        return errors.join(self.read("images", KEY), keys=KEY, join_type="left anti")


def _reading(path: Path, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except (OSError, pa.ArrowException) as exc:
        raise SnapshotError(f"{path}: unreadable ({exc})") from exc


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values as the text the changes table holds: timestamps as ISO 8601 UTC."""
    if pa.types.is_timestamp(values.type):
        # Arrow writes "2024-01-02 03:04:05.000000Z"; the API wrote "2024-01-02T03:04:05Z".
        text = pc.cast(values, _UTC_US, safe=False).cast(pa.string())
        text = pc.replace_substring(text, " ", "T", max_replacements=1)
        return pc.replace_substring(text, ".000000Z", "Z")
    return values.cast(pa.string())


def _differ(old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.Array:
    """Positions where ``old`` and ``new`` differ; null equals null and nothing else."""
    if old.type != new.type:
        old, new = _as_text(old), _as_text(new)
    same = pc.fill_null(pc.equal(old, new), False)
    both_null = pc.and_(pc.is_null(old), pc.is_null(new))
    return pc.indices_nonzero(pc.invert(pc.or_(same, both_null)))


def _repeat(text: object, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(text, pa.string()), n)


def _rows(change: str, keys: pa.Table, *, order: int = 0, **columns: object) -> pa.Table:
    """A fragment of the changes table: ``keys`` (project_id, image_id) plus ``field``,
    ``old``, ``new`` and ``detail``, each an array, one text for all rows, or None.

    ``order`` (the field's schema position) becomes ``_field_order``, a sort key.
    """
    n = keys.num_rows

    def column(name: str) -> pa.Array | pa.ChunkedArray:
        value = columns.get(name)
        if isinstance(value, pa.Array | pa.ChunkedArray):
            return value
        return pa.nulls(n, pa.string()) if value is None else _repeat(value, n)

    return pa.table(
        {
            "change": _repeat(change, n),
            "project_id": keys["project_id"],
            "image_id": keys["image_id"],
            "field": column("field"),
            "old": column("old"),
            "new": column("new"),
            "detail": column("detail"),
            "_field_order": pa.repeat(pa.scalar(order, pa.int32()), n),
        }
    )


def _metadata_rows(keys: pa.Table, old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.Table:
    """One row per metadata key whose value differs, for rows whose metadata text differs."""
    rows: dict[str, list[Any]] = {"k": [], "field": [], "old": [], "new": []}
    for k, (before, after) in enumerate(zip(old.to_pylist(), new.to_pylist(), strict=True)):
        try:
            was, now = loads((before or "{}").encode()), loads((after or "{}").encode())
        except ValueError:
            was = now = None
        if not (isinstance(was, dict) and isinstance(now, dict)):  # not ours: show the text
            rows["k"].append(k)
            rows["field"].append(METADATA)
            rows["old"].append(before)
            rows["new"].append(after)
            continue
        for name in sorted(was.keys() | now.keys()):
            a = dumps_sorted(was[name]) if name in was else None
            b = dumps_sorted(now[name]) if name in now else None
            if a != b:
                rows["k"].append(k)
                rows["field"].append(f"metadata.{name}")
                rows["old"].append(a)
                rows["new"].append(b)
    order = IMAGES_SCHEMA.get_field_index(METADATA)
    return _rows(
        "changed",
        keys.take(pa.array(rows["k"], pa.int64())),
        field=pa.array(rows["field"], pa.string()),
        old=pa.array(rows["old"], pa.string()),
        new=pa.array(rows["new"], pa.string()),
        order=order,
    )


def _field_rows(name: str, keys: pa.Table, old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.Table:
    """The ``changed`` rows of one column, given only the rows whose values differ."""
    if name == METADATA:
        return _metadata_rows(keys, old, new)
    order = IMAGES_SCHEMA.get_field_index(name)
    return _rows(
        "changed",
        keys,
        field=name,
        old=_as_text(old),
        new=_as_text(new),
        order=order if order >= 0 else len(IMAGES_SCHEMA),
    )


def _changed(old: _Snapshot, new: _Snapshot, both: pa.Table) -> list[pa.Table]:
    """The ``changed`` rows of the images in both snapshots, one column at a time.

    ``both`` holds each image's key and its row in either snapshot (``_old``, ``_new``).
    Rows are lined up a slice at a time, so a wide column (metadata) is copied in parts.
    """
    new_columns = set(new.columns("images"))
    parts = []
    for name in old.columns("images"):
        if name in KEY or name in IGNORED or name not in new_columns:
            continue
        before = old.read("images", [name]).column(name)
        after = new.read("images", [name]).column(name)
        for start in range(0, both.num_rows, _SLICE):
            rows = both.slice(start, _SLICE)
            was, now = before.take(rows["_old"]), after.take(rows["_new"])
            positions = _differ(was, now)
            if len(positions):
                keys = rows.select(KEY).take(positions)
                parts.append(_field_rows(name, keys, was.take(positions), now.take(positions)))
    return parts


def _failed(errors: pa.Table) -> pa.Array:
    """Mask of the rows whose error is a failure, not a 404 "Image not found."."""
    kind = errors["error_kind"]
    return pc.and_(pc.is_valid(kind), pc.not_equal(pc.fill_null(kind, ""), _NOT_FOUND))


def _only_old(only_old: pa.Table, new_errors: pa.Table) -> list[pa.Table]:
    """``removed`` (NEW got 404) or ``unknown`` (NEW failed, or did not ask)."""
    joined = only_old.select(KEY).join(new_errors, keys=KEY, join_type="left outer")
    kind = joined["error_kind"]
    removed = joined.filter(pc.fill_null(pc.equal(kind, _NOT_FOUND), False))
    failed = joined.filter(_failed(joined))
    absent = joined.filter(pc.is_null(kind))
    detail = pc.binary_join_element_wise(failed["error_kind"], failed["message"], ": ")
    return [
        _rows("removed", removed),
        _rows("unknown", failed, detail=detail),
        _rows("unknown", absent, detail=NOT_IN_INPUT),
    ]


def _only_new(only_new: pa.Table, old_errors: pa.Table) -> list[pa.Table]:
    """``added`` (OLD did not ask, or got 404) or ``unknown`` (OLD failed)."""
    joined = only_new.select(KEY).join(old_errors, keys=KEY, join_type="left outer")
    failed_mask = _failed(joined)
    failed = joined.filter(failed_mask)
    detail = pc.binary_join_element_wise("old run failed: ", failed["error_kind"], "")
    return [
        _rows("added", joined.filter(pc.invert(failed_mask))),
        _rows("unknown", failed, detail=detail),
    ]


def _keys(snapshot: _Snapshot, position: str) -> pa.Table:
    keys = snapshot.read("images", KEY)
    return keys.append_column(position, pa.array(np.arange(keys.num_rows)))


def diff_snapshots(old_dir: Path, new_dir: Path) -> pa.Table:
    """The changes from the snapshot in ``old_dir`` to the one in ``new_dir``.

    Returns:
        A table of ``CHANGES_SCHEMA``, sorted by change kind (added, removed, changed,
        unknown), project, image, then field in column order (metadata keys, by name, where
        ``metadata_json`` is).

    Raises:
        SnapshotError: a table is missing or cannot be read.
    """
    old, new = _Snapshot(old_dir), _Snapshot(new_dir)
    pairs = _keys(old, "_old").join(_keys(new, "_new"), keys=KEY, join_type="full outer")
    in_old, in_new = pc.is_valid(pairs["_old"]), pc.is_valid(pairs["_new"])
    parts = [
        *_only_new(pairs.filter(pc.invert(in_old)), old.errors),
        *_only_old(pairs.filter(pc.invert(in_new)), new.errors),
        *_changed(old, new, pairs.filter(pc.and_(in_old, in_new))),
    ]
    table = pa.concat_tables(parts)
    rank = pc.index_in(table["change"], value_set=pa.array(CHANGE_KINDS))
    table = table.append_column("_rank", rank).sort_by(
        [
            ("_rank", "ascending"),
            ("project_id", "ascending"),
            ("image_id", "ascending"),
            ("_field_order", "ascending"),
            ("field", "ascending"),
        ]
    )
    return table.drop_columns(["_rank", "_field_order"]).cast(CHANGES_SCHEMA)


def summarize(changes: pa.Table) -> dict[str, int]:
    """Counts: images ``added``, ``removed``, ``changed`` and ``unknown``, and
    ``changed_fields``, the number of ``changed`` rows (fields and metadata keys)."""
    kinds = changes["change"]
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    for item in pc.value_counts(kinds).to_pylist():
        counts[item["values"]] = item["counts"]
    changed = changes.filter(pc.equal(kinds, "changed")).select(KEY)
    counts["changed_fields"] = counts["changed"]
    counts["changed"] = changed.group_by(KEY).aggregate([]).num_rows
    return counts


def _describe(directory: Path) -> dict[str, object]:
    """Run id and date of a snapshot, from its manifest (else from the directory's name)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    return {
        "run_id": manifest.get("run_id") or directory.name.removeprefix("run_id="),
        "snapshot_date": manifest.get("snapshot_date"),
        "path": str(directory),
    }


def write_changes(
    directory: Path, changes: pa.Table, *, old_dir: Path, new_dir: Path
) -> list[Path]:
    """Write ``changes.parquet``, ``changes.csv`` and ``changes.json`` into ``directory``.

    ``changes.json`` names both snapshots and holds :func:`summarize`'s counts; like the
    tables it is written under a temporary name and renamed into place.

    Raises:
        SnapshotError: the directory cannot be created or a file cannot be written.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        files = write_side_table(directory, CHANGES, changes)
        document = {
            "old": _describe(old_dir),
            "new": _describe(new_dir),
            "counts": summarize(changes),
            "files": [path.name for path in files],
        }
        write_json_atomically(directory / f"{CHANGES}.json", document)
    except OSError as exc:
        raise SnapshotError(f"cannot write the changes to {directory}: {exc}") from exc
    return [*files, directory / f"{CHANGES}.json"]
