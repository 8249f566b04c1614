"""The worker pool: one producer, N fetchers and one writer, joined by bounded streams.

    producer ──refs──▶ worker x N ──outcomes──▶ writer ──batches──▶ (worker thread) journal, sinks
        └──────────── invalid lines ────────────────▲
    ticker ─────────── "flush now" every few seconds ───┘

Both streams are bounded, so a slow disk slows the fetchers and a slow API slows the reader:
memory stays flat however long the input. Reading the input and writing batches happen in
worker threads; the event loop only schedules requests. A batch is written when it holds
``batch_rows`` rows or ``batch_bytes`` of row text, or when the ticker says so, so a crash
loses at most a few seconds of work.

``PoolControl.stop_intake()`` is the graceful stop: no fetcher takes another item, the ones in
flight finish, and the writer drains; the caller bounds that with a deadline on its scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Final, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from crawler.backlog import Backlog
from crawler.inputs import ImageRef, InvalidLine
from crawler.outcomes import ErrorKind, ErrorRecord

Row = dict[str, object]
Outcome = Row | ErrorRecord
FetchOne = Callable[[ImageRef], Awaitable[Outcome]]
Emit = Callable[[Outcome], Awaitable[None]]
# Turns one item into any number of outcomes, handing each to ``emit`` as soon as it is ready
# (discovery: one project, many pages of images).
StreamOne = Callable[[ImageRef, Emit], Awaitable[None]]
WriteBatch = Callable[[list[Row], list[Row], list[Row]], None]
RowSize = Callable[[Row], int]


class _FlushNow:
    """The ticker's message to the writer."""


FLUSH_NOW: Final = _FlushNow()

READ_BATCH = 512

T = TypeVar("T")


# anyio's send()/receive() always checkpoint, which costs more per item than the work itself
# at thousands of items per second; the nowait forms skip it and fall back when they must.
async def _receive(stream: MemoryObjectReceiveStream[T]) -> T:
    try:
        return stream.receive_nowait()
    except anyio.WouldBlock:
        return await stream.receive()


async def _send(stream: MemoryObjectSendStream[T], item: T) -> None:
    try:
        stream.send_nowait(item)
    except anyio.WouldBlock:
        await stream.send(item)


class PoolControl:
    """Lets the owner of a running pool stop its intake."""

    def __init__(self) -> None:
        self._intake_open = True
        self._producer: anyio.CancelScope | None = None

    def taking_items(self) -> bool:
        return self._intake_open

    def stop_intake(self) -> None:
        """No item is taken after this; items in flight still finish and are written."""
        self._intake_open = False
        if self._producer is not None:
            self._producer.cancel()


@dataclass(slots=True)
class PoolCounters:
    """Live counts, read by the progress display and copied into the manifest."""

    ok: int = 0
    not_found: int = 0
    failed: int = 0
    invalid: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    written_batches: int = 0

    @property
    def done(self) -> int:
        return self.ok + self.not_found + self.failed + self.invalid

    def add_replayed(self, ok: int, by_kind: Mapping[str, int]) -> None:
        """Count outcomes that an earlier session of the run journaled."""
        self.ok += ok
        for kind, count in by_kind.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + count
            if kind == ErrorKind.NOT_FOUND:
                self.not_found += count
            else:
                self.failed += count

    def add(self, outcome: Outcome) -> None:
        if not isinstance(outcome, ErrorRecord):
            self.ok += 1
            return
        self.by_kind[outcome.kind.value] = self.by_kind.get(outcome.kind.value, 0) + 1
        if outcome.kind is ErrorKind.NOT_FOUND:
            self.not_found += 1
        elif outcome.kind is ErrorKind.INVALID_INPUT:
            self.invalid += 1
        else:
            self.failed += 1


def invalid_record(line: InvalidLine) -> ErrorRecord:
    """The errors-table record of an input line rejected before any request."""
    return ErrorRecord(
        line.project_id,
        line.region,
        line.image_id,
        ErrorKind.INVALID_INPUT,
        http_status=None,
        attempts=0,
        message=line.message,
        request_id=None,
        at=datetime.now(UTC),
    )


async def _produce(
    items: Iterator[ImageRef | InvalidLine],
    refs: MemoryObjectSendStream[ImageRef],
    outcomes: MemoryObjectSendStream[Outcome | _FlushNow],
    control: PoolControl,
) -> None:
    async with refs, outcomes:
        with anyio.CancelScope() as control._producer:
            if not control.taking_items():
                return
            await _produce_all(items, refs, outcomes)


async def _produce_all(
    items: Iterator[ImageRef | InvalidLine],
    refs: MemoryObjectSendStream[ImageRef],
    outcomes: MemoryObjectSendStream[Outcome | _FlushNow],
) -> None:
    while batch := await anyio.to_thread.run_sync(lambda: list(islice(items, READ_BATCH))):
        for item in batch:
            if isinstance(item, InvalidLine):
                await _send(outcomes, invalid_record(item))
            else:
                await _send(refs, item)


def one_each(fetch_one: FetchOne) -> StreamOne:
    """The usual case as a stream: each item has exactly one outcome."""

    async def stream_one(ref: ImageRef, emit: Emit) -> None:
        await emit(await fetch_one(ref))

    return stream_one


async def _work(
    stream_one: StreamOne,
    refs: MemoryObjectReceiveStream[ImageRef],
    outcomes: MemoryObjectSendStream[Outcome | _FlushNow],
    control: PoolControl,
    spare: tuple[Backlog, int] | None = None,
) -> None:
    async def emit(outcome: Outcome) -> None:
        await _send(outcomes, outcome)

    async with refs, outcomes:
        while control.taking_items():
            if spare is not None:  # spare number k: only while k items wait out a backoff
                await spare[0].at_least(spare[1])
            try:
                ref = await _receive(refs)
            except anyio.EndOfStream:
                return
            if not control.taking_items():  # stopped while this worker waited for work
                return
            await stream_one(ref, emit)


async def _tick(outcomes: MemoryObjectSendStream[Outcome | _FlushNow], interval: float) -> None:
    async with outcomes:
        while True:
            await anyio.sleep(interval)
            try:
                outcomes.send_nowait(FLUSH_NOW)
            except anyio.WouldBlock:
                pass  # the writer is behind: it is flushing full batches anyway
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """When the writer hands a batch over: whichever of the three comes first."""

    rows: int
    bytes: int
    seconds: float


async def _write(
    write_batch: WriteBatch,
    outcomes: MemoryObjectReceiveStream[Outcome | _FlushNow],
    counters: PoolCounters,
    limits: BatchLimits,
    row_size: RowSize,
) -> None:
    rows: list[Row] = []
    errors: list[Row] = []
    invalid: list[Row] = []
    size = 0

    async def flush() -> None:
        nonlocal rows, errors, invalid, size
        if rows or errors or invalid:
            batch, rows, errors, invalid, size = (rows, errors, invalid), [], [], [], 0
            await anyio.to_thread.run_sync(write_batch, *batch)
            counters.written_batches += 1

    try:
        async with outcomes:
            while True:
                try:
                    outcome = await _receive(outcomes)
                except anyio.EndOfStream:
                    break
                if outcome is FLUSH_NOW:
                    await flush()
                    continue
                assert not isinstance(outcome, _FlushNow)
                counters.add(outcome)
                if isinstance(outcome, ErrorRecord):
                    target = invalid if outcome.kind is ErrorKind.INVALID_INPUT else errors
                    target.append(outcome.to_row())
                else:
                    rows.append(outcome)
                    size += row_size(outcome)
                if len(rows) + len(errors) + len(invalid) >= limits.rows or size >= limits.bytes:
                    await flush()
    finally:
        # Whatever was fetched reaches the journal and the files, even when the run is
        # being cancelled.
        with anyio.CancelScope(shield=True):
            await flush()


async def run_pool(
    items: Iterator[ImageRef | InvalidLine],
    stream_one: StreamOne,
    write_batch: WriteBatch,
    *,
    concurrency: int,
    limits: BatchLimits,
    row_size: RowSize,
    counters: PoolCounters,
    control: PoolControl | None = None,
    backlog: Backlog | None = None,
    spares: int = 0,
) -> None:
    """Drive every item through ``stream_one`` and hand its outcomes to ``write_batch``.

    ``one_each(fetch)`` makes the usual one-outcome-per-item worker. ``concurrency`` workers
    run, plus up to ``spares`` that stand in for items waiting in ``backlog``.

    Returns when the input is exhausted (or the intake stopped) and every outcome is
    written; cancelling the caller's scope stops it, with outcomes already received still
    written.
    """
    control = control if control is not None else PoolControl()
    ref_send, ref_receive = anyio.create_memory_object_stream[ImageRef](concurrency)
    out_send, out_receive = anyio.create_memory_object_stream[Outcome | _FlushNow](
        max(limits.rows, 4 * concurrency)
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(_write, write_batch, out_receive, counters, limits, row_size)
        async with out_send, anyio.create_task_group() as helpers:
            helpers.start_soon(_tick, out_send.clone(), limits.seconds)
            async with ref_receive, anyio.create_task_group() as workers:
                workers.start_soon(_produce, items, ref_send, out_send.clone(), control)
                for spare in [(backlog, rank) for rank in range(1, spares + 1) if backlog]:
                    workers.start_soon(
                        _work, stream_one, ref_receive.clone(), out_send.clone(), control, spare
                    )
                async with anyio.create_task_group() as regulars:
                    for _ in range(concurrency):
                        regulars.start_soon(
                            _work, stream_one, ref_receive.clone(), out_send.clone(), control
                        )
                if backlog is not None:  # the input is done: spares must see it too, and end
                    backlog.open()
            # Every item has its outcome sent: stop the ticker, so that the writer sees the
            # end of the stream once the last sender closes.
            helpers.cancel_scope.cancel()
