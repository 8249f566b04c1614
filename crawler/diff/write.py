"""Writing :mod:`crawler.diff`'s changes: ``changes.parquet``, ``.csv`` and ``.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import pyarrow as pa

from crawler.diff.compare import summarize
from crawler.errors import SnapshotError
from crawler.snapshot import MANIFEST, write_json_atomically, write_side_table

CHANGES: Final = "changes"


def _describe(directory: Path) -> dict[str, object]:
    """Run id and date of a snapshot, from its manifest (else from the directory's name)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    return {
        "run_id": manifest.get("run_id") or directory.name.removeprefix("run_id="),
        "snapshot_date": manifest.get("snapshot_date"),
        "path": str(directory),
    }


def write_changes(
    directory: Path, changes: pa.Table, *, old_dir: Path, new_dir: Path
) -> list[Path]:
    """Write ``changes.parquet``, ``changes.csv`` and ``changes.json`` into ``directory``.

    ``changes.json`` names both snapshots and holds :func:`summarize`'s counts; like the
    tables it is written under a temporary name and renamed into place.

    Raises:
        SnapshotError: the directory cannot be created or a file cannot be written.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        files = write_side_table(directory, CHANGES, changes)
        document = {
            "old": _describe(old_dir),
            "new": _describe(new_dir),
            "counts": summarize(changes),
            "files": [path.name for path in files],
        }
        write_json_atomically(directory / f"{CHANGES}.json", document)
    except OSError as exc:
        raise SnapshotError(f"cannot write the changes to {directory}: {exc}") from exc
    return [*files, directory / f"{CHANGES}.json"]
