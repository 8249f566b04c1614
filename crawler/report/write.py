"""Writing the report: collect, render, and replace the target file atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Final

from crawler.errors import SnapshotError
from crawler.report.data import collect_report_data
from crawler.report.render import render_report

REPORT_NAME: Final = "report.html"


def write_report(snapshot_dir: Path, out_path: Path | None = None) -> Path:
    """Collect, render and write the report (default ``SNAPSHOT/report.html``) atomically:
    a temporary file in the same directory, fsynced, renamed over the target.

    Raises:
        SnapshotError: the snapshot cannot be read or the report cannot be written.
    """
    html = render_report(collect_report_data(snapshot_dir))
    target = out_path or snapshot_dir / REPORT_NAME
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(html)
                handle.flush()
                os.fsync(handle.fileno())
            Path(scratch).chmod(0o644)  # mkstemp makes it 0600; a report is meant to be shared
            Path(scratch).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(scratch).unlink()
            raise
    except OSError as exc:
        raise SnapshotError(f"cannot write the report {target}: {exc.strerror or exc}") from exc
    return target
