"""The worker pool: one producer, N fetchers and one writer, joined by bounded streams.

    producer ──refs──▶ fetcher x N ──outcomes──▶ writer ──batches──▶ (worker thread) sinks
        └──────────── invalid lines ────────────────▲

Both streams are bounded, so a slow disk slows the fetchers and a slow API slows the reader:
memory stays flat however long the input. Reading the input and writing batches happen in
worker threads; the event loop only schedules requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from crawler.inputs import ImageRef, InvalidLine
from crawler.outcomes import ErrorKind, ErrorRecord

Row = dict[str, object]
Outcome = Row | ErrorRecord
FetchOne = Callable[[ImageRef], Awaitable[Outcome]]
WriteBatch = Callable[[list[Row], list[Row]], None]

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
    outcomes: MemoryObjectSendStream[Outcome],
) -> None:
    async with refs, outcomes:
        while batch := await anyio.to_thread.run_sync(lambda: list(islice(items, READ_BATCH))):
            for item in batch:
                if isinstance(item, InvalidLine):
                    await _send(outcomes, invalid_record(item))
                else:
                    await _send(refs, item)


async def _fetch(
    fetch_one: FetchOne,
    refs: MemoryObjectReceiveStream[ImageRef],
    outcomes: MemoryObjectSendStream[Outcome],
) -> None:
    async with refs, outcomes:
        while True:
            try:
                ref = await _receive(refs)
            except anyio.EndOfStream:
                return
            await _send(outcomes, await fetch_one(ref))


async def _write(
    write_batch: WriteBatch,
    outcomes: MemoryObjectReceiveStream[Outcome],
    counters: PoolCounters,
    batch_rows: int,
) -> None:
    rows: list[Row] = []
    errors: list[Row] = []

    async def flush() -> None:
        nonlocal rows, errors
        if rows or errors:
            batch, rows, errors = (rows, errors), [], []
            await anyio.to_thread.run_sync(write_batch, *batch)
            counters.written_batches += 1

    try:
        async with outcomes:
            while True:
                try:
                    outcome = await _receive(outcomes)
                except anyio.EndOfStream:
                    break
                counters.add(outcome)
                if isinstance(outcome, ErrorRecord):
                    errors.append(outcome.to_row())
                else:
                    rows.append(outcome)
                if len(rows) + len(errors) >= batch_rows:
                    await flush()
    finally:
        # Whatever was fetched reaches the files, even when the run is being cancelled.
        with anyio.CancelScope(shield=True):
            await flush()


async def run_pool(
    items: Iterator[ImageRef | InvalidLine],
    fetch_one: FetchOne,
    write_batch: WriteBatch,
    *,
    concurrency: int,
    batch_rows: int,
    counters: PoolCounters,
) -> None:
    """Drive every item to exactly one outcome and hand outcomes to ``write_batch``.

    Returns when the input is exhausted and every outcome is written; cancelling the caller's
    scope stops it, with outcomes already received still written.
    """
    ref_send, ref_receive = anyio.create_memory_object_stream[ImageRef](concurrency)
    out_send, out_receive = anyio.create_memory_object_stream[Outcome](
        max(batch_rows, 4 * concurrency)
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(_write, write_batch, out_receive, counters, batch_rows)
        async with ref_receive, out_send:
            for _ in range(concurrency):
                tg.start_soon(_fetch, fetch_one, ref_receive.clone(), out_send.clone())
            tg.start_soon(_produce, items, ref_send, out_send.clone())
