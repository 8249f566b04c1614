"""Client-side mapping of foreign failures, and settings validation (no server needed)."""

from __future__ import annotations

import aiohttp
import pytest

from crawler.client import classify_exception, error_message
from crawler.config import CrawlSettings, normalize_endpoint, parse_formats
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
            ("Image not found.", None),
        ),
        (
            b'{"error_msg": "The throttling threshold has been reached", "error_code": "APIG.0308",'
            b' "request_id": "0af3"}',
            ("APIG.0308: The throttling threshold has been reached", "0af3"),
        ),
        (b'{"error": {"code": 401, "title": "Unauthorized", "message": "Auth."}}', ("Auth.", None)),
        (b"<html>Bad Gateway</html>", ("<html>Bad Gateway</html>", None)),
        (b"", ("HTTP 502", None)),
    ],
)
def test_error_messages_are_read_from_every_known_body_shape(
    body: bytes, expected: tuple[str, str | None]
) -> None:
    assert error_message(body, 502) == expected


@pytest.mark.parametrize(
    ("value", "root"),
    [
        ("https://ecs.eu-de.otc.t-systems.com", "https://ecs.eu-de.otc.t-systems.com"),
        ("https://ecs.eu-de.otc.t-systems.com/v2.1/", "https://ecs.eu-de.otc.t-systems.com"),
        ("http://127.0.0.1:8774/v2.1", "http://127.0.0.1:8774"),
        ("http://127.0.0.1:8774/compute/v2", "http://127.0.0.1:8774/compute"),
    ],
)
def test_endpoint_roots(value: str, root: str) -> None:
    assert normalize_endpoint(value) == root


@pytest.mark.parametrize("value", ["ecs.example.com", "ftp://x", "http://x/?a=1", ""])
def test_bad_endpoints_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError, match="--endpoint"):
        normalize_endpoint(value)


def test_formats_and_secret_free_settings() -> None:
    assert parse_formats("csv, PARQUET") == ("parquet", "csv")
    with pytest.raises(ConfigError):
        parse_formats("xlsx")
    settings = CrawlSettings(endpoint="http://h", input_path="-", auth_token="hunter2")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.public())
    assert settings.public()["auth"] == "token"
