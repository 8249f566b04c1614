"""Client-side mapping of foreign failures, and settings validation (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from crawler.client import (
    ErrorDetails,
    classify_exception,
    error_details,
    kind_for_response,
    parse_retry_after,
)
from crawler.config import CrawlSettings, parse_formats
from crawler.endpoints import normalize_root
from crawler.errors import ConfigError
from crawler.outcomes import ErrorKind, kind_for_status


def all_subclasses(cls: type[BaseException]) -> list[type[BaseException]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(all_subclasses(sub))
    return found


@pytest.mark.parametrize("cls", all_subclasses(aiohttp.ClientError), ids=lambda c: c.__name__)
def test_every_aiohttp_client_exception_maps_to_an_error_kind(cls: type[BaseException]) -> None:
    # Constructors differ between exception classes; the mapping looks only at the type
    # (and at .status for response errors), so an instance without __init__ is enough.
    exc = cls.__new__(cls)
    if isinstance(exc, aiohttp.ClientResponseError):
        exc.status = 0
    assert isinstance(classify_exception(exc), ErrorKind)


def test_timeouts_and_connection_failures_are_told_apart() -> None:
    assert classify_exception(TimeoutError()) is ErrorKind.TIMEOUT
    assert classify_exception(aiohttp.ServerTimeoutError()) is ErrorKind.TIMEOUT
    assert classify_exception(aiohttp.ServerDisconnectedError()) is ErrorKind.CONNECTION
    assert classify_exception(aiohttp.ClientPayloadError()) is ErrorKind.CONNECTION


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, ErrorKind.NOT_FOUND),
        (401, ErrorKind.UNAUTHORIZED),
        (403, ErrorKind.FORBIDDEN),
        (400, ErrorKind.BAD_REQUEST),
        (429, ErrorKind.THROTTLED),
        (413, ErrorKind.THROTTLED),
        (500, ErrorKind.SERVER_ERROR),
        (503, ErrorKind.SERVER_ERROR),
        (418, ErrorKind.HTTP_ERROR),
    ],
)
def test_status_classification(status: int, kind: ErrorKind) -> None:
    assert kind_for_status(status) is kind


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"itemNotFound": {"code": 404, "message": "Image not found."}}',
            ErrorDetails("Image not found."),
        ),
        (
            b'{"error_msg": "The throttling threshold has been reached", "error_code": "APIG.0308",'
            b' "request_id": "0af3"}',
            ErrorDetails("APIG.0308: The throttling threshold has been reached", "0af3"),
        ),
        (
            b'{"overLimit": {"code": 429, "message": "Slow down", "retryAfter": "7"}}',
            ErrorDetails("Slow down", retry_after="7"),
        ),
        (
            b'{"error": {"code": 401, "title": "Unauthorized", "message": "Auth."}}',
            ErrorDetails("Auth."),
        ),
        (b"<html>Bad Gateway</html>", ErrorDetails("<html>Bad Gateway</html>")),
        (b"", ErrorDetails("HTTP 502")),
    ],
)
def test_error_details_are_read_from_every_known_body_shape(
    body: bytes, expected: ErrorDetails
) -> None:
    assert error_details(body, 502) == expected


NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("Fri, 27 Nov 2026 12:00:42 GMT", 42.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_takes_seconds_or_an_http_date(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (404, "Image not found.", ErrorKind.NOT_FOUND),
        (404, "No image found with ID 70a599e0", ErrorKind.NOT_FOUND),
        (404, "The resource could not be found.", ErrorKind.API_UNAVAILABLE),
        (
            404,
            "APIGW.0101: The API does not exist or has not been published",
            ErrorKind.API_UNAVAILABLE,
        ),
        (429, "x", ErrorKind.THROTTLED),
    ],
)
def test_only_an_image_404_means_not_found(status: int, message: str, kind: ErrorKind) -> None:
    assert kind_for_response(status, message) is kind


@pytest.mark.parametrize(
    ("value", "root"),
    [
        ("https://ecs.eu-de.otc.t-systems.com", "https://ecs.eu-de.otc.t-systems.com"),
        ("https://ecs.eu-de.otc.t-systems.com/v2.1/", "https://ecs.eu-de.otc.t-systems.com"),
        ("http://127.0.0.1:8774/v2.1", "http://127.0.0.1:8774"),
        ("http://127.0.0.1:8774/compute/v2", "http://127.0.0.1:8774/compute"),
        ("https://nova.example.com:8774/v2.1/0123abcd", "https://nova.example.com:8774"),
        ("https://ims.{region}.myhuaweicloud.com/", "https://ims.{region}.myhuaweicloud.com"),
    ],
)
def test_endpoint_roots(value: str, root: str) -> None:
    assert normalize_root(value, "--endpoint") == root


@pytest.mark.parametrize("value", ["ecs.example.com", "ftp://x", "http://x/?a=1", ""])
def test_bad_endpoints_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError, match="--endpoint"):
        normalize_root(value, "--endpoint")


def test_formats() -> None:
    assert parse_formats("csv, PARQUET") == ("parquet", "csv")
    with pytest.raises(ConfigError):
        parse_formats("xlsx")


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [("rate", 0.0, "--rate"), ("rate_per_project", -1.0, "--rate-per-project"),
     ("max_failure_ratio", 1.5, "--max-failure-ratio"), ("concurrency", 0, "--concurrency")],
)  # fmt: skip
def test_settings_name_the_flag_they_reject(field: str, value: float, flag: str) -> None:
    with pytest.raises(ConfigError, match=flag):
        CrawlSettings(endpoint="http://h", input_path="-", **{field: value})  # type: ignore[arg-type]
