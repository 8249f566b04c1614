"""A realistic simulator of the Nova images proxy and Glance v2 as run by Huawei Cloud / OTC.

``GET /v2.1/{project_id}/images/{image_id}`` (and ``/v2/...``, ``.../images/detail``) and
Glance's ``GET /v2/images[/{image_id}]`` are served by a real ``aiohttp.web.Application``
backed by a deterministic generated inventory, for tests, the demo and benchmarks; with
Keystone ``POST /v3/auth/tokens``, project-scoped token and AK/SK checks, and reproducible
fault injection and throttling. Modules:

* ``os_catalog``: documented ``__os_version`` spellings with platform, type and bitness.
* ``records``: one Huawei-flavoured Glance record from random bytes (pure).
* ``inventory``: stateless inventory (ids decode to their index) and id-list files.
* ``revisions``: the inventory's history, night by night: changes, deletions, additions.
* ``nova``: microversions, fault bodies and the Glance -> Nova image view (pure).
* ``config``: :class:`SimulatorConfig`; ``stats``: response and event counters.
* ``faults``: fault settings and profiles; ``injector``: which request gets which fault;
  ``ratelimit``: token buckets; ``outcomes``: answering a fault over HTTP.
* ``gateway``: Huawei API Gateway error bodies.
* ``keystone`` and ``tokens``: ``POST /v3/auth/tokens`` and the issued tokens;
  ``aksk``: Huawei AK/SK signature verification; ``guard``: auth of the Nova route.
* ``listing``: what a project sees and the index lists page through; ``listquery``: list
  query parameters of both APIs; ``glance``: the Glance v2 routes.
* ``app``: the application and its routes.
* ``server``: serving it in the foreground or in a background thread.
"""

from crawler.simulator.app import (
    CONFIG_KEY,
    INVENTORY_KEY,
    STATS_KEY,
    TOKENS_KEY,
    SimulatorConfig,
    SimulatorStats,
    build_app,
)
from crawler.simulator.faults import PROFILES, FaultConfig, parse_faults
from crawler.simulator.inventory import (
    HIDDEN_STATUSES,
    MAX_IMAGES,
    Inventory,
    InventorySpec,
    write_id_list,
)
from crawler.simulator.os_catalog import OS_CATALOG, OsEntry
from crawler.simulator.server import RunningSimulator, check_loopback, serve

__all__ = [
    "CONFIG_KEY",
    "HIDDEN_STATUSES",
    "INVENTORY_KEY",
    "MAX_IMAGES",
    "OS_CATALOG",
    "PROFILES",
    "STATS_KEY",
    "TOKENS_KEY",
    "FaultConfig",
    "Inventory",
    "InventorySpec",
    "OsEntry",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorStats",
    "build_app",
    "check_loopback",
    "parse_faults",
    "serve",
    "write_id_list",
]
