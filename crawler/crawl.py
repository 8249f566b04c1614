"""One crawl run from input file to committed snapshot: the library entry point.

``Crawl(settings).run()`` reads the ID list, fetches every unique pair through the pool,
journals and writes rows and error records, and commits the snapshot with its manifest.
With ``settings.resume`` it continues an interrupted run instead: the journal's items are
copied into the new files and only the rest is fetched.

``stop()`` (wired to SIGINT/SIGTERM by the CLI) ends it gracefully: no item is started after
it, items in flight get ``settings.grace_s`` seconds to finish, everything finished is
journaled, and the run stays resumable; a second ``stop()`` cancels at once. No snapshot is
published by a stopped run.
"""

from __future__ import annotations

import functools
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal

import anyio

from crawler import __version__
from crawler.auth.base import AuthProvider, NoAuth
from crawler.backlog import Backlog
from crawler.client import ImageClient
from crawler.config import CrawlSettings
from crawler.discover.snapshot import Discovery, ProjectItems
from crawler.errors import (
    ConfigError,
    CrawlerError,
    InputError,
    InvalidRecordError,
    SnapshotError,
    sole_exception,
)
from crawler.inputs import STDIN, ImageRef, InputReader, InputStats, InvalidLine
from crawler.lifecycle_data import load_lifecycle
from crawler.loopwatch import LoopWatch
from crawler.normalize import SCHEMA_VERSION, flatten_glance_image, flatten_nova_image
from crawler.normalize.lifecycle import Lifecycle
from crawler.outcomes import ErrorKind, ErrorRecord, Fetched
from crawler.pool import (
    READ_BATCH,
    BatchLimits,
    Outcome,
    PoolControl,
    PoolCounters,
    Row,
    one_each,
    run_pool,
)
from crawler.ratelimit import RateLimits
from crawler.resume import Identity, find_run, identity_of
from crawler.retry import Fetcher, RetryPolicy
from crawler.routing import Router
from crawler.snapshot import (
    MANIFEST,
    SnapshotWriter,
    new_run_id,
    publish,
    read_run_state,
    run_dirs,
    sha256_file,
)

RunStatus = Literal["complete", "interrupted"]
# Spare workers per request slot (--concurrency), standing in for items that wait out a
# retry backoff (crawler.backlog); the waiting items are bounded by the same number.
SPARES_PER_SLOT: Final = 3


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


class EolColumns:
    """Fills ``os_eol_date``/``os_is_eol`` from the lifecycle table as of the snapshot date.

    The distinct (distro, release) pairs of a cloud number in the dozens, so lookups are cached.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.as_of = datetime.now(UTC).date()
        self._status = functools.lru_cache(maxsize=4096)(lifecycle.status)

    def fill(self, row: Row) -> None:
        row["os_eol_date"], row["os_is_eol"] = self._status(
            row["os_distro"], row["os_release"], row["os_major"], self.as_of
        )


def row_from(ref: ImageRef, fetched: Fetched, eol: EolColumns) -> Outcome:
    """Flatten a fetched body, or explain why it is not the image that was asked for."""
    try:
        flatten = flatten_glance_image if fetched.api == "glance" else flatten_nova_image
        row = flatten(
            fetched.body, project_id=ref.project_id, region=ref.region, fetched_at=fetched.at
        )
    except InvalidRecordError as exc:
        message = str(exc)
    else:
        if row["image_id"] == ref.image_id:
            eol.fill(row)
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


def row_size(row: Row) -> int:
    """Rough bytes of one row in a batch: its JSON text dominates, the rest is ~300 bytes."""
    metadata, extra = row.get("metadata_json"), row.get("extra_json")
    return (
        300
        + (len(metadata) if isinstance(metadata, str) else 0)
        + (len(extra) if isinstance(extra, str) else 0)
    )


def count_outcomes(stats: InputStats, counters: PoolCounters) -> dict[str, object]:
    """The manifest's counts section."""
    return {
        "input": stats.records,
        "invalid": stats.invalid,
        "unique": stats.unique,
        "duplicates": stats.duplicates,
        "other_shards": stats.other_shards,
        "resumed": stats.resumed,
        "ok": counters.ok,
        "not_found": counters.not_found,
        "failed": counters.failed,
        "by_kind": dict(sorted(counters.by_kind.items())),
    }


def check_reconciled(stats: InputStats, counters: PoolCounters) -> None:
    """Refuse to publish counts that do not add up: that would be a bug, never bad data."""
    if stats.unique != counters.ok + counters.not_found + counters.failed or (
        stats.records != stats.unique + stats.duplicates + stats.invalid + stats.other_shards
    ):
        raise SnapshotError(f"counts do not reconcile: {count_outcomes(stats, counters)}")


@dataclass(frozen=True, slots=True)
class RunPlan:
    """Which run this session works on, decided before anything is written."""

    run_id: str
    started_at: datetime
    snapshot_date: date
    work_dir: Path
    final_dir: Path
    identity: Identity
    fresh: bool


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

    def _plan(self) -> RunPlan:
        """Hash the input, then pick the run: a new one, or the one ``--resume`` names."""
        settings = self.settings
        source = settings.input_path
        if source == STDIN:
            sha256, size, shown = None, None, "<stdin>"
        else:
            path = Path(source)
            try:
                sha256, size, shown = sha256_file(path), path.stat().st_size, str(path.resolve())
            except OSError as exc:
                raise InputError(source, None, f"cannot open input: {exc.strerror}") from exc
        identity = identity_of(settings, sha256, size, shown)
        work_dir = None
        if settings.resume is not None:
            work_dir = find_run(
                settings.output_dir, settings.resume, identity, datetime.now(UTC).date()
            )
        if work_dir is None:
            run_id = new_run_id(self.started_at)
            work, final = run_dirs(settings.output_dir, run_id, self.started_at.date())
            return RunPlan(
                run_id, self.started_at, self.started_at.date(), work, final, identity, True
            )
        state = read_run_state(work_dir)
        started = datetime.fromisoformat(state["started_at"])
        snapshot_date = date.fromisoformat(state["snapshot_date"])
        work, final = run_dirs(settings.output_dir, state["run_id"], snapshot_date)
        return RunPlan(state["run_id"], started, snapshot_date, work, final, identity, False)

    def _run_state(self, plan: RunPlan) -> dict[str, Any]:
        return {
            "run_id": plan.run_id,
            "snapshot_date": plan.snapshot_date.isoformat(),
            "started_at": plan.started_at.isoformat(),
            "tool": {"name": "imagecrawler", "version": __version__},
            **plan.identity.state(),
        }

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
                    plan.work_dir, plan.final_dir, formats, run_state=self._run_state(plan)
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
        plan = await anyio.to_thread.run_sync(self._plan)
        self.run_id, self.started_at = plan.run_id, plan.started_at
        self.eol.as_of = plan.snapshot_date
        if not plan.fresh and (plan.work_dir / MANIFEST).exists():
            return await anyio.to_thread.run_sync(self._finish_commit, plan)
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

    def _finish_commit(self, plan: RunPlan) -> CrawlReport:
        """Publish a run whose manifest was written before a crash cut its rename short."""
        manifest = json.loads((plan.work_dir / MANIFEST).read_text(encoding="utf-8"))
        directory = publish(plan.work_dir, plan.final_dir)
        counts = manifest["counts"]
        stats = InputStats(
            source=self.settings.input_path,
            records=counts["input"],
            invalid=counts["invalid"],
            unique=counts["unique"],
            duplicates=counts["duplicates"],
            resumed=counts["unique"],
            other_shards=counts["other_shards"],
        )
        counters = PoolCounters(
            ok=counts["ok"],
            not_found=counts["not_found"],
            failed=counts["failed"],
            invalid=counts["invalid"],
            by_kind=dict(counts["by_kind"]),
        )
        self.counters = counters
        return CrawlReport("complete", plan.run_id, directory, manifest, stats, counters, 0, 0.0)

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
