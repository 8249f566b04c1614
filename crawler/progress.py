"""A live progress bar on a terminal; silent when stderr is not a TTY (cron, CI, pipes)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crawler.crawl import Crawl
from crawler.inputs import STDIN

REFRESH_S = 0.25


def count_lines(path: str) -> int | None:
    """Upper bound of the items in a regular file (lines minus header); None for stdin."""
    if path == STDIN or not Path(path).is_file():
        return None
    lines = 0
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines, 1)


def wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


async def show_progress(crawl: Crawl) -> None:
    """Redraw until cancelled; the total is a line count, so the bar may end a bit short."""
    total = await anyio.to_thread.run_sync(count_lines, crawl.settings.input_path)
    columns = (
        TextColumn("[bold]crawl"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("crawl", total=total, detail="")
        while True:
            counters = crawl.counters
            rate = crawl.requests / max(time.monotonic() - started, 1e-6)
            detail = (
                f"ok {counters.ok}  404 {counters.not_found}  failed {counters.failed}"
                f"  invalid {counters.invalid}  {rate:,.0f} req/s"
            )
            done = counters.done + crawl.reader.stats.duplicates
            progress.update(task, completed=done, detail=detail)
            await anyio.sleep(REFRESH_S)
