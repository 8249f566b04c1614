"""One crawl run from input file to committed snapshot: the library entry point.

``Crawl(settings).run()`` reads the ID list, fetches every unique pair through the pool,
journals and writes rows and error records, and commits the snapshot with its manifest.
With ``settings.resume`` it continues an interrupted run instead: the journal's items are
copied into the new files and only the rest is fetched.

``stop()`` (wired to SIGINT/SIGTERM by the CLI) ends it gracefully: no item is started after
it, items in flight get ``settings.grace_s`` seconds to finish, everything finished is
journaled, and the run stays resumable; a second ``stop()`` cancels at once. No snapshot is
published by a stopped run.

Turning bodies into rows is ``crawler.rows``; choosing the run, ``crawler.runplan``; the
report and the manifest's counts, ``crawler.runreport``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Final

import anyio

from crawler import __version__
from crawler.auth.base import AuthProvider, NoAuth
from crawler.backlog import Backlog
from crawler.client import ImageClient
from crawler.config import CrawlSettings
from crawler.discover.snapshot import Discovery, ProjectItems
from crawler.errors import ConfigError, CrawlerError, SnapshotError, sole_exception
from crawler.inputs import ImageRef, InputReader, InvalidLine
from crawler.lifecycle_data import load_lifecycle
from crawler.loopwatch import LoopWatch
from crawler.normalize import SCHEMA_VERSION
from crawler.outcomes import ErrorRecord
from crawler.pool import (
    READ_BATCH,
    BatchLimits,
    Outcome,
    PoolControl,
    PoolCounters,
    one_each,
    run_pool,
)
from crawler.ratelimit import RateLimits
from crawler.retry import Fetcher, RetryPolicy
from crawler.routing import Router
from crawler.rows import EolColumns, row_from, row_size
from crawler.runplan import RunPlan, finish_commit, plan_run, run_state
from crawler.runreport import CrawlReport, RunStatus, check_reconciled, count_outcomes
from crawler.snapshot import MANIFEST, SnapshotWriter

# Re-exported: callers import the run, its report and the spares factor from here.
__all__ = ["SPARES_PER_SLOT", "Crawl", "CrawlReport"]

# Spare workers per request slot (--concurrency), standing in for items that wait out a
# retry backoff (crawler.backlog); the waiting items are bounded by the same number.
SPARES_PER_SLOT: Final = 3


class Crawl:
    """One run. Observe ``counters`` while it runs; call ``stop()`` to end it early."""

    def __init__(self, settings: CrawlSettings, auth: AuthProvider | None = None) -> None:
        self.settings = settings
        self.auth: AuthProvider = auth if auth is not None else NoAuth()
        self.started_at = datetime.now(UTC)  # of the run: a resumed run's is its first session's
        self.started_at_session = self.started_at
        self.run_id: str | None = None  # known once ``run()`` has chosen or created the run
        self.counters = PoolCounters()
        self.control = PoolControl()
        self.loop_watch = LoopWatch()
        self.replayed_items = 0
        self.eol = EolColumns(load_lifecycle(settings.lifecycle_path))
        self._scope: anyio.CancelScope | None = None
        self._stopping = False
        self._client = ImageClient(settings)
        self.limits = RateLimits(settings.rate, settings.rate_per_project)
        self.backlog = Backlog()
        self.fetcher = Fetcher(
            self._client,
            self.auth,
            self.limits,
            RetryPolicy(
                max_attempts=settings.max_attempts,
                max_item_seconds=settings.max_item_seconds,
                backoff_base_s=settings.backoff_base_s,
                backoff_max_s=settings.backoff_max_s,
            ),
            Router(
                settings.compute,
                settings.image,
                settings.api,
                self.auth,
                default_region=settings.region,
            ),
            slots=settings.concurrency,
            backlog=self.backlog,
        )
        self.reader: InputReader | ProjectItems
        self.discovery: Discovery | None = None
        if settings.discovery is None:
            self.reader = InputReader(
                settings.input_path, settings.input_format, shard=settings.shard
            )
            self._work = one_each(self._fetch_row)
        else:
            if settings.resume is not None or settings.shard is not None:
                raise ConfigError(
                    "--discover lists whole projects: it cannot be combined with --resume or"
                    " --shard (split the projects file instead)"
                )
            self.reader = ProjectItems(settings.input_path)
            self.discovery = Discovery(self.fetcher, settings.discovery, self.reader, self.eol.fill)
            self._work = self.discovery.stream

    @property
    def requests(self) -> int:
        return self._client.requests

    def stop(self) -> None:
        """First call: take no new item and give those in flight ``grace_s`` to finish.
        Second call: cancel them now. Either way, what finished is journaled."""
        if self._stopping:
            if self._scope is not None:
                self._scope.cancel()
            return
        self._stopping = True
        self.control.stop_intake()
        if self._scope is not None:
            self._scope.deadline = min(
                self._scope.deadline, anyio.current_time() + self.settings.grace_s
            )

    async def _fetch_row(self, ref: ImageRef) -> Outcome:
        fetched = await self.fetcher.fetch(ref)
        return fetched if isinstance(fetched, ErrorRecord) else row_from(ref, fetched, self.eol)

    async def _open(self, plan: RunPlan) -> SnapshotWriter:
        """Create or reopen the work directory, and line up the input to fetch."""
        formats = self.settings.formats
        if plan.fresh:
            # Read the first lines before creating anything, so a file that is not an ID
            # list (no header, say) fails without leaving a directory behind.
            items = iter(self.reader)
            first = await anyio.to_thread.run_sync(
                lambda: list(itertools.islice(items, READ_BATCH))
            )
            self._items: Iterator[ImageRef | InvalidLine] = itertools.chain(first, items)
            return await anyio.to_thread.run_sync(
                lambda: SnapshotWriter(
                    plan.work_dir, plan.final_dir, formats, run_state=run_state(plan)
                )
            )
        writer = await anyio.to_thread.run_sync(
            lambda: SnapshotWriter(plan.work_dir, plan.final_dir, formats, fresh=False)
        )
        try:
            replayed = await anyio.to_thread.run_sync(writer.replay)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.close)
                writer.release()
            raise
        self.counters.add_replayed(replayed.ok, replayed.by_kind)
        self.replayed_items = replayed.ok + sum(replayed.by_kind.values())
        self.reader.done = replayed.done
        self._items = iter(self.reader)
        return writer

    async def run(self) -> CrawlReport:
        plan = await anyio.to_thread.run_sync(plan_run, self.settings, self.started_at)
        self.run_id, self.started_at = plan.run_id, plan.started_at
        self.eol.as_of = plan.snapshot_date
        if not plan.fresh and (plan.work_dir / MANIFEST).exists():
            report = await anyio.to_thread.run_sync(finish_commit, plan, self.settings.input_path)
            self.counters = report.counters
            return report
        writer = await self._open(plan)
        try:
            return await self._crawl(plan, writer)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.close)
                writer.release()

    async def _crawl(self, plan: RunPlan, writer: SnapshotWriter) -> CrawlReport:
        settings = self.settings
        clock = time.monotonic()
        self._scope = anyio.CancelScope()
        if self._stopping:
            self._scope.deadline = anyio.current_time() + settings.grace_s
        try:
            async with self._client, anyio.create_task_group() as watchers:
                watchers.start_soon(self.loop_watch.run)
                with self._scope:
                    await run_pool(
                        self._items,
                        self._work,
                        writer.write,
                        concurrency=settings.concurrency,
                        backlog=self.backlog,
                        spares=settings.concurrency * SPARES_PER_SLOT,
                        limits=BatchLimits(
                            settings.batch_rows, settings.batch_bytes, settings.flush_interval_s
                        ),
                        row_size=row_size,
                        counters=self.counters,
                        control=self.control,
                    )
                watchers.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            error = sole_exception(group)
            if isinstance(error, CrawlerError):
                error.add_note(
                    f"finished items are journaled in {writer.work_dir};"
                    f" continue with --resume {plan.run_id}"
                )
            raise error from None
        duration = time.monotonic() - clock
        status: RunStatus = "interrupted" if self._stopping else "complete"
        await anyio.to_thread.run_sync(writer.close)
        manifest = self._manifest(plan, writer, status, duration)
        directory = writer.work_dir
        if status == "complete":
            check_reconciled(self.reader.stats, self.counters)
            if plan.identity.input_sha256 not in (None, self.reader.stats.sha256):
                raise SnapshotError(
                    f"{settings.input_path} changed while it was being read; start a new run"
                )
            directory = await anyio.to_thread.run_sync(writer.commit, manifest)
        return CrawlReport(
            status,
            plan.run_id,
            directory,
            manifest,
            self.reader.stats,
            self.counters,
            self._client.requests,
            duration,
        )

    def _manifest(
        self, plan: RunPlan, writer: SnapshotWriter, status: RunStatus, duration: float
    ) -> dict[str, object]:
        stats = self.reader.stats
        finished = datetime.now(UTC)
        shard = self.settings.shard
        return {
            "status": status,
            "run_id": plan.run_id,
            "snapshot_date": plan.snapshot_date.isoformat(),
            "started_at": plan.started_at.isoformat(),
            "finished_at": finished.isoformat(),
            "duration_s": round(duration, 3),
            "tool": {"name": "imagecrawler", "version": __version__},
            "schema_version": SCHEMA_VERSION,
            "input": {
                "path": plan.identity.input_path,
                "format": stats.format,
                "bytes": stats.bytes_read,
                "sha256": stats.sha256 or None,
            },
            "shard": None if shard is None else {"index": shard.index, "count": shard.count},
            "sessions": {
                "count": writer.session,
                "this_session_started_at": self.started_at_session.isoformat(),
                "replayed_items": self.replayed_items,
            },
            "settings": self.settings.public(),
            "auth": {**self.auth.describe(), **self.auth.stats.as_dict()},
            "counts": count_outcomes(stats, self.counters),
            "requests": {
                "total": self._client.requests,
                "by_status": dict(sorted(self._client.by_status.items())),
                "per_second": round(self._client.requests / duration, 1) if duration else 0.0,
                **self.fetcher.stats.as_dict(),
            },
            "routing": self.fetcher.router.stats.as_dict(),
            **(
                {}
                if self.discovery is None
                else {"discovery": self.discovery.stats.as_dict(self._client.requests)}
            ),
            "rate_limit": self.limits.stats.as_dict(),
            "event_loop": self.loop_watch.as_dict(),
        }
