"""CSV sink: RFC 4180 (CRLF line ends, quoted text) with spreadsheet formula neutralisation.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is prefixed with a single
quote (OWASP's advice against CSV injection), so a spreadsheet shows it as text instead of
running it. Only text columns are touched; Parquet keeps the exact values.

UTC timestamp columns are rendered before they reach pyarrow's writer, because its own
rendering of zoned timestamps costs more than the rest of the row put together; the text is
the same byte for byte, which is checked once per type before the shortcut is used.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

FORMULA_PREFIX_RE: Final = r"^[=+\-@\t\r]"
_FORMULA_STARTS: Final = pa.array(["=", "+", "-", "@", "\t", "\r"])
_OPTIONS: Final = pacsv.WriteOptions(quoting_style="needed", eol="\r\n")


def neutralize_formulas(table: pa.Table) -> pa.Table:
    """Return the table with formula-looking text cells prefixed by ``'``."""
    for index, column_field in enumerate(table.schema):
        if not pa.types.is_string(column_field.type):
            continue
        column = table.column(index)
        # Same cells as FORMULA_PREFIX_RE matches, at half the cost of a regex.
        risky = pc.is_in(pc.utf8_slice_codeunits(column, 0, 1), value_set=_FORMULA_STARTS)
        if pc.any(risky).as_py():
            quoted = pc.binary_join_element_wise("'", column, "")
            table = table.set_column(index, column_field, pc.if_else(risky, quoted, column))
    return table


def _render_utc(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """UTC timestamps as the CSV writer prints them: the wall time and a ``Z``."""
    wall_clock = pc.cast(column, pa.timestamp(column.type.unit))
    return pc.binary_join_element_wise(pc.cast(wall_clock, pa.string()), "Z", "")


def _csv_bytes(table: pa.Table, schema: pa.Schema) -> bytes:
    sink = io.BytesIO()
    with pacsv.CSVWriter(sink, schema, write_options=_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue()


# Microseconds since the epoch: year 1, before and at the epoch, fractions, year 9999, null.
_SAMPLE: Final = [
    -62135596800_000000,
    -86400_000001,
    -1,
    0,
    1,
    951782400_123457,
    253402300799_999999,
    None,
]


@functools.cache
def _renders_like_writer(dtype: pa.DataType) -> bool:
    """Whether ``_render_utc`` text, written under a ``dtype`` schema field (so unquoted),
    comes out exactly as the writer's own rendering of ``dtype`` values."""
    if not (pa.types.is_timestamp(dtype) and dtype.tz == "UTC"):
        return False
    schema = pa.schema([pa.field("t", dtype)])
    try:
        column = pa.array(_SAMPLE, pa.int64()).cast(dtype)
        expected = _csv_bytes(pa.table([column], schema=schema), schema)
        return _csv_bytes(pa.table([_render_utc(column)], names=["t"]), schema) == expected
    except (pa.ArrowException, ValueError):
        return False


class CsvSink:
    """Streams batches into one CSV file with a header row."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self._writer = pacsv.CSVWriter(path, schema, write_options=_OPTIONS)
        self._rendered = [
            index for index, field in enumerate(schema) if _renders_like_writer(field.type)
        ]

    def write_batch(self, table: pa.Table) -> None:
        if table.num_rows:
            table = neutralize_formulas(table)
            for index in self._rendered:
                text = _render_utc(table.column(index))
                field = table.schema.field(index).with_type(text.type)
                table = table.set_column(index, field, text)
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
