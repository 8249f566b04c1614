"""What can become of one input item: a fetched record, or an error record with its cause.

Pure: values and small constructors only. Every unique input pair ends as exactly one of
these, and every invalid input line as an ``ErrorRecord`` of kind ``invalid_input``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.endpoints import Api


class ErrorKind(StrEnum):
    """Why an item did not become a row. Stable strings: they are written to the outputs."""

    NOT_FOUND = "not_found"  # 404 "Image not found.": it does not exist (or is deleted)
    API_UNAVAILABLE = "api_unavailable"  # 404 for the API itself (route gone, microversion)
    FORBIDDEN = "forbidden"  # 403
    UNAUTHORIZED = "unauthorized"  # 401
    BAD_REQUEST = "bad_request"  # 400, e.g. token scoped to another project
    THROTTLED = "throttled"  # 429, or 413 overLimit
    SERVER_ERROR = "server_error"  # 5xx
    HTTP_ERROR = "http_error"  # any other unexpected status
    TIMEOUT = "timeout"  # connect or read timeout
    CONNECTION = "connection"  # refused, reset, DNS, TLS, truncated body
    INVALID_RESPONSE = "invalid_response"  # 200 whose body is not an image record
    INVALID_INPUT = "invalid_input"  # rejected before any request was built
    NO_ENDPOINT = "no_endpoint"  # no endpoint is configured or catalogued for its region


def kind_for_status(status: int) -> ErrorKind:
    """Classify a non-200 HTTP status."""
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status in (413, 429):
        return ErrorKind.THROTTLED
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    return {
        400: ErrorKind.BAD_REQUEST,
        401: ErrorKind.UNAUTHORIZED,
        403: ErrorKind.FORBIDDEN,
    }.get(status, ErrorKind.HTTP_ERROR)


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One row of the errors table."""

    project_id: str | None
    region: str | None
    image_id: str | None
    kind: ErrorKind
    http_status: int | None
    attempts: int
    message: str
    request_id: str | None
    at: datetime
    retry_after: float | None = field(default=None, compare=False)  # not written

    def to_row(self) -> dict[str, object]:
        return {
            "project_id": self.project_id,
            "region": self.region,
            "image_id": self.image_id,
            "error_kind": self.kind.value,
            "http_status": self.http_status,
            "attempts": self.attempts,
            "message": self.message,
            "request_id": self.request_id,
            "fetched_at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 response whose body decoded as JSON (not yet checked to be an image)."""

    body: object
    request_id: str | None
    attempts: int
    at: datetime
    api: Api = "nova"  # which API answered, so the right flattener reads the body

    def invalid(
        self, project_id: str, region: str | None, image_id: str | None, message: str
    ) -> ErrorRecord:
        """The error record of this 200 when its body is not what was asked for."""
        return ErrorRecord(
            project_id,
            region,
            image_id,
            ErrorKind.INVALID_RESPONSE,
            200,
            self.attempts,
            message,
            self.request_id,
            self.at,
        )


# What is worth another attempt: transient by nature. 400/401/403/404 are answers, not
# accidents (401 gets one re-authentication, handled separately).
RETRYABLE: frozenset[ErrorKind] = frozenset(
    {
        ErrorKind.THROTTLED,
        ErrorKind.SERVER_ERROR,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.INVALID_RESPONSE,
    }
)
