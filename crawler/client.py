"""The HTTP client: one aiohttp session, one request in, one classified outcome out.

Foreign exceptions (aiohttp, asyncio timeouts, JSON) are mapped here, at the layer boundary,
to ``ErrorRecord`` values; nothing from a single request escapes as an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

import aiohttp
from yarl import URL

from crawler import __version__
from crawler.config import CrawlSettings
from crawler.inputs import ImageRef
from crawler.normalize import jsoncodec
from crawler.outcomes import ErrorKind, ErrorRecord, Fetched, kind_for_status

# The proxy API answers 404 from microversion 2.36 on, so it is pinned (API.md 1.1).
NOVA_API_VERSION: Final = "2.1"
_MESSAGE_LIMIT: Final = 500
_REQUEST_ID: Final = "X-Openstack-Request-Id"
_COMPUTE_REQUEST_ID: Final = "X-Compute-Request-Id"


def classify_exception(exc: BaseException) -> ErrorKind:
    """Map a request-time exception to an error kind (a test walks aiohttp's whole tree)."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, aiohttp.ContentTypeError):
        return ErrorKind.INVALID_RESPONSE
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status >= 400:
        return kind_for_status(exc.status)
    return ErrorKind.CONNECTION


def error_message(body: bytes, status: int) -> tuple[str, str | None]:
    """Pull the message (and an API-gateway request id) out of an error body.

    Understands Nova faults ``{"itemNotFound": {"message": ...}}``, Keystone's
    ``{"error": {"message": ...}}`` and Huawei API gateway ``{"error_msg": ..., "request_id"}``.
    """
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if isinstance(decoded, Mapping):
        if isinstance(decoded.get("error_msg"), str):
            code = decoded.get("error_code")
            request_id = decoded.get("request_id")
            text = (
                f"{code}: {decoded['error_msg']}" if isinstance(code, str) else decoded["error_msg"]
            )
            return text[:_MESSAGE_LIMIT], request_id if isinstance(request_id, str) else None
        for fault in decoded.values():
            if isinstance(fault, Mapping) and isinstance(fault.get("message"), str):
                return str(fault["message"])[:_MESSAGE_LIMIT], None
    text = body.decode("utf-8", "replace").strip()
    return (text[:_MESSAGE_LIMIT] or f"HTTP {status}"), None


class NovaImageClient:
    """Fetches ``GET {endpoint}/v2.1/{project_id}/images/{image_id}`` for one run."""

    def __init__(self, settings: CrawlSettings) -> None:
        self._base = settings.endpoint + "/v2.1/"
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout, sock_read=settings.read_timeout
        )
        self._concurrency = settings.concurrency
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"imagecrawler/{__version__}",
            "X-OpenStack-Nova-API-Version": NOVA_API_VERSION,
        }
        if settings.auth_token:
            self._headers["X-Auth-Token"] = settings.auth_token
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.by_status: dict[str, int] = {}

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(
            limit=self._concurrency, limit_per_host=self._concurrency, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, headers=self._headers
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def _count(self, key: str) -> None:
        self.requests += 1
        self.by_status[key] = self.by_status.get(key, 0) + 1

    async def fetch(self, ref: ImageRef) -> Fetched | ErrorRecord:
        """Fetch one image; every failure comes back as an ``ErrorRecord``."""
        assert self._session is not None, "use the client as an async context manager"
        # IDs were validated as hex and UUIDs, so the URL needs no re-encoding (a hot path).
        url = URL(f"{self._base}{ref.project_id}/images/{ref.image_id}", encoded=True)
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                body = await response.read()
                status = response.status
                headers = response.headers
                request_id = headers.get(_REQUEST_ID) or headers.get(_COMPUTE_REQUEST_ID)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._count(type(exc).__name__)
            kind = classify_exception(exc)
            return self._error(
                ref, kind, None, f"{type(exc).__name__}: {exc}"[:_MESSAGE_LIMIT], None
            )
        self._count(str(status))
        if status != 200:
            message, gateway_request_id = error_message(body, status)
            return self._error(
                ref, kind_for_status(status), status, message, request_id or gateway_request_id
            )
        try:
            decoded = jsoncodec.loads(body)
        except ValueError as exc:  # includes UnicodeDecodeError and orjson's error
            return self._error(
                ref, ErrorKind.INVALID_RESPONSE, status, f"body is not JSON: {exc}", request_id
            )
        return Fetched(decoded, request_id, attempts=1, at=datetime.now(UTC))

    @staticmethod
    def _error(
        ref: ImageRef,
        kind: ErrorKind,
        status: int | None,
        message: str,
        request_id: str | None,
    ) -> ErrorRecord:
        return ErrorRecord(
            ref.project_id,
            ref.region,
            ref.image_id,
            kind,
            status,
            attempts=1,
            message=message,
            request_id=request_id,
            at=datetime.now(UTC),
        )
