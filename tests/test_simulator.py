"""Tests of the Nova images-proxy simulator, over real loopback HTTP.

Servers run in ``RunningSimulator`` (its own thread and loop) from sync fixtures, so no
task group or cancel scope ever spans pytest-asyncio's fixture setup/teardown tasks; the
one async test of ``serve`` keeps its task inside the test.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.simulator import (
    OS_CATALOG,
    Inventory,
    InventorySpec,
    RunningSimulator,
    SimulatorConfig,
    serve,
    write_id_list,
)
from crawler.simulator.os_catalog import OS_TYPES, PLATFORMS
from tests.http import call

SPEC = InventorySpec(images=3000, projects=6, seed=7)
TOKEN = "s3cret-token"
IMAGE_KEYS = [
    "id", "name", "minRam", "minDisk", "metadata", "created", "updated", "status",
    "progress", "OS-EXT-IMG-SIZE:size", "links",
]  # fmt: skip
BASE_KEYS = {
    "id", "name", "status", "owner", "size", "checksum", "os_hash_algo", "os_hash_value",
    "os_hidden", "container_format", "disk_format", "created_at", "updated_at", "min_ram",
    "min_disk", "visibility", "protected", "virtual_size", "tags", "self", "file", "schema",
}  # fmt: skip
NOT_FOUND = {"itemNotFound": {"code": 404, "message": "Image not found."}}
NO_RESOURCE = {"itemNotFound": {"code": 404, "message": "The resource could not be found."}}
REQ_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = re.compile(r"^20(1[5-9]|2[0-6])-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

fetch = call  # the simulator tests only GET


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as running:
        yield running


@pytest.fixture(scope="module")
def inv(sim: RunningSimulator) -> Inventory:
    return sim.inventory


def find(inv: Inventory, pred: Callable[[dict[str, object]], bool]) -> int:
    """Return the first image index whose Glance record satisfies ``pred``."""
    return next(i for i in range(len(inv)) if pred(inv.glance_record(i)))


def plain_active(rec: dict[str, object]) -> bool:
    return (
        rec["status"] == "active" and "instance_uuid" not in rec and "auto_disk_config" not in rec
    )


def url_of(sim: RunningSimulator, index: int, project: str | None = None, ver: str = "v2.1") -> str:
    owner = project or sim.inventory.owner(index)
    return f"{sim.base_url}/{ver}/{owner}/images/{sim.inventory.image_id(index)}"


def other_project(inv: Inventory, index: int) -> str:
    return next(p for p in inv.projects if p != inv.owner(index))


def test_200_body_fields_and_order(sim: RunningSimulator, inv: Inventory) -> None:
    i = find(inv, plain_active)
    record, owner, image_id = inv.glance_record(i), inv.owner(i), inv.image_id(i)
    status, _, body = fetch(url_of(sim, i))
    assert status == 200
    image = body["image"]
    assert isinstance(image, dict)
    assert list(image) == IMAGE_KEYS
    assert image["id"] == image_id
    assert image["name"] == record["name"]
    assert (image["status"], image["progress"]) == ("ACTIVE", 100)
    assert image["OS-EXT-IMG-SIZE:size"] == (record["size"] or 0)
    assert image["minRam"] == record["min_ram"]
    assert image["minDisk"] == record["min_disk"]
    assert image["metadata"] == {k: v for k, v in record.items() if k not in BASE_KEYS}
    assert image["created"] == record["created_at"]
    assert image["updated"] == record["updated_at"]
    assert image["links"] == [
        {"rel": "self", "href": f"{sim.base_url}/v2.1/{owner}/images/{image_id}"},
        {"rel": "bookmark", "href": f"{sim.base_url}/{owner}/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"http://127.0.0.1:9292/images/{image_id}",
        },
    ]


def test_response_headers(sim: RunningSimulator, inv: Inventory) -> None:
    for url in (
        url_of(sim, find(inv, plain_active)),
        f"{sim.base_url}/v2.1/{inv.projects[0]}/images/x",
    ):
        _, headers, _ = fetch(url)
        assert headers["Content-Type"] == "application/json"
        assert headers["OpenStack-API-Version"] == "compute 2.1"
        assert headers["X-OpenStack-Nova-API-Version"] == "2.1"
        assert headers.get_all("Vary") == ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]
        assert REQ_ID.match(headers["X-Compute-Request-Id"])
        assert headers["X-OpenStack-Request-Id"] == headers["X-Compute-Request-Id"]


def test_v2_route_and_self_link(sim: RunningSimulator, inv: Inventory) -> None:
    i = find(inv, plain_active)
    status, _, body = fetch(url_of(sim, i, ver="v2"))
    assert status == 200
    assert body["image"]["links"][0]["href"].startswith(f"{sim.base_url}/v2/")


def test_server_block(sim: RunningSimulator, inv: Inventory) -> None:
    i = find(inv, lambda r: r["status"] == "active" and "instance_uuid" in r)
    _, _, body = fetch(url_of(sim, i))
    image = body["image"]
    assert isinstance(image, dict)
    server_id, owner = inv.glance_record(i)["instance_uuid"], inv.owner(i)
    assert image["server"] == {
        "id": server_id,
        "links": [
            {"rel": "self", "href": f"{sim.base_url}/v2.1/{owner}/servers/{server_id}"},
            {"rel": "bookmark", "href": f"{sim.base_url}/{owner}/servers/{server_id}"},
        ],
    }


@pytest.mark.parametrize(
    ("value", "expected"), [("True", "AUTO"), ("yes", "AUTO"), ("False", "MANUAL"), ("0", "MANUAL")]
)
def test_disk_config(sim: RunningSimulator, inv: Inventory, value: str, expected: str) -> None:
    i = find(inv, lambda r: r["status"] == "active" and r.get("auto_disk_config") == value)
    _, _, body = fetch(url_of(sim, i))
    assert body["image"]["OS-DCF:diskConfig"] == expected
    assert list(body["image"])[-1] == "OS-DCF:diskConfig"


def test_not_found_bodies(sim: RunningSimulator, inv: Inventory) -> None:
    project = inv.projects[0]
    assert fetch(f"{sim.base_url}/v2.1/{project}/images/{uuid.uuid4()}")[::2] == (404, NOT_FOUND)
    i = find(inv, lambda r: r["status"] == "active" and r["visibility"] == "private")
    stranger = uuid.uuid4().hex  # well-formed project id that owns nothing
    assert fetch(url_of(sim, i, project=stranger))[::2] == (404, NOT_FOUND)
    assert fetch(url_of(sim, i, project="not-a-project"))[::2] == (404, NO_RESOURCE)
    assert fetch(url_of(sim, i, project=project.upper()))[::2] == (404, NO_RESOURCE)


@pytest.mark.parametrize(
    ("header", "value", "status", "echo"),
    [
        ("X-OpenStack-Nova-API-Version", "2.35", 200, "2.35"),
        ("X-OpenStack-Nova-API-Version", "2.36", 404, "2.36"),
        ("X-OpenStack-Nova-API-Version", "latest", 404, "2.104"),
        ("OpenStack-API-Version", "compute 2.20", 200, "2.20"),
        ("OpenStack-API-Version", "compute latest", 404, "2.104"),
        ("X-OpenStack-Nova-API-Version", "2.999", 406, None),
        ("X-OpenStack-Nova-API-Version", "3.0", 406, None),
        ("X-OpenStack-Nova-API-Version", "abc", 400, None),
    ],
)
def test_microversions(
    sim: RunningSimulator, inv: Inventory, header: str, value: str, status: int, echo: str | None
) -> None:
    got, headers, body = fetch(url_of(sim, find(inv, plain_active)), {header: value})
    assert got == status
    if status == 404:
        assert body == NO_RESOURCE
    if status == 406:
        number = value
        assert body == {
            "computeFault": {
                "code": 406,
                "message": f"Version {number} is not supported by the API. "
                "Minimum is 2.1 and maximum is 2.104.",
            }
        }
    if status == 400:
        assert list(body) == ["badRequest"]
        assert body["badRequest"]["code"] == 400
    assert headers.get("X-OpenStack-Nova-API-Version") == echo
    assert headers.get("OpenStack-API-Version") == (echo and f"compute {echo}")


@pytest.mark.parametrize(
    ("glance_status", "nova_status", "progress"),
    [
        ("active", "ACTIVE", 100),
        ("queued", "SAVING", 25),
        ("saving", "SAVING", 50),
        ("killed", "ERROR", 0),
        ("deactivated", "UNKNOWN", 0),
        ("importing", "UNKNOWN", 0),
    ],
)
def test_status_mapping(
    sim: RunningSimulator, inv: Inventory, glance_status: str, nova_status: str, progress: int
) -> None:
    i = find(inv, lambda r: r["status"] == glance_status)
    status, _, body = fetch(url_of(sim, i))
    image = body["image"]
    assert isinstance(image, dict)
    assert (status, image["status"], image["progress"]) == (200, nova_status, progress)
    if glance_status == "queued":
        assert image["OS-EXT-IMG-SIZE:size"] == 0


@pytest.mark.parametrize("glance_status", ["deleted", "pending_delete"])
def test_deleted_images_are_not_found(
    sim: RunningSimulator, inv: Inventory, glance_status: str
) -> None:
    i = find(inv, lambda r: r["status"] == glance_status)
    assert fetch(url_of(sim, i))[::2] == (404, NOT_FOUND)


@pytest.mark.parametrize(
    ("visibility", "status"), [("public", 200), ("private", 404), ("shared", 404)]
)
def test_visibility_from_another_project(
    sim: RunningSimulator, inv: Inventory, visibility: str, status: int
) -> None:
    i = find(inv, lambda r: r["status"] == "active" and r["visibility"] == visibility)
    assert fetch(url_of(sim, i, project=other_project(inv, i)))[0] == status


def test_token_required() -> None:
    config = SimulatorConfig(inventory=SPEC, token=TOKEN, keystone_url="http://keystone.test/v3")
    with RunningSimulator(config) as secured:
        url = url_of(secured, find(secured.inventory, plain_active))
        for headers in ({}, {"X-Auth-Token": "wrong"}):
            status, got, body = fetch(url, headers)
            assert status == 401
            assert body == {
                "error": {
                    "code": 401,
                    "title": "Unauthorized",
                    "message": "The request you have made requires authentication.",
                }
            }
            assert got["WWW-Authenticate"] == 'Keystone uri="http://keystone.test/v3"'
            assert got["Content-Type"] == "application/json"
        assert fetch(url, {"X-Auth-Token": TOKEN})[0] == 200


def test_glance_url_and_latency() -> None:
    config = SimulatorConfig(inventory=SPEC, glance_url="https://ims.test/", latency_ms=60)
    with RunningSimulator(config) as slow:
        i = find(slow.inventory, plain_active)
        started = time.perf_counter()
        _, _, body = fetch(url_of(slow, i))
        assert time.perf_counter() - started >= 0.055
    href = body["image"]["links"][2]["href"]
    assert href == f"https://ims.test/images/{slow.inventory.image_id(i)}"


def test_stats_count_responses(inv: Inventory) -> None:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as fresh:
        i = find(inv, plain_active)
        for _ in range(3):
            fetch(url_of(fresh, i))
        fetch(url_of(fresh, i, project=other_project(inv, i)))
        fetch(f"{fresh.base_url}/v2.1/{inv.projects[0]}/images/{uuid.uuid4()}")
        expected = {"total": 5, "200": 3, "404": 2, "api:nova": 5}
        assert fresh.stats() == expected
        assert fetch(f"{fresh.base_url}/_sim/stats")[::2] == (200, expected)
        assert fresh.stats() == expected  # the stats route is not counted


def test_running_simulator_frees_its_port() -> None:
    with RunningSimulator(SimulatorConfig(inventory=InventorySpec(images=10))) as running:
        port = int(running.base_url.rsplit(":", 1)[1])
        assert fetch(f"{running.base_url}/_sim/stats")[0] == 200
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
async def test_serve_refuses_non_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await serve(SimulatorConfig(), host=host, port=0)


async def test_serve_until_cancelled() -> None:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    config = SimulatorConfig(inventory=InventorySpec(images=5))
    task = asyncio.create_task(serve(config, host="127.0.0.1", port=0, on_ready=ready.set_result))
    try:
        base_url = await asyncio.wait_for(ready, 5)
        assert re.match(r"^http://127\.0\.0\.1:\d+$", base_url)
        assert not base_url.endswith(":0")
        inv = Inventory(config.inventory)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base_url}/v2.1/{inv.owner(0)}/images/{inv.image_id(0)}") as resp,
        ):
            assert resp.status in (200, 404)
            assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


BIG = Inventory(InventorySpec(images=2_000_000, projects=50, seed=3))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(BIG) - 1))
def test_lookup_round_trips(index: int) -> None:
    image_id = BIG.image_id(index)
    assert uuid.UUID(image_id).version == 4
    assert str(uuid.UUID(image_id)) == image_id
    assert BIG.lookup(image_id) == index
    assert BIG.lookup(image_id.upper()) == index


@settings(max_examples=300, deadline=None)
@given(st.uuids(version=4))
def test_lookup_rejects_random_uuids(value: uuid.UUID) -> None:
    assert BIG.lookup(str(value)) is None


def test_large_inventory_costs_no_memory() -> None:
    tracemalloc.start()
    try:
        big = Inventory(InventorySpec(images=2_000_000, projects=20, seed=5))
        for index in range(0, len(big), 99_991):
            assert big.lookup(big.image_id(index)) == index
            big.glance_record(index)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000


def test_lookup_rejects_garbage_and_out_of_range() -> None:
    small = Inventory(InventorySpec(images=10, seed=3))
    assert small.lookup(BIG.image_id(10)) is None  # same seed, index beyond this inventory
    for text in ("", "x" * 36, BIG.image_id(5)[:-1] + "_", BIG.image_id(5) + "0"):
        assert small.lookup(text) is None
    with pytest.raises(IndexError):
        small.image_id(10)


def test_determinism() -> None:
    a, b = Inventory(SPEC), Inventory(SPEC)
    c = Inventory(InventorySpec(images=SPEC.images, projects=SPEC.projects, seed=8))
    assert a.projects == b.projects
    assert all(re.fullmatch(r"[0-9a-f]{32}", p) for p in a.projects)
    assert len(set(a.projects)) == SPEC.projects
    assert [a.glance_record(i) for i in range(50)] == [b.glance_record(i) for i in range(50)]
    assert not {a.image_id(i) for i in range(50)} & {c.image_id(i) for i in range(50)}
    assert not set(a.projects) & set(c.projects)
    assert list(a.iter_pairs())[:50] == [(a.owner(i), a.image_id(i)) for i in range(50)]


def test_inventory_mix(inv: Inventory) -> None:
    records = [inv.glance_record(i) for i in range(len(inv))]
    props = [{k: v for k, v in r.items() if k not in BASE_KEYS} for r in records]
    assert all(isinstance(v, str | None) for p in props for v in p.values())
    assert 0.85 < sum(r["status"] == "active" for r in records) / len(records) < 0.95
    for r in records:
        assert ISO.match(str(r["created_at"]))
        assert ISO.match(str(r["updated_at"]))
        assert str(r["updated_at"]) >= str(r["created_at"])
        assert r["owner"] in inv.projects
        assert (r["visibility"] == "public") == (r["__imagetype"] == "gold")
    names = [r["name"] for r in records if isinstance(r["name"], str)]
    assert any(n[0] in "=-" for n in names)
    assert any(not n.isascii() for n in names)
    assert any("__os_version" not in p for p in props)
    assert any(p.get("__os_type") == "Suse" for p in props)
    assert any(p.get("ramdisk_id", "") is None for p in props)
    assert {r["size"] for r in records} >= {0, None}
    assert {p["virtual_env_type"] for p in props} >= {"FusionCompute", "KVM", "Ironic"}
    assert {p["hw_disk_bus"] for p in props} == {"scsi", "virtio", "ide", "sata"}


def test_os_attributes_consistent(inv: Inventory) -> None:
    by_version = {e.version: e for e in OS_CATALOG}
    for i in range(len(inv)):
        r = inv.glance_record(i)
        if "__os_version" in r:
            entry = by_version[str(r["__os_version"])]
            assert (r["__platform"], r["__os_bit"]) == (entry.platform, entry.bit)
            assert r["__os_type"] in (entry.os_type, "Suse")


def test_catalog_table() -> None:
    versions = [e.version for e in OS_CATALOG]
    assert len(versions) == len(set(versions)) >= 70
    for e in OS_CATALOG:
        assert e.platform in PLATFORMS
        assert e.os_type in OS_TYPES
        assert e.weight > 0
        bit = re.search(r"(32|64) ?bit", e.version)
        assert e.bit == (bit[1] if bit else "64")
    for must in (
        "Redhat Linux Enterprise 7.4 64bit",
        "Red Hat 7.6 64bit",
        "Redhat 7.6 64bit",
        "Ubuntu 16.04.3 Server 64bit",
        "CoreOS 1298.6.0",
        "Other Linux(64 bit)",
        "CentOS 4.4 32bit",
        "Suse Linux Enterprise 12.2 64bit",
        "openEuler 20.03 64bit",
    ):
        assert must in versions


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_write_id_list(tmp_path: Path, fmt: Literal["csv", "jsonl"]) -> None:
    inventory = Inventory(InventorySpec(images=500, projects=4, seed=11))
    path = tmp_path / f"ids.{fmt}"
    assert write_id_list(inventory, path, unknown=25, fmt=fmt) == 525
    lines = path.read_text(encoding="utf-8").splitlines()
    if fmt == "csv":
        assert lines[0] == "project_id,image_id"
        rows = [tuple(line.split(",")) for line in lines[1:]]
    else:
        rows = [(d["project_id"], d["image_id"]) for d in map(json.loads, lines)]
    assert len(rows) == 525
    known = set(inventory.iter_pairs())
    assert known <= set(rows)
    unknown = [row for row in rows if row not in known]
    assert len(set(unknown)) == 25
    assert all(inventory.lookup(image) is None for _, image in unknown)
    assert all(project in inventory.projects for project, _ in unknown)
    assert rows[:20] != list(inventory.iter_pairs())[:20]  # shuffled
    again = tmp_path / "again"
    write_id_list(inventory, again, unknown=25, fmt=fmt)
    assert again.read_bytes() == path.read_bytes()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        SimulatorConfig(latency_ms=-1)
    with pytest.raises(ValueError, match="glance_url"):
        SimulatorConfig(glance_url="ims.test")
    with pytest.raises(ValueError, match="images"):
        InventorySpec(images=-1)
