"""The writer lifecycle every sink follows: open on construction, write_batch, close."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa


class Sink(Protocol):
    """One output file of one table. Batches are Arrow tables of the sink's schema."""

    path: Path
    rows: int

    def write_batch(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...
