"""The run journal: every finished item, appended durably, so an interrupted run can resume.

A journal is a directory of Arrow IPC stream segments, one pair per session of the run::

    journal/images-0001.arrows  errors-0001.arrows   (first session)
    journal/images-0002.arrows  errors-0002.arrows   (after the first --resume)

Each flush of the pool's writer appends one record batch per table and fsyncs both files, so a
crash loses at most the items of the batch being written; those were never journaled and are
fetched again. A batch cut short by ``kill -9`` is the torn tail of its segment: the reader
stops at the first message that does not parse and drops it.

Why Arrow IPC rather than SQLite in WAL mode: the rows already are Arrow batches of the output
schema, so appending one is a memory copy plus an fsync, and resuming feeds the batches back into
the sinks with no conversion. SQLite would need a second encoding of every row and an insert per
row, for a store that is only ever appended to and read back whole.

Invalid input lines are not journaled: resuming reads the input again, which yields them again.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

import pyarrow as pa

from crawler.errors import SnapshotError
from crawler.normalize.schema import SCHEMAS

JOURNAL_DIR: Final = "journal"
_SEGMENT_RE: Final = re.compile(r"(images|errors)-(\d{4,})\.arrows")
# lz4 costs a few percent of the zstd we use for Parquet and still shrinks the JSON-heavy rows
# several times; the journal is deleted at commit, so speed matters more than size.
_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression="lz4")


def _segments(directory: Path) -> list[tuple[int, str, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        if match := _SEGMENT_RE.fullmatch(path.name):
            found.append((int(match.group(2)), match.group(1), path))
    return sorted(found)


def next_session(directory: Path) -> int:
    """The number of the session that would append next (1 for a new journal)."""
    return max((number for number, _, _ in _segments(directory)), default=0) + 1


class JournalWriter:
    """Appends batches to this session's two segments. Blocking: call from a worker thread."""

    def __init__(self, directory: Path, session: int) -> None:
        directory.mkdir(exist_ok=True)
        self._files: dict[str, BinaryIO] = {}
        self._writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        try:
            for table, schema in SCHEMAS.items():
                handle = (directory / f"{table}-{session:04d}.arrows").open("xb")
                self._files[table] = handle
                self._writers[table] = pa.ipc.new_stream(handle, schema, options=_OPTIONS)
        except OSError as exc:
            self.close()
            raise SnapshotError(f"cannot create the journal in {directory}: {exc}") from exc
        self._sync()
        _fsync_dir(directory)

    def append(self, images: pa.Table | None, errors: pa.Table | None) -> None:
        """Write one batch per table and make both durable before returning."""
        for table, rows in (("images", images), ("errors", errors)):
            if rows is not None and rows.num_rows:
                self._writers[table].write_table(rows)
        self._sync()

    def _sync(self) -> None:
        for handle in self._files.values():
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        """Write the end-of-stream markers and close. Idempotent."""
        for writer in self._writers.values():
            writer.close()
        for handle in self._files.values():
            handle.close()
        self._writers.clear()
        self._files.clear()


def read_journal(directory: Path) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Every intact batch of every segment, in session order, as (table name, batch).

    A segment's torn tail (its last batch cut short by a crash) ends that segment; so does a
    segment too short to hold its schema, which then contributes nothing.
    """
    for _, table, path in _segments(directory):
        with pa.OSFile(str(path)) as source:
            try:
                reader = pa.ipc.open_stream(source)
            except (pa.ArrowInvalid, OSError):
                continue
            if not reader.schema.equals(SCHEMAS[table]):
                raise SnapshotError(
                    f"{path}: journal written with another schema; this run cannot be resumed"
                )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, OSError):
                    break
                yield table, batch


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
