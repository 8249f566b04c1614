"""Pure comparison for :mod:`crawler.diff`: Arrow joins and kernels, no I/O.

Which images are only in one snapshot and why (``added``, ``removed``, ``unknown``), which
columns and metadata keys of the images in both differ (``changed``), the changes table's
rows, their order, and the counts.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from crawler.normalize.jsoncodec import dumps_sorted, loads
from crawler.normalize.schema import CHANGES_SCHEMA, IMAGES_SCHEMA
from crawler.outcomes import ErrorKind

KEY: Final = ["project_id", "image_id"]
#: Columns that are not compared: when the row was fetched, and what moves with the date.
IGNORED: Final = frozenset({"fetched_at", "os_is_eol"})
METADATA: Final = "metadata_json"
CHANGE_KINDS: Final = ("added", "removed", "changed", "unknown")
NOT_IN_INPUT: Final = "not in the new run's input"
_NOT_FOUND: Final = ErrorKind.NOT_FOUND.value
_UTC_US: Final = pa.timestamp("us", tz="UTC")


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values as the text the changes table holds: timestamps as ISO 8601 UTC."""
    if pa.types.is_timestamp(values.type):
        # Arrow writes "2024-01-02 03:04:05.000000Z"; the API wrote "2024-01-02T03:04:05Z".
        text = pc.cast(values, _UTC_US, safe=False).cast(pa.string())
        text = pc.replace_substring(text, " ", "T", max_replacements=1)
        return pc.replace_substring(text, ".000000Z", "Z")
    return values.cast(pa.string())


def differ(old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.Array:
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


def field_rows(name: str, keys: pa.Table, old: pa.ChunkedArray, new: pa.ChunkedArray) -> pa.Table:
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


def _failed(errors: pa.Table) -> pa.Array:
    """Mask of the rows whose error is a failure, not a 404 "Image not found."."""
    kind = errors["error_kind"]
    return pc.and_(pc.is_valid(kind), pc.not_equal(pc.fill_null(kind, ""), _NOT_FOUND))


def only_old(pairs: pa.Table, new_errors: pa.Table) -> list[pa.Table]:
    """``removed`` (NEW got 404) or ``unknown`` (NEW failed, or did not ask)."""
    joined = pairs.select(KEY).join(new_errors, keys=KEY, join_type="left outer")
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


def only_new(pairs: pa.Table, old_errors: pa.Table) -> list[pa.Table]:
    """``added`` (OLD did not ask, or got 404) or ``unknown`` (OLD failed)."""
    joined = pairs.select(KEY).join(old_errors, keys=KEY, join_type="left outer")
    failed_mask = _failed(joined)
    failed = joined.filter(failed_mask)
    detail = pc.binary_join_element_wise("old run failed: ", failed["error_kind"], "")
    return [
        _rows("added", joined.filter(pc.invert(failed_mask))),
        _rows("unknown", failed, detail=detail),
    ]


def changes_table(parts: list[pa.Table]) -> pa.Table:
    """The fragments made by :func:`only_new`, :func:`only_old` and :func:`field_rows` as
    one table of ``CHANGES_SCHEMA``, sorted as :func:`crawler.diff.diff_snapshots` says."""
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
