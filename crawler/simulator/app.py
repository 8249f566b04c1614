"""The simulator as an ``aiohttp.web.Application``.

Serves the deprecated Nova images proxy ``GET /v2[.1]/{project_id}/images/{image_id}`` the
way Huawei Cloud ECS / Open Telekom Cloud (upstream Nova underneath) answer it, backed by a
generated :class:`~crawler.simulator.inventory.Inventory`. Request order mirrors the real
paste pipeline: request id, then keystonemiddleware (401), then microversion negotiation
(400/406), then routing and the controller (404/200).

All routes are registered in :func:`_register_routes`; every response except ``/_sim/*``
is counted by status in :class:`SimulatorStats`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDict

from crawler.simulator.inventory import Inventory, InventorySpec
from crawler.simulator.nova import (
    IMAGE_NOT_FOUND,
    MAX_PROXY_VERSION,
    RESOURCE_NOT_FOUND,
    UNAUTHORIZED,
    VersionFault,
    image_view,
    negotiate_version,
)
from crawler.simulator.records import uuid4_text

__all__ = [
    "CONFIG_KEY",
    "INVENTORY_KEY",
    "STATS_KEY",
    "SimulatorConfig",
    "SimulatorStats",
    "build_app",
]

_PROJECT_RE = re.compile(r"[0-9a-f]{32}")
_HIDDEN_STATUSES = frozenset({"deleted", "pending_delete"})


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulator behaves.

    Attributes:
        inventory: Shape and seed of the generated images.
        latency_ms: Delay added to every image response; 0 means none.
        token: When set, ``X-Auth-Token`` must equal it, otherwise 401.
        glance_url: Base of the ``alternate`` link; default is the request origin on 9292.
        keystone_url: ``WWW-Authenticate`` URI on 401; default is the request origin on 5000.
    """

    inventory: InventorySpec = field(default_factory=InventorySpec)
    latency_ms: float = 0.0
    token: str | None = None
    glance_url: str | None = None
    keystone_url: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise ValueError(f"latency_ms must be a finite number >= 0, got {self.latency_ms}")
        if self.token == "":
            raise ValueError("token must be None or a non-empty string")
        for name in ("glance_url", "keystone_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")


class SimulatorStats:
    """Counts responses by HTTP status; safe to read from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        self._total = 0

    def record(self, status: int) -> None:
        """Count one response with ``status``."""
        with self._lock:
            self._counts[status] = self._counts.get(status, 0) + 1
            self._total += 1

    def snapshot(self) -> dict[str, int]:
        """Return ``{"total": n, "<status>": count, ...}``."""
        with self._lock:
            snap = {"total": self._total}
            snap.update((str(status), n) for status, n in sorted(self._counts.items()))
        return snap


CONFIG_KEY = web.AppKey("simulator_config", SimulatorConfig)
INVENTORY_KEY = web.AppKey("simulator_inventory", Inventory)
STATS_KEY = web.AppKey("simulator_stats", SimulatorStats)


@lru_cache(maxsize=256)
def _origin_on_port(origin: str, port: int) -> str:
    """Return ``origin`` with its port replaced, e.g. for the default Glance link."""
    scheme, _, host = origin.partition("://")
    if host.startswith("["):  # IPv6 literal: the port follows the closing bracket
        return f"{scheme}://{host[: host.index(']') + 1]}:{port}"
    return f"{scheme}://{host.rpartition(':')[0] or host}:{port}"


def _json(status: int, body: bytes, headers: CIMultiDict[str]) -> web.Response:
    return web.Response(status=status, body=body, headers=headers)


def _add_version_headers(headers: CIMultiDict[str], version: tuple[int, int]) -> None:
    text = f"{version[0]}.{version[1]}"
    headers["OpenStack-API-Version"] = f"compute {text}"
    headers["X-OpenStack-Nova-API-Version"] = text
    headers.add("Vary", "OpenStack-API-Version")
    headers.add("Vary", "X-OpenStack-Nova-API-Version")


async def _get_image(request: web.Request) -> web.Response:
    """``GET /v2[.1]/{project_id}/images/{image_id}``."""
    app = request.app
    config = app[CONFIG_KEY]
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
    origin = f"{request.scheme}://{request.host}"
    if config.token is not None and request.headers.get("X-Auth-Token") != config.token:
        keystone = config.keystone_url or _origin_on_port(origin, 5000)
        headers["WWW-Authenticate"] = f'Keystone uri="{keystone}"'
        return _json(401, UNAUTHORIZED, headers)
    try:
        version = negotiate_version(request.headers)
    except VersionFault as fault:
        return _json(fault.status, fault.body, headers)  # nothing negotiated: no echo
    _add_version_headers(headers, version)
    project_id = request.match_info["project_id"]
    if version > MAX_PROXY_VERSION or not _PROJECT_RE.fullmatch(project_id):
        return _json(404, RESOURCE_NOT_FOUND, headers)
    body = _image_body(request, app[INVENTORY_KEY], origin, project_id)
    return _json(404, IMAGE_NOT_FOUND, headers) if body is None else _json(200, body, headers)


def _image_body(
    request: web.Request, inventory: Inventory, origin: str, project_id: str
) -> bytes | None:
    """Return the 200 body, or None when the image is unknown or not visible."""
    index = inventory.lookup(request.match_info["image_id"])
    if index is None:
        return None
    record = inventory.glance_record(index)
    visible = record["owner"] == project_id or record["visibility"] == "public"
    if not visible or record["status"] in _HIDDEN_STATUSES:
        return None
    glance = request.app[CONFIG_KEY].glance_url or _origin_on_port(origin, 9292)
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
        stats.record(response.status)
        return response

    return count


def _register_routes(app: web.Application) -> None:
    # OTC documents both /v2 and /v2.1; Huawei only /v2.1.
    app.router.add_get(r"/{version:v2(?:\.1)?}/{project_id}/images/{image_id}", _get_image)
    app.router.add_get("/_sim/stats", _get_stats)


def build_app(config: SimulatorConfig) -> web.Application:
    """Return the simulator application for ``config``."""
    stats = SimulatorStats()
    app = web.Application(middlewares=[_stats_middleware(stats)])
    app[CONFIG_KEY] = config
    app[INVENTORY_KEY] = Inventory(config.inventory)
    app[STATS_KEY] = stats
    _register_routes(app)
    return app
