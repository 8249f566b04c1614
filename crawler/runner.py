"""Run commands the way a command line wants them: signals, progress and a summary."""

from __future__ import annotations

import signal
from typing import Final

import anyio
import click

from crawler.crawl import Crawl, CrawlReport
from crawler.errors import sole_exception
from crawler.progress import show_progress
from crawler.simulator import SimulatorConfig, serve

# Exit codes of an interrupted run: the shell convention 128 + signal number.
EXIT_INTERRUPTED: Final = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted:
    """Remembers which signal stopped the run."""

    signum: signal.Signals | None = None


async def _stop_on_signals(crawl: Crawl, seen: Interrupted) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if seen.signum is None:
                click.echo(
                    f"\n{signum.name}: taking no new items; requests in flight get"
                    f" {crawl.settings.grace_s:g} s (signal again to cancel them now)...",
                    err=True,
                )
            else:
                click.echo(f"{signum.name}: cancelling requests in flight...", err=True)
            seen.signum = seen.signum or signum
            crawl.stop()


async def run_with_signals(crawl: Crawl, *, progress: bool) -> tuple[CrawlReport, int]:
    """Run ``crawl``; SIGINT/SIGTERM stop it cleanly. Returns the report and an exit code."""
    seen = Interrupted()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signals, crawl, seen)
            if progress:
                tg.start_soon(show_progress, crawl)
            report = await crawl.run()
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise sole_exception(group) from None
    code = (
        0
        if report.status == "complete"
        else EXIT_INTERRUPTED.get(seen.signum, 130)
        if seen.signum
        else 130
    )
    return report, code


def summary(report: CrawlReport) -> list[str]:
    """A few human lines: where the files are, counts, and speed."""
    stats, counters = report.stats, report.counters
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(counters.by_kind.items())) or "none"
    if report.status == "complete":
        head = [f"snapshot: {report.directory}"]
    else:
        head = [
            f"INTERRUPTED: no snapshot published; finished items are journaled in"
            f" {report.directory}",
            f"resume with: crawler crawl ... --resume {report.run_id}",
        ]
    resumed = f", {stats.resumed} done in earlier sessions" if stats.resumed else ""
    shards = f", {stats.other_shards} in other shards" if stats.other_shards else ""
    return [
        *head,
        f"input {stats.records} records: {stats.unique} unique, "
        f"{stats.duplicates} duplicates, {stats.invalid} invalid{shards}{resumed}",
        f"ok {counters.ok}, not found {counters.not_found}, failed {counters.failed}"
        f" (errors by kind: {kinds})",
        f"{report.requests} requests in {report.duration_s:.2f} s"
        f" = {report.requests_per_second:,.0f} req/s",
    ]


async def serve_until_signal(config: SimulatorConfig, host: str, port: int) -> None:
    """Serve the simulator until SIGINT/SIGTERM, then stop without a traceback."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: serve(
                config,
                host=host,
                port=port,
                on_ready=lambda url: click.echo(f"simulator listening on {url}"),
            )
        )
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                tg.cancel_scope.cancel()
                break
