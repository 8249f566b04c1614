"""Snapshot layout on disk, the run's work directory, and its atomic commit.

::

    DIR/snapshot_date=YYYY-MM-DD/
        run_id=<id>/                committed: manifest.json + images/errors .parquet/.csv
        .run_id=<id>.partial/       running, or interrupted and resumable:
            run.json                  what the run is (input hash, endpoint, shard), for --resume
            lock                      flock'ed while a process works on the run
            journal/                  finished items, durable (crawler.journal)
            images.parquet ...        the sinks, rebuilt from the journal on resume

A dot-prefixed name is skipped by pyarrow/pandas dataset readers and by ``ls``. Only when every
file is closed and synced is ``manifest.json`` written and the directory renamed to
``run_id=<id>``, so a reader sees either a whole snapshot or none; the run's bookkeeping
(journal, lock, run.json) is removed after the rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from crawler.errors import SnapshotError
from crawler.journal import JOURNAL_DIR, JournalWriter, next_session, read_journal
from crawler.keyset import KeySet, digests_array, pair_digest
from crawler.normalize.schema import SCHEMAS
from crawler.runlock import LOCK_NAME, RunLock
from crawler.sinks import SINKS, Sink

MANIFEST: Final = "manifest.json"
RUN_STATE: Final = "run.json"
PARTIAL_SUFFIX: Final = ".partial"
TABLES: Final = ("images", "errors")

Row = dict[str, object]


def new_run_id(now: datetime) -> str:
    """A run id that sorts by start time (UTC, milliseconds) and is unique across hosts."""
    stamp = now.astimezone(UTC)
    return f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def run_dirs(output_dir: Path, run_id: str, snapshot_date: date) -> tuple[Path, Path]:
    """(work directory, committed directory) of a run."""
    partition = output_dir / f"snapshot_date={snapshot_date.isoformat()}"
    return partition / f".run_id={run_id}{PARTIAL_SUFFIX}", partition / f"run_id={run_id}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomically(path: Path, text: str) -> None:
    """Write, fsync, then rename into place: a crash leaves the old file or the new one."""
    scratch = path.with_name(f".{path.name}.tmp")
    with scratch.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    scratch.replace(path)
    _fsync_path(path.parent)


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """``write_text_atomically`` of the document as indented JSON."""
    write_text_atomically(path, json.dumps(document, indent=2) + "\n")


def read_run_state(work_dir: Path) -> dict[str, Any]:
    """The ``run.json`` of a work directory, or a SnapshotError saying why it is unusable."""
    path = work_dir / RUN_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{work_dir} has no {RUN_STATE}: it cannot be resumed") from None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(state, dict) or not isinstance(state.get("run_id"), str):
        raise SnapshotError(f"{path}: not a run description")
    return state


# Rows are converted this many at a time: pyarrow holds the GIL while it reads Python objects,
# so one call over a whole batch would keep the event loop thread waiting for tens of ms.
CONVERT_ROWS: Final = 512


def _to_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """``pa.Table.from_pylist(rows, schema=schema)``, converted row by row.

    pyarrow reads dicts as one struct array in a single pass over the rows, where
    ``from_pylist`` makes one pass per column (24 for images), each touching every row: a
    third less CPU, more inside a crawl, where a batch of rows is no longer in the caches.
    Missing keys still become nulls and extra keys are still ignored.
    """
    if not all(type(row) is dict for row in rows):  # other mappings: from_pylist reads them
        return pa.Table.from_pylist(rows, schema=schema)
    struct = pa.struct(list(schema))
    batches = []
    for start in range(0, len(rows), CONVERT_ROWS):
        structs = pa.array(rows[start : start + CONVERT_ROWS], type=struct)
        columns = pa.RecordBatch.from_struct_array(structs).columns
        batches.append(pa.RecordBatch.from_arrays(columns, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


@dataclass(slots=True)
class Replayed:
    """What the journal of earlier sessions held: the done keys and their outcomes."""

    done: KeySet = field(default_factory=KeySet)
    ok: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


class SnapshotWriter:
    """Owns one run's work directory: lock, journal, sinks and the commit.

    Not thread-safe: call it from one thread at a time (the pool's writer task hands it
    batches in a worker thread). ``fresh=False`` reopens an interrupted run's directory.
    """

    def __init__(
        self,
        work_dir: Path,
        final_dir: Path,
        formats: Sequence[str],
        *,
        fresh: bool = True,
        run_state: dict[str, Any] | None = None,
        journaled: bool = True,
    ) -> None:
        self.work_dir = work_dir
        self.final_dir = final_dir
        if fresh:
            try:
                work_dir.mkdir(parents=True)
            except OSError as exc:
                raise SnapshotError(f"cannot create {work_dir}: {exc.strerror}") from exc
        elif not work_dir.is_dir():
            raise SnapshotError(f"{work_dir} does not exist")
        self._lock = RunLock(work_dir)
        self._lock.acquire()
        self._closed = False
        try:
            if not fresh and not (work_dir / RUN_STATE).is_file():  # pruned while we waited
                raise SnapshotError(f"{work_dir} was removed; it cannot be resumed")
            if run_state is not None:
                write_json_atomically(work_dir / RUN_STATE, run_state)
            journal_dir = work_dir / JOURNAL_DIR
            self.session = next_session(journal_dir)
            self._journal = JournalWriter(journal_dir, self.session) if journaled else None
            self._sinks: dict[str, list[Sink]] = {
                table: [
                    SINKS[fmt](work_dir / f"{table}.{fmt}", SCHEMAS[table])  # suffix = format
                    for fmt in formats
                ]
                for table in TABLES
            }
        except BaseException:
            self._lock.release()
            raise

    def replay(self) -> Replayed:
        """Copy what earlier sessions journaled into the (new) sinks; return what was done.

        Only the segments of sessions before this one are read: this session's are empty.
        """
        replayed = Replayed()
        for table, batch in read_journal(self.work_dir / JOURNAL_DIR):
            rows = pa.Table.from_batches([batch], schema=SCHEMAS[table])
            for sink in self._sinks[table]:
                sink.write_batch(rows)
            pairs = zip(
                batch.column("project_id").to_pylist(),
                batch.column("image_id").to_pylist(),
                strict=True,
            )
            replayed.done.add(digests_array([pair_digest(p, i) for p, i in pairs]))
            if table == "images":
                replayed.ok += batch.num_rows
            else:
                counts = pc.value_counts(batch.column("error_kind")).to_pylist()
                replayed.by_kind.update({c["values"]: c["counts"] for c in counts})
        return replayed

    def write(self, images: list[Row], errors: list[Row], invalid: list[Row]) -> None:
        """Journal one batch, then append it to every sink (blocking: use a worker thread).

        ``invalid`` rows (rejected input lines) go to the errors sinks only: a resumed run
        reads the input again and meets them again.
        """
        tables = {
            "images": _to_table(images, SCHEMAS["images"]) if images else None,
            "errors": _to_table(errors, SCHEMAS["errors"]) if errors else None,
        }
        if self._journal is not None:
            self._journal.append(tables["images"], tables["errors"])
        if invalid:
            rejected = _to_table(invalid, SCHEMAS["errors"])
            tables["errors"] = (
                rejected
                if tables["errors"] is None
                else pa.concat_tables([tables["errors"], rejected])
            )
        for table, batch in tables.items():
            if batch is not None:
                self.write_table(table, batch)

    def write_table(self, table: str, rows: pa.Table) -> None:
        """Append rows to the sinks of one table, bypassing the journal (merge uses it)."""
        for sink in self._sinks[table]:
            sink.write_batch(rows)

    def close(self) -> None:
        """Close the journal and every sink so each file is complete. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._journal is not None:
            self._journal.close()
        for sinks in self._sinks.values():
            for sink in sinks:
                sink.close()

    def release(self) -> None:
        """Let another process (a later --resume) take the run. Idempotent."""
        self._lock.release()

    def files(self) -> dict[str, dict[str, object]]:
        """Name, row count, size and SHA-256 of each written file (after ``close``)."""
        return {
            sink.path.name: {
                "rows": sink.rows,
                "bytes": sink.path.stat().st_size,
                "sha256": sha256_file(sink.path),
            }
            for sinks in self._sinks.values()
            for sink in sinks
        }

    def commit(self, manifest: dict[str, object]) -> Path:
        """Close, sync, write the manifest last and publish the directory by rename."""
        self.close()
        manifest = {**manifest, "files": self.files()}
        for sinks in self._sinks.values():
            for sink in sinks:
                _fsync_path(sink.path)
        write_json_atomically(self.work_dir / MANIFEST, manifest)
        return publish(self.work_dir, self.final_dir)


def publish(work_dir: Path, final_dir: Path) -> Path:
    """Rename a work directory that holds its manifest into place, then drop the bookkeeping.

    Also finishes a commit that a crash cut short between the manifest and the rename.
    """
    try:
        work_dir.rename(final_dir)
    except OSError as exc:
        raise SnapshotError(f"cannot publish {final_dir}: {exc.strerror}") from exc
    _fsync_path(final_dir.parent)
    # A crash here leaves these inside a committed snapshot: harmless, readers open the
    # files the manifest names. `crawler snapshots prune` does not mind them either.
    shutil.rmtree(final_dir / JOURNAL_DIR, ignore_errors=True)
    for name in (RUN_STATE, LOCK_NAME):
        with contextlib.suppress(FileNotFoundError):
            (final_dir / name).unlink()
    return final_dir


def write_side_table(directory: Path, name: str, table: pa.Table) -> list[Path]:
    """Write an analysis table (findings, changes) next to a snapshot's own, as Parquet and CSV.

    Each file is written under a hidden temporary name, fsynced and renamed into place, so a
    reader finds the old file or the new one, never half of one. Returns the files' paths.
    """
    written = []
    for fmt, sink_type in SINKS.items():
        final = directory / f"{name}.{fmt}"
        scratch = directory / f".{name}.{fmt}.tmp"
        sink = sink_type(scratch, table.schema)
        try:
            sink.write_batch(table)
        finally:
            sink.close()
        _fsync_path(scratch)
        scratch.replace(final)
        written.append(final)
    _fsync_path(directory)
    return written
