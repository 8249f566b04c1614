"""Glance v2 over the simulator's inventory: ``GET /v2/images`` and ``/v2/images/{id}``.

``GET /v2/images/{image_id}`` answers the Glance image object itself (custom properties at
top level, status lower-case); ``GET /v2/images`` pages through the images the caller
sees as Glance does (API.md 2.1-2.4), with :class:`~crawler.simulator.listing.Listing`
and :func:`~crawler.simulator.listquery.parse_glance_query`.

Who is asking: Glance has no project in its URLs. With a Keystone token the project is the
token's; otherwise (static token, AK/SK, or no auth configured) it is ``X-Project-Id``, the
header keystonemiddleware hands to Glance and Huawei's signed requests carry. Without
either the caller is anonymous and sees public images only, like Glance's
``allow_anonymous_access``. Credentials are checked by the Nova route's :class:`Guard`.

Show answers 404 "No image found with ID <id>" for any image the project does not see
(:meth:`Listing.visible`), and for deleted and pending_delete images; killed ones are shown.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from functools import partial
from typing import Final
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict

from crawler.simulator.config import SimulatorConfig
from crawler.simulator.guard import Guard, credential_of
from crawler.simulator.injector import FaultPlan
from crawler.simulator.listing import Listing
from crawler.simulator.listquery import BadQuery, parse_glance_query
from crawler.simulator.outcomes import answer_fault
from crawler.simulator.ratelimit import Clock
from crawler.simulator.records import uuid4_text
from crawler.simulator.stats import SimulatorStats
from crawler.simulator.tokens import TokenStore

__all__ = ["GlanceRoute", "glance_error"]

_TITLES: Final = {400: "Bad Request", 404: "Not Found"}


def _wants_json(accept: str) -> bool:
    # webob offers text/plain, text/html, application/json in that order: JSON only when
    # it is asked for and nothing that matches text/plain is (q-values are not weighed).
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return "application/json" in types and not types & {"*/*", "text/*", "text/plain"}


def glance_error(status: int, explanation: str, accept: str, headers: CIMultiDict[str]) -> bytes:
    """Return the body of Glance's webob error (and set its content type in ``headers``)."""
    title = _TITLES[status]
    if _wants_json(accept):
        headers["Content-Type"] = "application/json"
        message = f"{explanation}<br /><br />\n\n\n"  # webob's template, nothing filled in
        body = {"message": message, "code": f"{status} {title}", "title": title}
        return json.dumps(body).encode()
    headers["Content-Type"] = "text/plain; charset=UTF-8"
    return f"{status} {title}\n\n{explanation}\n\n   ".encode()


Answer = Callable[[web.Request, str | None, CIMultiDict[str]], tuple[int, bytes]]


class GlanceRoute:
    """``GET /v2/images`` and ``GET /v2/images/{image_id}``, with auth and faults."""

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
        self._tokens = tokens
        self._stats = stats
        self._guard = Guard(config, tokens) if config.auth_required else None
        # Glance is an API of its own: its own buckets and per-item fault counts.
        self._plan = FaultPlan(config.faults, clock) if config.faults.enabled else None
        self._by_credential = config.faults.rate_key == "token"

    async def show(self, request: web.Request) -> web.StreamResponse:
        """Answer ``GET /v2/images/{image_id}``."""
        return await self._serve(request, request.match_info["image_id"], self._show)

    async def index(self, request: web.Request) -> web.StreamResponse:
        """Answer ``GET /v2/images``."""
        return await self._serve(request, "?" + request.query_string, self._index, listing=True)

    def _project_of(self, request: web.Request) -> str | None:
        token = request.headers.get("X-Auth-Token")
        if self._guard is not None and token:
            scoped = self._tokens.project_of(token)
            if scoped is not None:  # keystonemiddleware sets X-Project-Id from the token
                return scoped
        return request.headers.get("X-Project-Id") or None

    async def _serve(
        self, request: web.Request, item: str, answer: Answer, *, listing: bool = False
    ) -> web.StreamResponse:
        config = self._config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        request_id = "req-" + uuid4_text(os.urandom(16))
        headers: CIMultiDict[str] = CIMultiDict(
            {"Content-Type": "application/json", "X-Openstack-Request-Id": request_id}
        )
        project = self._project_of(request)
        if self._guard is not None:
            # The project passed is the one the credentials name, so only 401s come back.
            refusal = await self._guard.check(request, project or "", headers)
            if refusal is not None:
                return refusal
        if listing:
            await self._listing.ready()  # once authenticated: the first list builds the index
        normal = partial(answer, request, project, headers)
        if self._plan is not None:
            credential = credential_of(request.headers) if self._by_credential else ""
            fault = self._plan.decide(project or "", item, credential)
            if fault is not None:
                self._stats.event(f"fault:{fault.kind}")
                return await answer_fault(request, fault, config.faults, headers, normal)
        status, body = normal()
        return web.Response(status=status, body=body, headers=headers)

    def _show(
        self, request: web.Request, project: str | None, headers: CIMultiDict[str]
    ) -> tuple[int, bytes]:
        image_id = request.match_info["image_id"]
        record = self._listing.visible(image_id, project)
        if record is None:
            accept = request.headers.get("Accept", "")
            return 404, glance_error(404, f"No image found with ID {image_id}", accept, headers)
        return 200, json.dumps(record).encode()

    def _index(
        self, request: web.Request, project: str | None, headers: CIMultiDict[str]
    ) -> tuple[int, bytes]:
        try:
            query = parse_glance_query(request.query)
            images = self._listing.page(query, project)
        except BadQuery as exc:
            return 400, glance_error(400, str(exc), request.headers.get("Accept", ""), headers)
        params = [(k, v) for k, v in request.query.items() if k != "marker"]
        query_text = urlencode(params)
        body: dict[str, object] = {
            "images": images,
            "first": "/v2/images" + (f"?{query_text}" if query_text else ""),
            "schema": "/v2/schemas/images",
        }
        if images and len(images) == query.limit:  # a full page: Glance links on
            body["next"] = "/v2/images?" + urlencode([*params, ("marker", images[-1]["id"])])
        return 200, json.dumps(body).encode()
