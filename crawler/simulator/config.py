"""The simulator's settings: one frozen value, validated on construction."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crawler.simulator.faults import FaultConfig
from crawler.simulator.inventory import InventorySpec

__all__ = ["SimulatorConfig"]


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulator behaves.

    Auth is required on the Nova route as soon as ``token``, ``users`` or ``aksk`` is set;
    with none of them every request is let through.

    Attributes:
        inventory: Shape and seed of the generated images.
        latency_ms: Delay added to every image response; 0 means none.
        token: Static ``X-Auth-Token`` valid for every project.
        glance_url: Base of the ``alternate`` link; default is the request origin on 9292.
        keystone_url: ``WWW-Authenticate`` URI on 401; default is the request origin on
            5000, or the origin's ``/v3`` when ``users`` makes this simulator the Keystone.
        faults: Fault injection, throttling and token lifetime.
        users: Keystone users of domain ``Default``: name -> password.
        region: Region named in the Keystone catalog.
        aksk: Huawei access keys: AK -> SK, for ``SDK-HMAC-SHA256`` signed requests.
        huawei_errors: Answer expired or invalid tokens like Huawei's API Gateway
            (``APIGW.0307``) instead of keystonemiddleware.
        proxy_removed: Answer every image request 404 as a cloud that retired the proxy.
    """

    inventory: InventorySpec = field(default_factory=InventorySpec)
    latency_ms: float = 0.0
    token: str | None = None
    glance_url: str | None = None
    keystone_url: str | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)
    users: Mapping[str, str] = field(default_factory=dict)
    region: str = "RegionOne"
    aksk: Mapping[str, str] = field(default_factory=dict)
    huawei_errors: bool = False
    proxy_removed: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise ValueError(f"latency_ms must be a finite number >= 0, got {self.latency_ms}")
        if self.token == "":
            raise ValueError("token must be None or a non-empty string")
        for name in ("glance_url", "keystone_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
        for name in ("users", "aksk"):
            mapping = getattr(self, name)
            if any(not key or not value for key, value in mapping.items()):
                raise ValueError(f"{name} must map non-empty names to non-empty secrets")
            # A private read-only copy: the caller's dict cannot change a running simulator.
            object.__setattr__(self, name, _frozen(mapping))
        if not self.region:
            raise ValueError("region must not be empty")

    @property
    def auth_required(self) -> bool:
        """Whether the Nova route checks credentials at all."""
        return self.token is not None or bool(self.users) or bool(self.aksk)
