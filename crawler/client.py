"""The HTTP client: one aiohttp session, one request in, one classified outcome out.

Foreign exceptions (aiohttp, asyncio timeouts, JSON) are mapped here, at the layer boundary,
to ``ErrorRecord`` values; nothing from a single request escapes as an exception. Policy
(authentication, limits, retries) lives one layer up, in ``crawler.retry``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Final, Self

import aiohttp
from yarl import URL

from crawler import __version__
from crawler.config import CrawlSettings
from crawler.endpoints import Api
from crawler.inputs import ImageRef
from crawler.normalize import jsoncodec
from crawler.outcomes import ErrorKind, ErrorRecord, Fetched, kind_for_status

# The proxy API answers 404 from microversion 2.36 on, so it is pinned (API.md 1.1).
NOVA_API_VERSION: Final = "2.1"
_MESSAGE_LIMIT: Final = 500
_REQUEST_ID: Final = "X-Openstack-Request-Id"
_COMPUTE_REQUEST_ID: Final = "X-Compute-Request-Id"
# The only 404 bodies that mean "this image does not exist" (Nova, and Glance behind it).
# Any other 404 (webob's "The resource could not be found.", API gateway APIGW.0101) means
# the API is not there, which must never be read as deleted images.
_IMAGE_NOT_FOUND: Final = ("Image not found.", "No image found with ID")


def classify_exception(exc: BaseException) -> ErrorKind:
    """Map a request-time exception to an error kind (a test walks aiohttp's whole tree)."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, aiohttp.ContentTypeError):
        return ErrorKind.INVALID_RESPONSE
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status >= 400:
        return kind_for_status(exc.status)
    return ErrorKind.CONNECTION


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """What an error body says."""

    message: str
    request_id: str | None = None
    retry_after: str | None = None


def error_details(body: bytes, status: int) -> ErrorDetails:
    """Read an error body: Nova faults ``{"overLimit": {"message", "retryAfter"}}``, Keystone's
    ``{"error": {"message"}}``, Huawei API gateway ``{"error_msg", "error_code", "request_id"}``,
    webob's ``{"message": "<text><br /><br />...", "code", "title"}`` (Glance).
    """
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if isinstance(decoded, Mapping):
        if isinstance(decoded.get("error_msg"), str):
            code, request_id = decoded.get("error_code"), decoded.get("request_id")
            text = (
                decoded["error_msg"]
                if not isinstance(code, str)
                else f"{code}: {decoded['error_msg']}"
            )
            return ErrorDetails(
                text[:_MESSAGE_LIMIT], request_id if isinstance(request_id, str) else None
            )
        if isinstance(decoded.get("message"), str):  # webob (Glance): {message, code, title}
            text = decoded["message"].split("<br />", 1)[0].strip()
            return ErrorDetails(text[:_MESSAGE_LIMIT] or f"HTTP {status}")
        for fault in decoded.values():
            if isinstance(fault, Mapping) and isinstance(fault.get("message"), str):
                retry = fault.get("retryAfter")
                return ErrorDetails(
                    str(fault["message"])[:_MESSAGE_LIMIT],
                    retry_after=str(retry) if retry is not None else None,
                )
    text = body.decode("utf-8", "replace").strip()
    return ErrorDetails(text[:_MESSAGE_LIMIT] or f"HTTP {status}")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def kind_for_response(status: int, message: str) -> ErrorKind:
    """Classify a non-200 answer; a 404 counts as not_found only with an image's 404 body."""
    if status == 404 and not message.startswith(_IMAGE_NOT_FOUND):
        return ErrorKind.API_UNAVAILABLE
    return kind_for_status(status)


class ImageClient:
    """Sends ``GET {compute}/v2.1/{project_id}/images/{image_id}`` (the Nova proxy) or
    ``GET {image}/v2/images/{image_id}`` (Glance v2) for one run; roots come from routing."""

    def __init__(self, settings: CrawlSettings) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout, sock_read=settings.read_timeout
        )
        self._concurrency = settings.concurrency
        self._verify_tls = settings.verify_tls
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"imagecrawler/{__version__}",
            "X-OpenStack-Nova-API-Version": NOVA_API_VERSION,
        }
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        self.by_status: dict[str, int] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The run's session (also used by authentication to fetch tokens)."""
        assert self._session is not None, "use the client as an async context manager"
        return self._session

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(
            limit=self._concurrency,
            limit_per_host=self._concurrency,
            ttl_dns_cache=300,
            ssl=self._verify_tls,
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

    @staticmethod
    def url_for(ref: ImageRef, api: Api, root: str) -> URL:
        """The image's URL on ``root`` through ``api``."""
        # IDs were validated as hex and UUIDs, so the URL needs no re-encoding (a hot path).
        if api == "glance":
            return URL(f"{root}/v2/images/{ref.image_id}", encoded=True)
        return URL(f"{root}/v2.1/{ref.project_id}/images/{ref.image_id}", encoded=True)

    def _count(self, key: str) -> None:
        self.requests += 1
        self.by_status[key] = self.by_status.get(key, 0) + 1

    async def fetch(
        self,
        ref: ImageRef,
        url: URL,
        headers: Mapping[str, str] | None = None,
        api: Api = "nova",
    ) -> Fetched | ErrorRecord:
        """One attempt; every failure comes back as an ``ErrorRecord`` (attempts=1)."""
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False) as response:
                body = await response.read()
                status = response.status
                found = response.headers
                request_id = found.get(_REQUEST_ID) or found.get(_COMPUTE_REQUEST_ID)
                retry_after_header = found.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._count(type(exc).__name__)
            message = f"{type(exc).__name__}: {exc}"[:_MESSAGE_LIMIT]
            return _error(ref, classify_exception(exc), None, message, None)
        self._count(str(status))
        if status != 200:
            details = error_details(body, status)
            now = datetime.now(UTC)
            wait = parse_retry_after(retry_after_header or details.retry_after, now)
            kind = kind_for_response(status, details.message)
            return _error(
                ref, kind, status, details.message, request_id or details.request_id, wait
            )
        try:
            decoded = jsoncodec.loads(body)
        except ValueError as exc:  # includes UnicodeDecodeError and orjson's error
            message = f"body is not JSON: {exc}"[:_MESSAGE_LIMIT]
            return _error(ref, ErrorKind.INVALID_RESPONSE, status, message, request_id)
        return Fetched(decoded, request_id, attempts=1, at=datetime.now(UTC), api=api)


def _error(
    ref: ImageRef,
    kind: ErrorKind,
    status: int | None,
    message: str,
    request_id: str | None,
    retry_after: float | None = None,
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
        retry_after=retry_after,
    )
