"""File writers with a lifecycle (open, write_batch, close); storage layout lives in snapshot."""

from crawler.sinks.base import Sink
from crawler.sinks.csv import CsvSink, neutralize_formulas
from crawler.sinks.parquet import ParquetSink

SINKS: dict[str, type[ParquetSink] | type[CsvSink]] = {"parquet": ParquetSink, "csv": CsvSink}

__all__ = ["SINKS", "CsvSink", "ParquetSink", "Sink", "neutralize_formulas"]
