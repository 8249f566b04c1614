"""One exception tree for the whole tool.

::

    CrawlerError                 base; the CLI catches it once and maps it to an exit code
    ├── ConfigError              a setting or flag is invalid (bad endpoint URL, bad --format, ...)
    ├── InputError               the ID list cannot be read at all (missing file, missing column);
    │                            per-line problems are not exceptions but error records
    └── SnapshotError            a snapshot cannot be written or committed

Failures of single requests are never exceptions that escape the pool: the client turns
every aiohttp/JSON failure into a classified ``FetchError`` value (see ``crawler.outcomes``).
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Base class of every error the tool raises on purpose."""

    exit_code = 1


class ConfigError(CrawlerError):
    """Raised when a setting is invalid, before any request is made."""

    exit_code = 2


class InputError(CrawlerError):
    """Raised when an input file cannot be read as an ID list at all.

    The message always starts with ``file:line:`` so editors and CI logs can jump to it.
    """

    exit_code = 2

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class SnapshotError(CrawlerError):
    """Raised when a snapshot directory cannot be prepared, written or committed."""

    exit_code = 3


class InvalidRecordError(CrawlerError):
    """Raised by the pure normalizers when a response body is not an image record at all.

    The client layer turns it into an ``invalid_response`` error record; it never escapes a run.
    """


def sole_exception(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one real error inside nested task-group wrappers, or the group if there are more."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        current = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        else:
            leaves.append(current)
    return leaves[0] if len(leaves) == 1 else group
