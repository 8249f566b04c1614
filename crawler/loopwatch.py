"""How long the event loop was kept from running: a heartbeat that measures its own lateness."""

from __future__ import annotations

import time
from typing import Final

import anyio

STALL_S: Final = 0.05


class LoopWatch:
    """Sleeps ``interval`` seconds in a loop; any extra time before it wakes is a stall.

    A task that blocks the loop (a disk write, a big parse) delays every wake-up behind it, so
    the longest lateness seen bounds the longest block, give or take one interval.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.max_stall_s = 0.0
        self.stalls = 0  # wake-ups later than STALL_S

    async def run(self) -> None:
        while True:
            before = time.perf_counter()
            await anyio.sleep(self.interval)
            late = time.perf_counter() - before - self.interval
            if late > self.max_stall_s:
                self.max_stall_s = late
            if late > STALL_S:
                self.stalls += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "max_stall_ms": round(self.max_stall_s * 1000, 1),
            f"stalls_over_{int(STALL_S * 1000)}ms": self.stalls,
        }
