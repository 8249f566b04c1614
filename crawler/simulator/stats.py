"""Counters of what the simulator answered, readable from any thread."""

from __future__ import annotations

import threading

__all__ = ["SimulatorStats"]


class SimulatorStats:
    """Counts responses by HTTP status, unanswered requests and named events.

    Unanswered requests are cut connections (``"reset"``) and hung requests whose client
    left first (``"timeout"``); they count in ``total`` but under no status. Events are
    injected faults (``"fault:<kind>"``) and issued Keystone tokens (``"tokens_issued"``);
    they are not responses and do not change ``total``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        self._lost: dict[str, int] = {}
        self._events: dict[str, int] = {}
        self._total = 0
        self._in_flight = 0
        self.max_in_flight = 0  # most requests handled at once (outside snapshot: a gauge)

    def started(self) -> None:
        """A request came in (called on the server's loop, like ``finished``)."""
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def finished(self) -> None:
        """A request was answered, cut or abandoned."""
        self._in_flight -= 1

    def record(self, status: int) -> None:
        """Count one response with ``status``."""
        with self._lock:
            self._counts[status] = self._counts.get(status, 0) + 1
            self._total += 1

    def record_lost(self, outcome: str) -> None:
        """Count one request left unanswered: ``"reset"`` or an abandoned ``"timeout"``."""
        with self._lock:
            self._lost[outcome] = self._lost.get(outcome, 0) + 1
            self._total += 1

    def event(self, name: str) -> None:
        """Count one occurrence of event ``name``."""
        with self._lock:
            self._events[name] = self._events.get(name, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """Return ``{"total": n, "<status>": count, "reset": n, "<event>": n, ...}``.

        Statuses come in numeric order, then unanswered requests, then events, both by
        name; counters that are still 0 are left out.
        """
        with self._lock:
            snap = {"total": self._total}
            snap.update((str(status), n) for status, n in sorted(self._counts.items()))
            snap.update(sorted(self._lost.items()))
            snap.update(sorted(self._events.items()))
        return snap
