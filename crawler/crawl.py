"""One crawl run from input file to committed snapshot: the library entry point.

``Crawl(settings).run()`` reads the ID list, fetches every unique pair through the pool,
writes rows and error records, and commits the snapshot with its manifest. ``stop()`` (wired
to SIGINT/SIGTERM by the CLI) ends it early: no snapshot is published, and the closed,
readable partial files stay in the hidden work directory.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio

from crawler import __version__
from crawler.auth.base import AuthProvider, NoAuth
from crawler.client import NovaImageClient
from crawler.config import CrawlSettings
from crawler.errors import CrawlerError, InvalidRecordError, SnapshotError, sole_exception
from crawler.inputs import STDIN, ImageRef, InputReader, InputStats
from crawler.normalize import SCHEMA_VERSION, flatten_nova_image
from crawler.outcomes import ErrorKind, ErrorRecord, Fetched
from crawler.pool import READ_BATCH, Outcome, PoolCounters, run_pool
from crawler.ratelimit import RateLimits
from crawler.retry import Fetcher, RetryPolicy
from crawler.snapshot import SnapshotWriter, new_run_id

RunStatus = Literal["complete", "interrupted"]


@dataclass(frozen=True, slots=True)
class CrawlReport:
    """What a finished (or stopped) run did; ``manifest`` is what was written to disk."""

    status: RunStatus
    run_id: str
    directory: Path
    manifest: dict[str, object]
    stats: InputStats
    counters: PoolCounters
    requests: int
    duration_s: float

    @property
    def failure_ratio(self) -> float:
        """Share of the distinct inputs (valid or not) that ended neither as a row nor 404."""
        failures = self.counters.failed + self.counters.invalid
        return failures / max(1, self.stats.unique + self.stats.invalid)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def row_from(ref: ImageRef, fetched: Fetched) -> Outcome:
    """Flatten a fetched body, or explain why it is not the image that was asked for."""
    try:
        row = flatten_nova_image(
            fetched.body, project_id=ref.project_id, region=ref.region, fetched_at=fetched.at
        )
    except InvalidRecordError as exc:
        message = str(exc)
    else:
        if row["image_id"] == ref.image_id:
            return row
        message = f"response is for image {row['image_id']!r}, not the one requested"
    return ErrorRecord(
        ref.project_id,
        ref.region,
        ref.image_id,
        ErrorKind.INVALID_RESPONSE,
        200,
        fetched.attempts,
        message,
        fetched.request_id,
        fetched.at,
    )


def count_outcomes(stats: InputStats, counters: PoolCounters) -> dict[str, object]:
    """The manifest's counts section."""
    return {
        "input": stats.records,
        "invalid": stats.invalid,
        "unique": stats.unique,
        "duplicates": stats.duplicates,
        "ok": counters.ok,
        "not_found": counters.not_found,
        "failed": counters.failed,
        "by_kind": dict(sorted(counters.by_kind.items())),
    }


def check_reconciled(stats: InputStats, counters: PoolCounters) -> None:
    """Refuse to publish counts that do not add up: that would be a bug, never bad data."""
    if stats.unique != counters.ok + counters.not_found + counters.failed or (
        stats.records != stats.unique + stats.duplicates + stats.invalid
    ):
        raise SnapshotError(f"counts do not reconcile: {count_outcomes(stats, counters)}")


class Crawl:
    """One run. Observe ``counters`` while it runs; call ``stop()`` to end it early."""

    def __init__(self, settings: CrawlSettings, auth: AuthProvider | None = None) -> None:
        self.settings = settings
        self.auth: AuthProvider = auth if auth is not None else NoAuth()
        self.started_at = datetime.now(UTC)
        self.run_id = new_run_id(self.started_at)
        self.counters = PoolCounters()
        self.reader = InputReader(settings.input_path, settings.input_format)
        self._scope: anyio.CancelScope | None = None
        self._stopping = False
        self._client = NovaImageClient(settings)
        self.limits = RateLimits(settings.rate, settings.rate_per_project)
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
        )

    @property
    def requests(self) -> int:
        return self._client.requests

    def stop(self) -> None:
        """Stop taking items; what was fetched is still written to the partial files."""
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()

    async def _fetch_row(self, ref: ImageRef) -> Outcome:
        fetched = await self.fetcher.fetch(ref)
        return fetched if isinstance(fetched, ErrorRecord) else row_from(ref, fetched)

    async def run(self) -> CrawlReport:
        items = iter(self.reader)
        # Read the first lines before creating anything, so a file that is not an ID list
        # (missing, no header) fails without leaving a directory behind.
        first = await anyio.to_thread.run_sync(lambda: list(itertools.islice(items, READ_BATCH)))
        snapshot = await anyio.to_thread.run_sync(
            SnapshotWriter,
            self.settings.output_dir,
            self.run_id,
            self.started_at.date(),
            self.settings.formats,
        )
        clock = time.monotonic()
        self._scope = anyio.CancelScope()
        if self._stopping:
            self._scope.cancel()
        try:
            async with self._client:
                with self._scope:
                    await run_pool(
                        itertools.chain(first, items),
                        self._fetch_row,
                        snapshot.write,
                        concurrency=self.settings.concurrency,
                        batch_rows=self.settings.batch_rows,
                        counters=self.counters,
                    )
        except BaseExceptionGroup as group:
            error = sole_exception(group)
            if isinstance(error, CrawlerError):
                error.add_note(f"fetched items so far are kept in {snapshot.work_dir}")
            raise error from None
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(snapshot.close)
        duration = time.monotonic() - clock
        status: RunStatus = "interrupted" if self._stopping else "complete"
        manifest = self._manifest(status, duration)
        directory = snapshot.work_dir
        if status == "complete":
            check_reconciled(self.reader.stats, self.counters)
            directory = await anyio.to_thread.run_sync(snapshot.commit, manifest)
        return CrawlReport(
            status,
            self.run_id,
            directory,
            manifest,
            self.reader.stats,
            self.counters,
            self._client.requests,
            duration,
        )

    def _manifest(self, status: RunStatus, duration: float) -> dict[str, object]:
        stats = self.reader.stats
        finished = datetime.now(UTC)
        return {
            "status": status,
            "run_id": self.run_id,
            "snapshot_date": self.started_at.date().isoformat(),
            "started_at": self.started_at.isoformat(),
            "finished_at": finished.isoformat(),
            "duration_s": round(duration, 3),
            "tool": {"name": "imagecrawler", "version": __version__},
            "schema_version": SCHEMA_VERSION,
            "input": {
                "path": "<stdin>" if stats.source == STDIN else str(Path(stats.source).resolve()),
                "format": stats.format,
                "bytes": stats.bytes_read,
                "sha256": stats.sha256 or None,
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
            "rate_limit": self.limits.stats.as_dict(),
        }
