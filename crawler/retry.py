"""Retry policy: what is tried again, how long to wait, and when to give up.

Retried: throttling (429, 413 overLimit), 500/502/503/504, timeouts, connection errors and
invalid bodies. Not retried: 400, 403, 404 (answers, not accidents). A 401 gets one
re-authentication and one immediate new attempt. Waits are exponential with full jitter, or
the server's Retry-After when it sent one; an item gives up after ``max_attempts`` or when the
next attempt would start later than ``max_item_seconds`` after its first failure (bounded
twice). An item waiting between attempts holds no request slot (see ``Fetcher``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Final

import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from yarl import URL

from crawler.auth.base import AuthProvider
from crawler.backlog import Backlog
from crawler.client import ImageClient
from crawler.endpoints import Api
from crawler.errors import ConfigError
from crawler.inputs import ImageRef
from crawler.outcomes import RETRYABLE, ErrorKind, ErrorRecord, Fetched
from crawler.ratelimit import RateLimits
from crawler.routing import Router

Outcome = Fetched | ErrorRecord
UrlOf = Callable[[ImageRef, Api, str], URL]

# Before any image answered 200, this many "the API is not here" 404s stop the run: the
# endpoint or its version is wrong, and every further request would be wasted.
API_UNAVAILABLE_LIMIT: Final = 20
PROJECT_HEADER: Final = "X-Project-Id"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds of the retry loop (validated on construction)."""

    max_attempts: int = 6
    max_item_seconds: float = 300.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_item_seconds <= 0:
            raise ConfigError("--max-attempts and --max-item-seconds must be positive")


@dataclass(slots=True)
class RetryStats:
    """Counters for the manifest: every attempt, and each retry by its reason."""

    attempts: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    retried_after_401: int = 0
    gave_up: dict[str, int] = field(default_factory=dict)
    retry_after_waits: int = 0  # waits the server set with Retry-After
    backoff_s: float = 0.0  # total time items spent waiting between attempts
    max_waiting: int = 0  # the most items waiting between attempts at once

    def as_dict(self) -> dict[str, object]:
        return {
            "attempts": self.attempts,
            "retries": dict(sorted(self.retries.items())),
            "retried_after_401": self.retried_after_401,
            "gave_up": dict(sorted(self.gave_up.items())),
            "retry_after_waits": self.retry_after_waits,
            "backoff_s": round(self.backoff_s, 3),
            "max_waiting": self.max_waiting,
        }


@dataclass(slots=True)
class _Item:
    """One item's retry state: attempts made, the credentials last sent, one re-auth.

    ``target`` pins the request to one URL (a list page); without it the item is routed and
    ``url_of`` builds the URL for the API and root chosen (by default the image's own URL).
    """

    ref: ImageRef
    target: tuple[Api, URL] | None = None
    url_of: UrlOf | None = None
    attempts: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    may_reauthenticate: bool = True


def _bump(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1


def _retryable(outcome: Outcome) -> bool:
    return isinstance(outcome, ErrorRecord) and outcome.kind in RETRYABLE


def _last_outcome(state: RetryCallState) -> Outcome:
    """When the bounds stop the loop, the last failure is the item's outcome."""
    assert state.outcome is not None
    result: Outcome = state.outcome.result()
    return result


class Fetcher:
    """Fetches one image with authentication, rate limits and retries."""

    def __init__(
        self,
        client: ImageClient,
        auth: AuthProvider,
        limits: RateLimits,
        policy: RetryPolicy,
        router: Router,
        slots: int | None = None,
        backlog: Backlog | None = None,
    ) -> None:
        self._client = client
        self.router = router
        # At most ``slots`` requests in flight while spare workers stand in for the items in
        # ``backlog`` (see crawler.backlog); uncontended when no item waits.
        self._slots = None if slots is None else asyncio.Semaphore(slots)
        self._backlog = backlog if backlog is not None else Backlog()
        self._auth = auth
        self._limits = limits
        self._policy = policy
        self.stats = RetryStats()
        self._backoff = wait_random_exponential(
            multiplier=policy.backoff_base_s, max=policy.backoff_max_s
        )
        self._ok_seen = False
        self._api_unavailable = 0

    async def fetch(self, ref: ImageRef, url_of: UrlOf | None = None) -> Outcome:
        """Every attempt this image gets; returns the success or the last failure.

        ``url_of(ref, api, root)`` replaces the image URL, e.g. by a project's first list page.
        """
        return await self._fetch(_Item(ref, url_of=url_of))

    async def fetch_url(self, ref: ImageRef, api: Api, url: URL) -> Outcome:
        """Like ``fetch``, for a fixed URL on behalf of ``ref``'s project (a list page)."""
        return await self._fetch(_Item(ref, (api, url)))

    async def _fetch(self, item: _Item) -> Outcome:
        outcome = await self._attempt(item)
        if _retryable(outcome) and self._policy.max_attempts > 1:
            outcome = await self._retry(item, outcome)
        if isinstance(outcome, ErrorRecord) and outcome.kind in RETRYABLE:
            _bump(self.stats.gave_up, outcome.kind.value)
        if item.attempts == outcome.attempts:  # the usual single attempt: no copy
            return outcome
        return dataclasses.replace(outcome, attempts=item.attempts)

    async def _retry(self, item: _Item, first: Outcome) -> Outcome:
        # Most items succeed at once, and building a tenacity loop costs more CPU than the
        # request itself; so the loop starts only after a retryable failure, which it is
        # handed as its own first attempt.
        handed = [first]

        async def attempt() -> Outcome:
            return handed.pop() if handed else await self._attempt(item)

        retrying = AsyncRetrying(
            retry=retry_if_result(_retryable),
            stop=stop_after_attempt(self._policy.max_attempts)
            | stop_before_delay(self._policy.max_item_seconds),
            wait=self._wait,
            sleep=self._wait_out,
            before_sleep=self._count_retry,
            retry_error_callback=_last_outcome,
        )
        outcome: Outcome = await retrying(attempt)
        return outcome

    async def _attempt(self, item: _Item) -> Outcome:
        outcome = await self._send(item)
        if (
            isinstance(outcome, ErrorRecord)
            and outcome.kind is ErrorKind.UNAUTHORIZED
            and item.may_reauthenticate
        ):
            item.may_reauthenticate = False
            if await self._auth.unauthorized(item.ref.project_id, item.headers):
                self.stats.retried_after_401 += 1
                outcome = await self._send(item)
        self._watch_endpoint(outcome)
        return outcome

    async def _send(self, item: _Item) -> Outcome:
        ref = item.ref
        await self._limits.acquire(ref.project_id)
        if item.target is not None:
            outcome = await self._request(item, *item.target)
        else:
            route = await self.router.route(self._client.session, ref.project_id, ref.region)
            if isinstance(route, str):
                return ErrorRecord(
                    ref.project_id,
                    ref.region,
                    ref.image_id,
                    ErrorKind.NO_ENDPOINT,
                    None,
                    item.attempts,
                    route,
                    None,
                    datetime.now(UTC),
                )
            outcome = await self.router.send(route, partial(self._request_image, item))
        if isinstance(outcome, ErrorRecord) and outcome.kind is ErrorKind.THROTTLED:
            self._limits.observe(True, outcome.retry_after)
        else:
            self._limits.observe(False)
        return outcome

    async def _request_image(self, item: _Item, api: Api, root: str) -> Outcome:
        url_of = item.url_of or self._client.url_for
        return await self._request(item, api, url_of(item.ref, api, root))

    async def _wait_out(self, seconds: float) -> None:
        backlog = self._backlog
        backlog.enter()
        self.stats.max_waiting = backlog.max_waiting
        try:
            await anyio.sleep(seconds)
        finally:
            backlog.leave()

    async def _request(self, item: _Item, api: Api, url: URL) -> Outcome:
        if self._slots is None:
            return await self._send_request(item, api, url)
        async with self._slots:
            return await self._send_request(item, api, url)

    async def _send_request(self, item: _Item, api: Api, url: URL) -> Outcome:
        ref = item.ref
        item.headers = await self._auth.headers(self._client.session, "GET", url, ref.project_id)
        if api == "glance" and PROJECT_HEADER not in item.headers:
            # Glance URLs name no project: a token's scope says it, and without one (AK/SK
            # sets it itself, no-auth clouds) the header keystonemiddleware would have set.
            item.headers = {**item.headers, PROJECT_HEADER: ref.project_id}
        item.attempts += 1
        self.stats.attempts += 1
        return await self._client.fetch(ref, url, item.headers, api)

    def _watch_endpoint(self, outcome: Outcome) -> None:
        if isinstance(outcome, Fetched):
            self._ok_seen = True
        elif outcome.kind is ErrorKind.API_UNAVAILABLE and not self._ok_seen:
            self._api_unavailable += 1
            if self._api_unavailable == API_UNAVAILABLE_LIMIT:  # == : one task raises, once
                raise ConfigError(
                    f"the endpoint answered 404 {outcome.message!r} for {self._api_unavailable}"
                    " images and no image at all: the images API is not available there"
                    " (a wrong --endpoint or --image-endpoint; if the cloud removed the Nova"
                    " proxy, give its Glance endpoint with --image-endpoint and --api auto)"
                )

    def _count_retry(self, state: RetryCallState) -> None:
        outcome = state.outcome.result() if state.outcome else None
        if isinstance(outcome, ErrorRecord):
            _bump(self.stats.retries, outcome.kind.value)
            self.stats.retry_after_waits += outcome.retry_after is not None
        self.stats.backoff_s += state.upcoming_sleep

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome.result() if state.outcome else None
        if isinstance(outcome, ErrorRecord) and outcome.retry_after is not None:
            return min(outcome.retry_after, self._policy.max_retry_after_s)
        return float(self._backoff(state))
