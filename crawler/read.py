"""Read a snapshot's tables back with the declared types (for analysts, tests and the demo).

Parquet carries its schema; CSV does not, so it is parsed with the same Arrow schema. Nulls
and empty strings stay distinct in CSV (a null is an unquoted empty cell, ``""`` is empty
text). CSV cells that were neutralised against formula injection keep their leading ``'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crawler.normalize.schema import ALL_SCHEMAS

Table = Literal["images", "errors", "findings", "changes"]

# Arrow type -> pandas nullable dtype, so integers with nulls stay integers.
_PANDAS_TYPES: Final = {
    pa.string(): pd.StringDtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def read_arrow(directory: Path, table: Table = "images", fmt: str = "parquet") -> pa.Table:
    """One table of a snapshot directory as an Arrow table of the declared schema."""
    schema = ALL_SCHEMAS[table]
    if fmt == "parquet":
        return pq.read_table(directory / f"{table}.parquet", schema=schema)
    options = pacsv.ConvertOptions(
        column_types=schema,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        include_columns=schema.names,
    )
    return pacsv.read_csv(directory / f"{table}.csv", convert_options=options).cast(schema)


def read_frame(directory: Path, table: Table = "images", fmt: str = "parquet") -> pd.DataFrame:
    """One table of a snapshot directory as a pandas DataFrame with nullable dtypes."""
    frame: pd.DataFrame = read_arrow(directory, table, fmt).to_pandas(
        types_mapper=_PANDAS_TYPES.get
    )
    return frame
