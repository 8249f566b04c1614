"""The runs under an output root: what is there, which snapshot is the latest, what may go.

Layout (written by ``crawler.snapshot``)::

    OUTPUT/snapshot_date=YYYY-MM-DD/
        run_id=<id>/              committed: manifest.json and the tables
        .run_id=<id>.partial/     in progress or interrupted: run.json, lock, journal/, and
                                  manifest.json if a commit was interrupted after writing it
        .run_id=<id>.deleting/    being removed by ``prune`` (a leftover if prune was stopped)

A run's status::

    complete    committed directory with a readable manifest
    running     partial directory whose lock a live process holds (``crawler.runlock``)
    committing  partial, not running, with manifest.json: the commit was interrupted
    resumable   partial, not running, with run.json
    unknown     anything else: unreadable or corrupt JSON, no run.json (older versions, or a
                crash before it was written)

Nothing here trusts the files: a corrupt one makes its run ``unknown``, never an exception.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Final, Literal

from crawler.errors import ConfigError, SnapshotError
from crawler.runlock import RunLock, is_locked
from crawler.snapshot import MANIFEST, PARTIAL_SUFFIX, RUN_STATE

DATE_PREFIX: Final = "snapshot_date="
RUN_PREFIX: Final = "run_id="
DELETING_SUFFIX: Final = ".deleting"
_DATE_DIR: Final = re.compile(rf"{DATE_PREFIX}(\d{{4}}-\d{{2}}-\d{{2}})")
_RUN_DIR: Final = re.compile(rf"(\.?){RUN_PREFIX}([^/]+?)({re.escape(PARTIAL_SUFFIX)})?")

RunState = Literal["complete", "running", "resumable", "committing", "unknown"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run directory as found on disk; ``shard`` is ``(index, count)`` of a sharded run."""

    snapshot_date: date
    run_id: str
    status: RunState
    path: Path
    shard: tuple[int, int] | None = None
    counts: dict[str, object] | None = field(default=None, hash=False)
    started_at: str | None = None


def _read_object(path: Path) -> dict[str, object] | None:
    """The JSON object in ``path``, or None if there is no such file.

    Raises:
        ValueError: the file cannot be read, is not JSON, or is not an object.
    """
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not a JSON object")
    return value


def _shard(value: object) -> tuple[int, int] | None:
    """``{"index": k, "count": n}`` (or the string ``"k/n"``) as ``(k, n)``; null is None.

    Raises:
        ValueError: anything else, since a wrong answer would make a part look like a whole.
    """
    if value is None:
        return None
    index: object = None
    count: object = None
    if isinstance(value, dict):
        index, count = value.get("index"), value.get("count")
    elif isinstance(value, str) and re.fullmatch(r"\d+/\d+", value):
        index, count = map(int, value.split("/"))
    if type(index) is int and type(count) is int and 0 <= index < count:
        return index, count
    raise ValueError(f"bad shard {value!r}")


def _run(day: date, run_id: str, status: RunState, path: Path, doc: dict[str, object]) -> RunInfo:
    counts, started_at = doc.get("counts"), doc.get("started_at")
    return RunInfo(
        day,
        run_id,
        status,
        path,
        shard=_shard(doc.get("shard")),
        counts=counts if isinstance(counts, dict) else None,
        started_at=started_at if isinstance(started_at, str) else None,
    )


def _inspect(day: date, run_id: str, path: Path, committed: bool) -> RunInfo:
    """Read one run directory's files and decide its status."""
    try:
        if committed:
            manifest = _read_object(path / MANIFEST)
            if manifest is not None:
                return _run(day, run_id, "complete", path, manifest)
        elif is_locked(path):
            try:  # the holder may be writing run.json right now
                return _run(day, run_id, "running", path, _read_object(path / RUN_STATE) or {})
            except ValueError:
                return RunInfo(day, run_id, "running", path)
        elif (manifest := _read_object(path / MANIFEST)) is not None:
            return _run(day, run_id, "committing", path, manifest)
        elif (started := _read_object(path / RUN_STATE)) is not None:
            return _run(day, run_id, "resumable", path, started)
    except ValueError:
        pass
    return RunInfo(day, run_id, "unknown", path)


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()  # links were not made by us: leave them


def _entries(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SnapshotError(f"cannot list {directory}: {exc.strerror}") from exc


def _partitions(output_dir: Path) -> Iterator[tuple[date, Path]]:
    for entry in _entries(output_dir):
        match = _DATE_DIR.fullmatch(entry.name)
        if match and _is_real_dir(entry):
            try:
                yield date.fromisoformat(match.group(1)), entry
            except ValueError:  # 2026-13-45: not ours
                continue


def _runs_in(day: date, partition: Path) -> list[RunInfo]:
    runs = []
    for entry in _entries(partition):
        match = _RUN_DIR.fullmatch(entry.name)
        # Committed: no dot and no suffix; partial: both. Others (.deleting, files) are not runs.
        if match and bool(match.group(1)) == bool(match.group(3)) and _is_real_dir(entry):
            runs.append(_inspect(day, match.group(2), entry, committed=not match.group(1)))
    return runs


def list_runs(output_dir: Path) -> list[RunInfo]:
    """Every run under ``output_dir``, oldest first (run ids sort by start time)."""
    runs = [run for day, partition in _partitions(output_dir) for run in _runs_in(day, partition)]
    return sorted(runs, key=lambda run: (run.snapshot_date, run.run_id))


def latest_complete(output_dir: Path, *, include_shards: bool = False) -> RunInfo | None:
    """The newest committed snapshot; shard runs count only with ``include_shards``.

    A shard run holds a part of the inputs, so by default only whole (unsharded or merged)
    snapshots are candidates.
    """
    complete = [
        run
        for run in list_runs(output_dir)
        if run.status == "complete" and (include_shards or run.shard is None)
    ]
    return complete[-1] if complete else None


def prune(output_dir: Path, *, keep_days: int, today: date, dry_run: bool) -> list[Path]:
    """Remove runs dated before ``today - keep_days``; return what was (or would be) removed.

    Committed and partial runs go, except running ones and the newest complete unsharded
    snapshot, which stays however old it is. Leftover ``.deleting`` directories go whatever
    their date, and old date directories left empty go too. A committed run is renamed to
    its hidden ``.deleting`` name before it is deleted, so readers never see half of one; a
    partial run is deleted while holding its lock, so it cannot be resumed meanwhile.

    Raises:
        ConfigError: ``keep_days`` is negative.
        SnapshotError: a directory cannot be listed, renamed or deleted.
    """
    if keep_days < 0:
        raise ConfigError(f"keep_days must be 0 or more, not {keep_days}")
    cutoff = today - timedelta(days=keep_days)
    newest = latest_complete(output_dir)
    removed: list[Path] = []
    for day, partition in _partitions(output_dir):
        gone = [
            entry
            for entry in _entries(partition)
            if entry.name.startswith(f".{RUN_PREFIX}")
            and entry.name.endswith(DELETING_SUFFIX)
            and _is_real_dir(entry)
        ]
        if not dry_run:
            for leftover in gone:
                _rmtree(leftover)
        if day < cutoff:
            for run in _runs_in(day, partition):
                if run.status == "running" or (newest and run.path == newest.path):
                    continue
                if dry_run or _remove(run):
                    gone.append(run.path)
        removed += gone
        if day < cutoff and _remove_if_empty(partition, gone, dry_run):
            removed.append(partition)
    return removed


def _remove(run: RunInfo) -> bool:
    """Delete one run by way of its ``.deleting`` name; False if it is no longer ours to delete."""
    trash = run.path.with_name(f".{RUN_PREFIX}{run.run_id}{DELETING_SUFFIX}")
    if run.status == "complete":
        return _rename(run.path, trash) and _rmtree(trash)
    lock = RunLock(run.path)
    try:
        if not lock.try_acquire():
            return False  # resumed since it was listed
    except SnapshotError:
        if not run.path.exists():
            return False  # committed or removed since it was listed
        raise
    try:
        return _rename(run.path, trash) and _rmtree(trash)
    finally:
        lock.release()


def _rename(path: Path, target: Path) -> bool:
    try:
        path.rename(target)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise SnapshotError(f"cannot rename {path} to {target.name}: {exc.strerror}") from exc
    return True


def _rmtree(path: Path) -> bool:
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise SnapshotError(f"cannot delete {path}: {exc.strerror or exc}") from exc
    return True


def _remove_if_empty(partition: Path, gone: list[Path], dry_run: bool) -> bool:
    if dry_run:
        return set(_entries(partition)) <= set(gone)
    try:
        partition.rmdir()  # fails, as it should, if anything is left or was added meanwhile
    except OSError:
        return False
    return True


LATEST: Final = "latest"
PREVIOUS: Final = "previous"


def resolve_snapshot(output_dir: Path, ref: str | None) -> Path:
    """The committed snapshot that ``ref`` names: ``latest`` (or None), ``previous`` (the
    whole snapshot before the latest), a run id, or a snapshot directory's path.

    Raises:
        ConfigError: nothing matches, or the directory is not a committed snapshot.
    """
    if ref is None or ref in (LATEST, PREVIOUS):
        whole = [r for r in list_runs(output_dir) if r.status == "complete" and r.shard is None]
        wanted = 2 if ref == PREVIOUS else 1
        if len(whole) < wanted:
            raise ConfigError(
                f"no {ref or LATEST} snapshot under {output_dir}"
                f" ({len(whole)} complete snapshot{'s' if len(whole) != 1 else ''})"
            )
        return whole[-wanted].path
    path = Path(ref)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise ConfigError(f"{path} is not a committed snapshot (no {MANIFEST})")
        return path
    found = sorted(output_dir.glob(f"{DATE_PREFIX}*/{RUN_PREFIX}{ref}"))
    if not found or not (found[0] / MANIFEST).is_file():
        raise ConfigError(f"no committed snapshot {ref!r} (a path, run id, latest or previous)")
    return found[0]
