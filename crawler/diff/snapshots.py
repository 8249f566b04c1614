"""Reading the two snapshots for :mod:`crawler.diff`, a column at a time, and comparing them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crawler.diff.compare import (
    IGNORED,
    KEY,
    changes_table,
    differ,
    field_rows,
    only_new,
    only_old,
)
from crawler.errors import SnapshotError
from crawler.read import Table, read_arrow

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
            positions = differ(was, now)
            if len(positions):
                keys = rows.select(KEY).take(positions)
                parts.append(field_rows(name, keys, was.take(positions), now.take(positions)))
    return parts


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
        *only_new(pairs.filter(pc.invert(in_old)), old.errors),
        *only_old(pairs.filter(pc.invert(in_new)), new.errors),
        *_changed(old, new, pairs.filter(pc.and_(in_old, in_new))),
    ]
    return changes_table(parts)
