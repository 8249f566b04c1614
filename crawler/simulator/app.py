"""The simulator as an ``aiohttp.web.Application``.

Serves the deprecated Nova images proxy ``GET /v2[.1]/{project_id}/images/{image_id}`` and
``.../images/detail`` the way Huawei Cloud ECS / Open Telekom Cloud (upstream Nova
underneath) answer them, Glance v2 ``GET /v2/images[/{image_id}]``
(:mod:`crawler.simulator.glance`), all backed by one generated
:class:`~crawler.simulator.inventory.Inventory`, and Keystone's ``POST /v3/auth/tokens``.
Request order on the Nova routes mirrors the real pipeline: request id, then auth (gateway
or keystonemiddleware: 401; Nova's project check: 400), then injected faults and
throttling, then microversion negotiation (400/406), then routing and the controller
(404/400/200). Glance has the same order without microversions.

All routes are registered in :func:`_register_routes`; every response except ``/_sim/*``
is counted in :class:`SimulatorStats`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable
from functools import partial
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from crawler.simulator.config import SimulatorConfig
from crawler.simulator.glance import GlanceRoute
from crawler.simulator.guard import Guard, credential_of
from crawler.simulator.injector import FaultPlan
from crawler.simulator.inventory import Inventory
from crawler.simulator.keystone import KeystoneService
from crawler.simulator.listing import Listing
from crawler.simulator.listquery import BadQuery, parse_nova_query
from crawler.simulator.nova import (
    IMAGE_NOT_FOUND,
    MAX_PROXY_VERSION,
    RESOURCE_NOT_FOUND,
    VersionFault,
    fault_body,
    image_view,
    negotiate_version,
    origin_on_port,
)
from crawler.simulator.outcomes import LostResponse, answer_fault
from crawler.simulator.ratelimit import Clock
from crawler.simulator.records import uuid4_text
from crawler.simulator.stats import SimulatorStats
from crawler.simulator.tokens import TokenStore

__all__ = [
    "CONFIG_KEY",
    "INVENTORY_KEY",
    "STATS_KEY",
    "TOKENS_KEY",
    "SimulatorConfig",
    "SimulatorStats",
    "build_app",
]

_PROJECT_RE = re.compile(r"[0-9a-f]{32}")
_NOVA_MAX_LIMIT = 1000  # [api] max_limit

CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
INVENTORY_KEY = web.AppKey("simulator_inventory", Inventory)
STATS_KEY = web.AppKey("simulator_stats", SimulatorStats)
TOKENS_KEY = web.AppKey("simulator_tokens", TokenStore)


def _add_version_headers(headers: CIMultiDict[str], version: tuple[int, int]) -> None:
    text = f"{version[0]}.{version[1]}"
    headers["OpenStack-API-Version"] = f"compute {text}"
    headers["X-OpenStack-Nova-API-Version"] = text
    headers.add("Vary", "OpenStack-API-Version")
    headers.add("Vary", "X-OpenStack-Nova-API-Version")


# Builds the controller's answer for the request and its (checked) project id.
_Body = Callable[[web.Request, str], tuple[int, bytes]]


class _NovaRoute:
    """``GET /v2[.1]/{project_id}/images/{image_id}`` and ``.../images/detail``, with their
    auth and fault injection."""

    def __init__(
        self,
        config: SimulatorConfig,
        listing: Listing,
        tokens: TokenStore,
        stats: SimulatorStats,
        clock: Clock,
    ) -> None:
        self._config = config
        self._listing = listing
        self._stats = stats
        # None when switched off, so the plain route pays one attribute test for each.
        self._guard = Guard(config, tokens) if config.auth_required else None
        self._plan = FaultPlan(config.faults, clock) if config.faults.enabled else None
        self._by_credential = config.faults.rate_key == "token"

    async def get_image(self, request: web.Request) -> web.StreamResponse:
        """Answer one image request (the route handler)."""
        return await self._serve(request, request.match_info["image_id"], self._image_answer)

    async def list_detail(self, request: web.Request) -> web.StreamResponse:
        """Answer ``GET .../images/detail`` (the route handler)."""
        item = "detail?" + request.query_string
        return await self._serve(request, item, self._detail, listing=True)

    async def _serve(
        self, request: web.Request, item: str, body: _Body, *, listing: bool = False
    ) -> web.StreamResponse:
        config = self._config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        request_id = "req-" + uuid4_text(os.urandom(16))  # cheaper than uuid.uuid4()
        headers: CIMultiDict[str] = CIMultiDict(
            {
                "Content-Type": "application/json",
                "X-Compute-Request-Id": request_id,
                "X-OpenStack-Request-Id": request_id,
            }
        )
        project_id = request.match_info["project_id"]
        if self._guard is not None:
            refusal = await self._guard.check(request, project_id, headers)
            if refusal is not None:
                return refusal
        if listing:
            await self._listing.ready()  # once authenticated: the first list builds the index
        if self._plan is not None:
            credential = credential_of(request.headers) if self._by_credential else ""
            fault = self._plan.decide(project_id, item, credential)
            if fault is not None:
                self._stats.event(f"fault:{fault.kind}")
                answer = partial(self._answer, request, headers, body)
                return await answer_fault(request, fault, config.faults, headers, answer)
        status, content = self._answer(request, headers, body)
        return web.Response(status=status, body=content, headers=headers)

    def _answer(
        self, request: web.Request, headers: CIMultiDict[str], body: _Body
    ) -> tuple[int, bytes]:
        """Return the normal status and body; adds the negotiated version to ``headers``."""
        try:
            version = negotiate_version(request.headers)
        except VersionFault as fault:
            return fault.status, fault.body  # nothing negotiated: no echo
        _add_version_headers(headers, version)
        project_id = request.match_info["project_id"]
        if (
            self._config.proxy_removed
            or version > MAX_PROXY_VERSION
            or not _PROJECT_RE.fullmatch(project_id)
        ):
            return 404, RESOURCE_NOT_FOUND
        return body(request, project_id)

    def _image_answer(self, request: web.Request, project_id: str) -> tuple[int, bytes]:
        """200 with the image; 404 when it is unknown, deleted or not visible."""
        record = self._listing.visible(request.match_info["image_id"], project_id)
        if record is None:
            return 404, IMAGE_NOT_FOUND
        view = self._view(request, project_id, record)
        return 200, json.dumps({"image": view}).encode()

    def _detail(self, request: web.Request, project_id: str) -> tuple[int, bytes]:
        """200 with a page of images and, when the page is full, Nova's next link."""
        try:
            query = parse_nova_query(request.query)
            records = self._listing.page(query, project_id)
        except BadQuery as exc:  # glanceclient's 400 becomes Nova's badRequest
            return 400, fault_body(400, str(exc))
        body: dict[str, object] = {
            "images": [self._view(request, project_id, record) for record in records]
        }
        max_items = min(_NOVA_MAX_LIMIT if query.limit is None else query.limit, _NOVA_MAX_LIMIT)
        if max_items and max_items == len(records):
            params = dict(sorted(request.query.items()))
            params["marker"] = str(records[-1]["id"])
            base = f"{request.scheme}://{request.host}/{request.match_info['version']}"
            href = f"{base}/{project_id}/images/detail?{urlencode(params)}"
            body["images_links"] = [{"rel": "next", "href": href}]
        return 200, json.dumps(body).encode()

    def _view(
        self, request: web.Request, project_id: str, record: dict[str, object]
    ) -> dict[str, object]:
        origin = f"{request.scheme}://{request.host}"
        glance = self._config.glance_url or origin_on_port(origin, 9292)
        return image_view(
            record,
            origin=origin,
            prefix="/" + request.match_info["version"],
            project_id=project_id,
            glance=glance.rstrip("/"),
        )


async def _get_stats(request: web.Request) -> web.Response:
    """``GET /_sim/stats``: the counters as JSON (not counted themselves)."""
    return web.json_response(request.app[STATS_KEY].snapshot())


async def _expire_tokens(request: web.Request) -> web.Response:
    """``POST /_sim/expire-tokens``: invalidate every Keystone token issued so far."""
    return web.json_response({"expired": request.app[TOKENS_KEY].expire_all()})


def _stats_middleware(stats: SimulatorStats) -> Middleware:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        stats.started()
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404/405 for unrouted requests
            stats.record(exc.status)
            raise
        except Exception:
            stats.record(500)
            raise
        finally:
            stats.finished()
        if isinstance(response, LostResponse):
            stats.record_lost(response.outcome)
        else:
            stats.record(response.status)
        stats.event(_api_event(request.path))
        return response

    return count


def _api_event(path: str) -> str:
    """Which API a request went to, so tests can count probes: ``api:glance``, ``api:nova``."""
    if path.startswith("/v2/images"):
        return "api:glance"
    if path.startswith("/v3/"):
        return "api:keystone"
    return "api:nova"


def _register_routes(
    app: web.Application, nova: _NovaRoute, glance: GlanceRoute, keystone: KeystoneService
) -> None:
    # OTC documents both /v2 and /v2.1; Huawei only /v2.1. "detail" before "{image_id}".
    nova_images = r"/{version:v2(?:\.1)?}/{project_id}/images"
    app.router.add_get(f"{nova_images}/detail", nova.list_detail)
    app.router.add_get(nova_images + "/{image_id}", nova.get_image)
    app.router.add_get("/v2/images", glance.index)
    app.router.add_get("/v2/images/{image_id}", glance.show)
    app.router.add_post("/v3/auth/tokens", keystone.issue)
    app.router.add_get("/_sim/stats", _get_stats)
    app.router.add_post("/_sim/expire-tokens", _expire_tokens)


def build_app(config: SimulatorConfig, *, clock: Clock = time.monotonic) -> web.Application:
    """Return the simulator application for ``config``.

    Args:
        config: Simulator settings.
        clock: Monotonic clock of the token buckets; tests pass a fake one.
    """
    stats = SimulatorStats()
    inventory = Inventory(config.inventory)
    tokens = TokenStore(config.faults.token_ttl)
    app = web.Application(middlewares=[_stats_middleware(stats)])
    app[CONFIG_KEY] = config
    app[INVENTORY_KEY] = inventory
    app[STATS_KEY] = stats
    app[TOKENS_KEY] = tokens
    keystone = KeystoneService(
        users=config.users,
        projects=inventory.projects,
        region=config.region,
        tokens=tokens,
        stats=stats,
    )
    listing = Listing(inventory)
    nova = _NovaRoute(config, listing, tokens, stats, clock)
    glance = GlanceRoute(config, listing, tokens, stats, clock)
    _register_routes(app, nova, glance, keystone)
    return app
