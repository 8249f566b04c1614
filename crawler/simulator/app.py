"""The simulator as an ``aiohttp.web.Application``.

Serves the deprecated Nova images proxy ``GET /v2[.1]/{project_id}/images/{image_id}`` the
way Huawei Cloud ECS / Open Telekom Cloud (upstream Nova underneath) answer it, backed by a
generated :class:`~crawler.simulator.inventory.Inventory`, and Keystone's
``POST /v3/auth/tokens``. Request order on the Nova route mirrors the real pipeline:
request id, then auth (gateway or keystonemiddleware: 401; Nova's project check: 400),
then injected faults and throttling, then microversion negotiation (400/406), then
routing and the controller (404/200).

All routes are registered in :func:`_register_routes`; every response except ``/_sim/*``
is counted in :class:`SimulatorStats`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from functools import partial

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from crawler.simulator.config import SimulatorConfig
from crawler.simulator.guard import Guard, credential_of
from crawler.simulator.injector import FaultPlan
from crawler.simulator.inventory import HIDDEN_STATUSES, Inventory
from crawler.simulator.keystone import KeystoneService
from crawler.simulator.nova import (
    IMAGE_NOT_FOUND,
    MAX_PROXY_VERSION,
    RESOURCE_NOT_FOUND,
    VersionFault,
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


class _NovaRoute:
    """``GET /v2[.1]/{project_id}/images/{image_id}`` with its auth and fault injection."""

    def __init__(
        self,
        config: SimulatorConfig,
        inventory: Inventory,
        tokens: TokenStore,
        stats: SimulatorStats,
        clock: Clock,
    ) -> None:
        self._config = config
        self._inventory = inventory
        self._stats = stats
        # None when switched off, so the plain route pays one attribute test for each.
        self._guard = Guard(config, tokens) if config.auth_required else None
        self._plan = FaultPlan(config.faults, clock) if config.faults.enabled else None
        self._by_credential = config.faults.rate_key == "token"

    async def get_image(self, request: web.Request) -> web.StreamResponse:
        """Answer one image request (the route handler)."""
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
        if self._plan is not None:
            credential = credential_of(request.headers) if self._by_credential else ""
            fault = self._plan.decide(project_id, request.match_info["image_id"], credential)
            if fault is not None:
                self._stats.event(f"fault:{fault.kind}")
                answer = partial(self._answer, request, headers)
                return await answer_fault(request, fault, config.faults, headers, answer)
        status, body = self._answer(request, headers)
        return web.Response(status=status, body=body, headers=headers)

    def _answer(self, request: web.Request, headers: CIMultiDict[str]) -> tuple[int, bytes]:
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
        body = self._image_body(request, project_id)
        return (404, IMAGE_NOT_FOUND) if body is None else (200, body)

    def _image_body(self, request: web.Request, project_id: str) -> bytes | None:
        """Return the 200 body, or None when the image is unknown, deleted or not visible."""
        index = self._inventory.lookup(request.match_info["image_id"])
        if index is None:
            return None
        record = self._inventory.record(index)
        if record is None:  # deleted by the inventory's revision
            return None
        visible = record["owner"] == project_id or record["visibility"] == "public"
        if not visible or record["status"] in HIDDEN_STATUSES:
            return None
        origin = f"{request.scheme}://{request.host}"
        glance = self._config.glance_url or origin_on_port(origin, 9292)
        view = image_view(
            record,
            origin=origin,
            prefix="/" + request.match_info["version"],
            project_id=project_id,
            glance=glance.rstrip("/"),
        )
        return json.dumps({"image": view}).encode()


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
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404/405 for unrouted requests
            stats.record(exc.status)
            raise
        except Exception:
            stats.record(500)
            raise
        if isinstance(response, LostResponse):
            stats.record_lost(response.outcome)
        else:
            stats.record(response.status)
        return response

    return count


def _register_routes(app: web.Application, nova: _NovaRoute, keystone: KeystoneService) -> None:
    # OTC documents both /v2 and /v2.1; Huawei only /v2.1.
    app.router.add_get(r"/{version:v2(?:\.1)?}/{project_id}/images/{image_id}", nova.get_image)
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
    _register_routes(app, _NovaRoute(config, inventory, tokens, stats, clock), keystone)
    return app
