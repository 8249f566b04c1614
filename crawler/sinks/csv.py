"""CSV sink: RFC 4180 (CRLF line ends, quoted text) with spreadsheet formula neutralisation.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR is prefixed with a single
quote (OWASP's advice against CSV injection), so a spreadsheet shows it as text instead of
running it. Only text columns are touched; Parquet keeps the exact values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

FORMULA_PREFIX_RE: Final = r"^[=+\-@\t\r]"
_OPTIONS: Final = pacsv.WriteOptions(quoting_style="needed", eol="\r\n")


def neutralize_formulas(table: pa.Table) -> pa.Table:
    """Return the table with formula-looking text cells prefixed by ``'``."""
    for index, column_field in enumerate(table.schema):
        if not pa.types.is_string(column_field.type):
            continue
        column = table.column(index)
        risky = pc.match_substring_regex(column, FORMULA_PREFIX_RE)
        if pc.any(risky).as_py():
            quoted = pc.binary_join_element_wise("'", column, "")
            table = table.set_column(index, column_field, pc.if_else(risky, quoted, column))
    return table


class CsvSink:
    """Streams batches into one CSV file with a header row."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self._writer = pacsv.CSVWriter(path, schema, write_options=_OPTIONS)

    def write_batch(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(neutralize_formulas(table))
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
