"""Items waiting out a retry backoff, and the spare workers that stand in for them.

A worker whose item waits between attempts sends nothing for seconds. Under a flaky API many
do at once, and the run crawls at a fraction of ``--concurrency``. Spare worker ``k`` takes
items only while at least ``k`` items wait, so the number of workers sending requests stays
near ``--concurrency``; the fetcher's request slots keep it exact. On a healthy API no item
waits and the spares never wake: they cost nothing per request.
"""

from __future__ import annotations

import asyncio


class Backlog:
    """Counts waiting items and wakes spare worker ``k`` when the count reaches ``k``."""

    def __init__(self) -> None:
        self.waiting = 0
        self.max_waiting = 0
        self._gates: dict[int, asyncio.Event] = {}
        self._open = False

    def enter(self) -> None:
        """An item starts waiting (the count only ever steps by one, so gate ``k`` is hit)."""
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        gate = self._gates.pop(self.waiting, None)
        if gate is not None:
            gate.set()

    def leave(self) -> None:
        """The item's wait is over."""
        self.waiting -= 1

    def open(self) -> None:
        """Let every spare through from now on, e.g. to see that the input has ended."""
        self._open = True
        for gate in self._gates.values():
            gate.set()
        self._gates.clear()

    async def at_least(self, count: int) -> None:
        """Return once ``count`` items wait (at once when they already do, or when open)."""
        while not self._open and self.waiting < count:
            await self._gates.setdefault(count, asyncio.Event()).wait()
