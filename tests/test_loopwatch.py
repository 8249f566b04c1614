"""The event-loop stall meter sees a blocking call, and sees nothing when the loop is free."""

from __future__ import annotations

import time

import anyio

from crawler.loopwatch import LoopWatch


async def watch_while(work_s: float, *, block: bool) -> LoopWatch:
    watch = LoopWatch(interval=0.005)
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch.run)
        await anyio.sleep(0.05)
        if block:
            time.sleep(work_s)  # noqa: ASYNC251 (what a disk write on the loop would do)
        else:
            await anyio.to_thread.run_sync(time.sleep, work_s)
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    return watch


async def test_a_blocking_call_on_the_loop_is_measured() -> None:
    watch = await watch_while(0.12, block=True)
    assert 0.11 <= watch.max_stall_s < 0.5
    assert watch.stalls == 1
    assert watch.as_dict()["stalls_over_50ms"] == 1


async def test_work_in_a_thread_does_not_stall_the_loop() -> None:
    watch = await watch_while(0.12, block=False)
    assert watch.max_stall_s < 0.05
    assert watch.stalls == 0
