"""Which endpoint and which API answer each image: routes per (project, region), one probe.

Routes come from the options, templates and the Keystone catalog (``crawler.endpoints``) and
are cached per (project, region). With ``--api auto`` a compute endpoint that also has an
image endpoint is probed once: the first request goes to the Nova proxy, and its answer
decides for every later one. A 200 or an image's own 404 keep the proxy; the 404 of a
removed route ("The resource could not be found.", microversion 2.36+) switches that
endpoint to Glance, and the probed item is sent there at once. Other answers (timeouts,
5xx, 401) decide nothing, so the next request probes again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import anyio

from crawler.auth.base import AuthProvider
from crawler.auth.keystone import KeystonePasswordAuth
from crawler.endpoints import (
    Api,
    ApiChoice,
    Route,
    ServiceEndpoints,
    catalog_root,
    missing_endpoint_message,
)
from crawler.errors import ConfigError
from crawler.outcomes import ErrorKind, ErrorRecord, Fetched

Outcome = Fetched | ErrorRecord
SendVia = Callable[[Api, str], Awaitable[Outcome]]


@dataclass(slots=True)
class RoutingStats:
    """For the manifest: probes sent, endpoints switched to Glance, requests by API."""

    probes: int = 0
    switched: list[str] = field(default_factory=list)
    decided: dict[str, str] = field(default_factory=dict)
    by_api: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "probes": self.probes,
            "switched_to_glance": sorted(self.switched),
            "decided": dict(sorted(self.decided.items())),
            "requests_by_api": dict(sorted(self.by_api.items())),
        }


def _check_configured(
    compute: ServiceEndpoints, image: ServiceEndpoints, choice: ApiChoice
) -> None:
    """Without a Keystone catalog the options must name an endpoint the API can use.

    Raises:
        ConfigError: they do not.
    """
    usable = {
        "nova": compute.configured,
        "glance": image.configured,
        "auto": compute.configured or image.configured,
    }[choice]
    if not usable:
        needed = {"nova": "--endpoint", "glance": "--image-endpoint"}.get(
            choice, "--endpoint or --image-endpoint"
        )
        raise ConfigError(
            f"--api {choice} needs {needed} (only Keystone authentication brings a catalog)"
        )


def verdict(outcome: Outcome) -> Api | None:
    """What a proxy request says about the proxy: alive, gone, or nothing yet."""
    if isinstance(outcome, Fetched) or outcome.kind is ErrorKind.NOT_FOUND:
        return "nova"
    if outcome.kind is ErrorKind.API_UNAVAILABLE:
        return "glance"
    return None


class Router:
    """Routes items to endpoints and APIs for one run."""

    def __init__(
        self,
        compute: ServiceEndpoints,
        image: ServiceEndpoints,
        choice: ApiChoice,
        auth: AuthProvider,
        *,
        default_region: str | None = None,
    ) -> None:
        self._compute = compute
        self._image = image
        self._choice = choice
        self._auth = auth
        self._catalog = isinstance(auth, KeystonePasswordAuth)
        self._interface = auth.interface if isinstance(auth, KeystonePasswordAuth) else "public"
        if default_region is None and isinstance(auth, KeystonePasswordAuth):
            default_region = auth.region_name
        self._default_region = default_region
        if not self._catalog:
            _check_configured(compute, image, choice)
        self._routes: dict[tuple[str, str | None], Route | str] = {}
        self._decided: dict[str, Api] = {}  # compute root -> API, once probed
        self._probing: dict[str, anyio.Lock] = {}
        self.stats = RoutingStats()

    def region_of(self, region: str | None) -> str | None:
        return region or self._default_region

    async def route(
        self, session: aiohttp.ClientSession, project_id: str, region: str | None
    ) -> Route | str:
        """The route for a project in a region, or why there is none (a message)."""
        region = self.region_of(region)
        key = (project_id, region)
        found = self._routes.get(key)
        if found is None:
            found = await self._resolve(session, project_id, region)
            self._routes[key] = found
        return found

    async def _resolve(
        self, session: aiohttp.ClientSession, project_id: str, region: str | None
    ) -> Route | str:
        compute = self._compute.root_for(region) if self._choice != "glance" else None
        image = self._image.root_for(region) if self._choice != "nova" else None
        wants_compute = self._choice != "glance" and compute is None
        wants_image = self._choice != "nova" and image is None
        if self._catalog and (wants_compute or wants_image):
            assert isinstance(self._auth, KeystonePasswordAuth)
            catalog = await self._auth.service_catalog(session, project_id)
            if wants_compute:
                compute = catalog_root(catalog, "compute", region, self._interface)
            if wants_image:
                image = catalog_root(catalog, "image", region, self._interface)
        route = Route(compute, image)
        if route.apis(self._choice):
            return route
        if self._choice == "glance":
            return missing_endpoint_message("image", region, "--image-endpoint", self._catalog)
        return missing_endpoint_message("compute", region, "--endpoint", self._catalog)

    async def send(self, route: Route, send_via: SendVia) -> Outcome:
        """Send one attempt the way this route is decided, probing it first if needed."""
        apis = route.apis(self._choice)
        if len(apis) == 1:
            return await self._via(send_via, apis[0], route)
        assert route.compute is not None
        decided = self._decided.get(route.compute)
        if decided is None:
            lock = self._probing.setdefault(route.compute, anyio.Lock())
            async with lock:  # one probe at a time; the others wait for its verdict
                decided = self._decided.get(route.compute)
                if decided is None:
                    self.stats.probes += 1
                    outcome = await self._via(send_via, "nova", route)
                    decided = verdict(outcome)
                    if decided is None:
                        return outcome
                    self._decided[route.compute] = decided
                    self.stats.decided[route.compute] = decided
                    if decided == "nova":
                        return outcome
                    self.stats.switched.append(route.compute)
        return await self._via(send_via, decided, route)

    async def _via(self, send_via: SendVia, api: Api, route: Route) -> Outcome:
        self.stats.by_api[api] = self.stats.by_api.get(api, 0) + 1
        root = route.compute if api == "nova" else route.image
        assert root is not None
        return await send_via(api, root)
