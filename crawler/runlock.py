"""An advisory lock that marks a run's work directory as in use by a live process.

The lock is ``flock(LOCK_EX | LOCK_NB)`` on the file ``lock`` inside the work directory. A
flock belongs to the open file, so the kernel drops it when the holder dies, even by
``kill -9``: a lock never outlives its process, and no pid file has to be judged stale.
Locks are advisory and local: they bind only processes that ask, on the same host (NFS and
other network file systems may not honour them).

The lock file is never deleted on release: a process that opened the old file and one that
created a new one could then both hold "the" lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from crawler.errors import SnapshotError

LOCK_NAME: Final = "lock"
# ``is_locked`` takes the lock for a few microseconds; an ``acquire`` that lands in that
# instant retries for this long before it reports the run as in use.
_PROBE_GRACE_S: Final = 0.05


def _try_flock(fd: int) -> bool:
    """Take an exclusive lock without waiting; False if another open file holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class RunLock:
    """Exclusive lock on ``work_dir/lock``; use ``with RunLock(work_dir):`` or acquire/release."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.path = work_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or fail (within 50 ms) if another process holds it.

        Raises:
            SnapshotError: another process holds the lock, or the file cannot be opened.
        """
        if not self.try_acquire():
            raise SnapshotError(f"run {self.work_dir} is in use by another process")

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False if another process holds it.

        Creates the lock file if needed and writes our pid into it.

        Raises:
            SnapshotError: the lock file cannot be opened (e.g. the directory is gone).
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this RunLock")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SnapshotError(f"cannot lock run {self.work_dir}: {exc.strerror}") from exc
        deadline = time.monotonic() + _PROBE_GRACE_S
        while not _try_flock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(0.005)
        self._fd = fd
        with contextlib.suppress(OSError):  # for people looking at the file; nothing reads it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def release(self) -> None:
        """Drop the lock (closing the file drops it). Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def is_locked(work_dir: Path) -> bool:
    """Whether a live process holds the run's lock; False if there is no lock file.

    Probes by taking the lock and dropping it at once. A lock file that exists but cannot
    be opened counts as held: callers use the answer to decide what they may delete.
    """
    try:
        fd = os.open(work_dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        return not _try_flock(fd)
    finally:
        os.close(fd)  # closing also drops the probe's own lock
