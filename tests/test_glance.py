"""Glance v2 in the simulator, Nova's ``/images/detail``, and the Glance flattener.

Servers run in ``RunningSimulator`` (own thread and loop) from sync fixtures, as in
``test_simulator``; requests use ``urllib`` (``tests.http``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from crawler.auth.aksk import host_header, sign
from crawler.errors import InvalidRecordError
from crawler.normalize import IMAGES_SCHEMA, flatten_glance_image, flatten_nova_image
from crawler.normalize.flatten import GLANCE_ONLY_COLUMNS
from crawler.normalize.glance import GLANCE_CORE_FIELDS
from crawler.simulator import FaultConfig, Inventory, InventorySpec, RunningSimulator
from crawler.simulator import SimulatorConfig as Config
from crawler.simulator.listing import UNLISTED, Listing, _entry
from crawler.simulator.listquery import ListQuery
from crawler.simulator.nova import _BASE_KEYS
from tests.http import call

SPEC = InventorySpec(images=3000, projects=6, seed=7)
SMALL = InventorySpec(images=400, projects=4, seed=5, revision=2)
AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
JSON = {"Accept": "application/json"}
# Columns whose values depend on which API answered, by design.
T18 = "2018-01-01T00:00:00Z"
PER_API = {"source_api", "fetched_at", "extra_json", *GLANCE_ONLY_COLUMNS}


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with RunningSimulator(Config(inventory=SPEC)) as running:
        yield running


@pytest.fixture(scope="module")
def small() -> Iterator[RunningSimulator]:
    with RunningSimulator(Config(inventory=SMALL)) as running:
        yield running


def glance(
    sim: RunningSimulator, path: str, project: str | None = None, **headers: str
) -> tuple[int, Any]:
    sent = dict(JSON, **headers)
    if project is not None:
        sent["X-Project-Id"] = project
    status, _, body = call(f"{sim.base_url}{path}", sent)
    return status, body


def expected_list(inv: Inventory, project: str | None, descending: bool = True) -> list[str]:
    """Brute force: ids the project sees in a list, in Glance's default order."""
    records = [inv.record(i) for i in range(len(inv))]
    keys = [
        (r["created_at"], r["id"])
        for r in records
        if r is not None
        and r["status"] not in UNLISTED
        and (r["owner"] == project or r["visibility"] == "public")
    ]
    return [image_id for _, image_id in sorted(keys, reverse=descending)]  # type: ignore[type-var]


def follow(sim: RunningSimulator, query: str, project: str | None) -> tuple[list[str], int]:
    """Ids of every page from ``/v2/images?query`` on, following ``next``; and page count."""
    ids: list[str] = []
    path, pages = f"/v2/images?{query}" if query else "/v2/images", 0
    while True:
        status, body = glance(sim, path, project)
        assert status == 200, body
        pages += 1
        assert body["schema"] == "/v2/schemas/images"
        assert "marker" not in dict(parse_qsl(urlsplit(body["first"]).query))
        ids += [image["id"] for image in body["images"]]
        if "next" not in body:
            return ids, pages
        assert pages <= 2000, "next links do not end"
        assert body["next"].startswith("/v2/images?")  # relative, as Glance writes it
        assert dict(parse_qsl(urlsplit(body["next"]).query))["marker"] == ids[-1]
        path = body["next"]


def busiest(inv: Inventory) -> str:
    counts = dict.fromkeys(inv.projects, 0)
    for i in range(len(inv)):
        counts[inv.owner(i)] += 1
    return max(counts, key=counts.__getitem__)


# -- show -------------------------------------------------------------------------------------


def test_show_is_the_glance_record(sim: RunningSimulator) -> None:
    inv = sim.inventory
    i = next(i for i in range(len(inv)) if inv.glance_record(i)["status"] == "active")
    status, body = glance(sim, f"/v2/images/{inv.image_id(i)}", inv.owner(i))
    assert status == 200
    assert body == inv.glance_record(i)
    assert {
        *("id", "name", "status", "visibility", "protected", "os_hidden", "checksum"),
        *("os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_ram"),
        *("min_disk", "container_format", "disk_format", "created_at", "updated_at", "tags"),
        *("self", "file", "schema"),
    } <= set(body)
    assert body["self"] == f"/v2/images/{body['id']}"
    custom = {k: v for k, v in body.items() if k not in GLANCE_CORE_FIELDS}
    assert "__os_type" in custom
    assert all(isinstance(v, str | None) for v in custom.values())


def test_show_headers(sim: RunningSimulator) -> None:
    inv = sim.inventory
    _, headers, _ = call(f"{sim.base_url}/v2/images/{inv.image_id(0)}", JSON)
    assert headers["X-Openstack-Request-Id"].startswith("req-")
    assert headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("killed", 200),  # reachable by id, never listed
        ("deactivated", 200),
        ("deleted", 404),
        ("pending_delete", 404),
    ],
)
def test_show_by_status(sim: RunningSimulator, status: str, code: int) -> None:
    inv = sim.inventory
    i = next(i for i in range(len(inv)) if inv.glance_record(i)["status"] == status)
    got, body = glance(sim, f"/v2/images/{inv.image_id(i)}", inv.owner(i))
    assert got == code
    if code == 200:
        assert body["status"] == status


def test_show_not_found_bodies(sim: RunningSimulator) -> None:
    inv = sim.inventory
    i = next(
        i
        for i in range(len(inv))
        if inv.glance_record(i)["status"] == "active"
        and inv.glance_record(i)["visibility"] == "private"
    )
    image_id = inv.image_id(i)
    stranger = next(p for p in inv.projects if p != inv.owner(i))
    for project in (stranger, None):  # another project; anonymous
        status, body = glance(sim, f"/v2/images/{image_id}", project)
        assert (status, body) == (
            404,
            {
                "message": f"No image found with ID {image_id}<br /><br />\n\n\n",
                "code": "404 Not Found",
                "title": "Not Found",
            },
        )
    request = urllib.request.Request(f"{sim.base_url}/v2/images/{image_id}")  # no Accept
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    with caught.value as err:
        assert err.headers["Content-Type"] == "text/plain; charset=UTF-8"
        assert err.read().decode() == f"404 Not Found\n\nNo image found with ID {image_id}\n\n   "


def test_public_images_are_visible_to_everyone(sim: RunningSimulator) -> None:
    inv = sim.inventory
    i = next(
        i
        for i in range(len(inv))
        if inv.glance_record(i)["visibility"] == "public"
        and inv.glance_record(i)["status"] == "active"
    )
    stranger = next(p for p in inv.projects if p != inv.owner(i))
    for project in (stranger, None):
        assert glance(sim, f"/v2/images/{inv.image_id(i)}", project)[0] == 200


# -- the same image through both APIs ---------------------------------------------------------


def nova_row(sim: RunningSimulator, project: str, image_id: str) -> dict[str, object] | None:
    status, _, body = call(f"{sim.base_url}/v2.1/{project}/images/{image_id}")
    if status != 200:
        return None
    return flatten_nova_image(body, project_id=project, region="eu-de", fetched_at=AT)


def glance_row(sim: RunningSimulator, project: str, image_id: str) -> dict[str, object]:
    status, body = glance(sim, f"/v2/images/{image_id}", project)
    assert status == 200
    return flatten_glance_image(body, project_id=project, region="eu-de", fetched_at=AT)


def test_both_apis_give_the_same_row(sim: RunningSimulator) -> None:
    inv = sim.inventory
    seen_statuses: set[object] = set()
    compared = 0
    for i in range(600):
        project, image_id = inv.owner(i), inv.image_id(i)
        nova = nova_row(sim, project, image_id)
        if nova is None:  # deleted or pending_delete: 404 through both
            assert glance(sim, f"/v2/images/{image_id}", project)[0] == 404
            continue
        row = glance_row(sim, project, image_id)
        assert list(row) == IMAGES_SCHEMA.names
        shared = [name for name in IMAGES_SCHEMA.names if name not in PER_API]
        assert {k: row[k] for k in shared} == {k: nova[k] for k in shared}, image_id
        assert all(nova[name] is None for name in GLANCE_ONLY_COLUMNS)
        assert (row["source_api"], nova["source_api"]) == ("glance", "nova-proxy")
        seen_statuses.add(inv.glance_record(i)["status"])
        compared += 1
    assert compared > 500
    assert seen_statuses >= {"active", "queued", "saving", "killed", "deactivated"}


def test_glance_only_columns(sim: RunningSimulator) -> None:
    inv = sim.inventory
    i = next(i for i in range(len(inv)) if inv.glance_record(i)["status"] == "active")
    record = inv.glance_record(i)
    row = glance_row(sim, inv.owner(i), inv.image_id(i))
    assert (row["visibility"], row["owner"], row["disk_format"]) == (
        record["visibility"],
        record["owner"],
        record["disk_format"],
    )
    assert (row["container_format"], row["checksum"], row["protected"]) == (
        "bare",
        record["checksum"],
        record["protected"],
    )
    assert (row["virtual_size_bytes"], row["tags_json"]) == (None, "[]")
    extra = json.loads(str(row["extra_json"]))
    assert extra["os_hidden"] is False
    assert "self" not in extra


def test_core_fields_match_the_nova_simulator() -> None:
    assert GLANCE_CORE_FIELDS == _BASE_KEYS


# -- listing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 25, 1000, None])
def test_pages_cover_the_visible_inventory(small: RunningSimulator, limit: int | None) -> None:
    inv = small.inventory
    project = inv.projects[1]
    want = expected_list(inv, project)
    ids, pages = follow(small, "" if limit is None else f"limit={limit}", project)
    assert ids == want
    assert len(ids) == len(set(ids))
    per_page = 25 if limit is None else limit
    # a next link on every full page: one more (empty) request when the last page is full
    assert pages == len(want) // per_page + 1


def test_lists_exclude_killed_and_deleted_but_keep_the_rest(small: RunningSimulator) -> None:
    inv = small.inventory
    project = inv.projects[0]
    ids = set(follow(small, "limit=1000", project)[0])
    statuses = {}
    for i in range(len(inv)):
        record = inv.record(i)
        if record is not None and record["owner"] == project:
            statuses[record["id"]] = record["status"]
    assert {s for k, s in statuses.items() if k in ids} >= {"active"}
    assert not {s for k, s in statuses.items() if k in ids} & UNLISTED
    assert {k for k, s in statuses.items() if s not in UNLISTED} <= ids
    deleted = [i for i in range(len(inv)) if inv.record(i) is None]
    assert deleted  # the revision deleted some
    assert not {inv.image_id(i) for i in deleted} & ids


def test_first_and_next_keep_the_query(small: RunningSimulator) -> None:
    project = small.inventory.projects[1]
    status, body = glance(small, "/v2/images?visibility=public&limit=2", project)
    assert status == 200
    assert body["first"] == "/v2/images?visibility=public&limit=2"
    marker = body["images"][-1]["id"]
    assert body["next"] == f"/v2/images?visibility=public&limit=2&marker={marker}"
    assert list(body) == ["images", "first", "schema", "next"]
    _, after = glance(small, body["next"], project)
    assert after["first"] == body["first"]


def test_empty_results_have_no_next() -> None:
    with RunningSimulator(Config(inventory=InventorySpec(images=0))) as empty:
        assert glance(empty, "/v2/images") == (
            200,
            {"images": [], "first": "/v2/images", "schema": "/v2/schemas/images"},
        )


def test_project_that_owns_nothing(small: RunningSimulator) -> None:
    status, body = glance(small, "/v2/images?visibility=private", "0" * 32)
    assert (status, body["images"], "next" in body) == (200, [], False)
    anonymous = follow(small, "limit=1000", None)[0]
    assert anonymous == expected_list(small.inventory, None)  # public only


def test_limit_is_capped_at_1000(sim: RunningSimulator) -> None:
    project = busiest(sim.inventory)
    want = expected_list(sim.inventory, project)
    assert len(want) > 1000
    status, body = glance(sim, "/v2/images?limit=5000", project)
    assert status == 200
    assert [image["id"] for image in body["images"]] == want[:1000]
    assert body["next"] == f"/v2/images?limit=5000&marker={want[999]}"
    _, default = glance(sim, "/v2/images", project)
    assert [image["id"] for image in default["images"]] == want[:25]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("marker=00000000-0000-4000-8000-000000000000",
         "No image found with ID 00000000-0000-4000-8000-000000000000"),
        ("marker=not-a-uuid", "No image found with ID not-a-uuid"),
        ("limit=abc", "limit param must be an integer"),
        ("limit=-1", "limit param must be positive"),
        ("visibility=everyone", "Invalid visibility value: everyone"),
        ("status=gone", "Invalid status value: gone"),
        ("sort_dir=up", "Invalid sort direction: up"),
        ("protected=maybe",
         "Invalid value 'maybe' for 'protected' filter. Valid values are 'true' or 'false'."),
        ("updated_at=after:2020-01-01T00:00:00Z",
         "Unable to filter on a unknown operator 'after'."),
    ],
)  # fmt: skip
def test_bad_queries_are_400(small: RunningSimulator, query: str, message: str) -> None:
    status, body = glance(small, f"/v2/images?{query}", small.inventory.projects[0])
    assert (status, body) == (
        400,
        {
            "message": f"{message}<br /><br />\n\n\n",
            "code": "400 Bad Request",
            "title": "Bad Request",
        },
    )


def test_markers_that_are_not_visible_are_400(small: RunningSimulator) -> None:
    inv = small.inventory
    project = inv.projects[0]
    private = next(
        i
        for i in range(len(inv))
        if (r := inv.record(i)) is not None
        and r["visibility"] == "private"
        and r["owner"] != project
        and r["status"] == "active"
    )
    deleted = next(i for i in range(len(inv)) if inv.record(i) is None)
    for i in (private, deleted):
        assert glance(small, f"/v2/images?marker={inv.image_id(i)}", project)[0] == 400


def test_killed_marker_continues_after_its_place(small: RunningSimulator) -> None:
    inv = small.inventory
    i = next(
        i for i in range(len(inv)) if (r := inv.record(i)) is not None and r["status"] == "killed"
    )
    project = inv.owner(i)
    record = inv.glance_record(i)
    after = [
        image_id
        for image_id in expected_list(inv, project)
        if (str(inv.glance_record(inv.lookup(image_id) or 0)["created_at"]), image_id)
        < (str(record["created_at"]), str(record["id"]))
    ]
    ids = follow(small, f"limit=1000&marker={record['id']}", project)[0]
    assert ids == after


def test_ascending_order(small: RunningSimulator) -> None:
    project = small.inventory.projects[2]
    ids = follow(small, "limit=7&sort_dir=asc", project)[0]
    assert ids == expected_list(small.inventory, project, descending=False)
    assert follow(small, "limit=7&sort=created_at:asc", project)[0] == ids


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("status=active", lambda r: r["status"] == "active"),
        ("status=in:queued,saving", lambda r: r["status"] in ("queued", "saving")),
        ("status=killed", lambda r: False),
        ("visibility=public", lambda r: r["visibility"] == "public"),
        ("visibility=shared", lambda r: r["visibility"] == "shared"),
        ("updated_at=gt:2024-06-01T00:00:00Z", lambda r: r["updated_at"] > "2024-06-01T00:00:00Z"),
        (f"created_at=lte:{T18}", lambda r: r["created_at"] <= T18),
        ("__os_type=Windows", lambda r: r.get("__os_type") == "Windows"),
        ("__platform=Ubuntu&__os_bit=64",
         lambda r: r.get("__platform") == "Ubuntu" and r.get("__os_bit") == "64"),
        ("hw_disk_bus=virtio", lambda r: r.get("hw_disk_bus") == "virtio"),
        ("disk_format=in:qcow2,raw", lambda r: r["disk_format"] in ("qcow2", "raw")),
        ("protected=true", lambda r: r["protected"] is True),
        ("size_min=1", lambda r: isinstance(r["size"], int) and r["size"] >= 1),
        ("tag=x", lambda r: False),
        ("os_hidden=true", lambda r: False),
        ("changes-since=2020-01-01T00:00:00Z", lambda r: False),  # not a Glance v2 filter
    ],
)  # fmt: skip
def test_filters(small: RunningSimulator, query: str, keep: Any) -> None:
    inv = small.inventory
    project = inv.projects[1]
    want = [
        image_id
        for image_id in expected_list(inv, project)
        if keep(inv.record(inv.lookup(image_id) or 0))
    ]
    assert follow(small, f"{query}&limit=10", project)[0] == want


def test_owner_filter(small: RunningSimulator) -> None:
    inv = small.inventory
    me, other = inv.projects[1], inv.projects[0]
    mine = follow(small, f"owner={me}&limit=50", me)[0]
    assert mine == [i for i in expected_list(inv, me) if inv.owner(inv.lookup(i) or 0) == me]
    theirs = follow(small, f"owner={other}&limit=50", me)[0]
    assert theirs
    assert all(inv.glance_record(inv.lookup(i) or 0)["visibility"] == "public" for i in theirs)


def test_index_matches_the_records_with_revisions_and_ties() -> None:
    inv = Inventory(InventorySpec(images=12_000, projects=3, seed=9, revision=1))
    records = [inv.record(i) for i in range(len(inv))]
    for i, record in enumerate(records):  # the cheap entry agrees with the full record
        entry = _entry(inv, i)
        if record is None or record["status"] in UNLISTED:
            assert entry is None
        else:
            assert entry is not None
            assert entry[2:] == (record["owner"], record["visibility"], record["status"])
    project = inv.projects[0]
    listed = [r for r in records if r is not None and r["status"] not in UNLISTED]
    visible = [r for r in listed if r["owner"] == project or r["visibility"] == "public"]
    keys = sorted(((str(r["created_at"]), str(r["id"])) for r in visible), reverse=True)
    assert len({created for created, _ in keys}) < len(keys)  # ties on created_at: id decides
    listing = Listing(inv)
    got: list[str] = []
    marker = None
    for _ in range(len(keys)):  # bounded: a marker bug must fail, not loop
        page = listing.page(ListQuery(limit=97, marker=marker), project)
        if not page:
            break
        got += [str(r["id"]) for r in page]
        marker = got[-1]
    want = [image_id for _, image_id in keys]
    assert got == want
    created = [c for c, _ in keys]
    tied = [k for k in range(len(keys)) if created.count(created[k]) > 1]
    for k in tied:  # a marker inside a run of equal created_at, both directions
        assert [r["id"] for r in listing.page(ListQuery(limit=2, marker=want[k]), project)] == (
            want[k + 1 : k + 3]
        )
        backwards = ListQuery(limit=2, marker=want[k], descending=False)
        assert [r["id"] for r in listing.page(backwards, project)] == want[max(0, k - 2) : k][::-1]


# -- auth, faults, proxy removal --------------------------------------------------------------


def test_keystone_token_scopes_the_listing() -> None:
    config = Config(inventory=SMALL, users={"alice": "wonderland"}, token="static")
    with RunningSimulator(config) as secured:
        project = secured.inventory.projects[3]
        auth = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "alice",
                            "domain": {"name": "Default"},
                            "password": "wonderland",
                        }
                    },
                },
                "scope": {"project": {"id": project}},
            }
        }
        status, headers, _ = call(f"{secured.base_url}/v3/auth/tokens", body=auth, method="POST")
        assert status == 201
        token = headers["X-Subject-Token"]
        other = secured.inventory.projects[0]
        # The token's project wins over a claimed X-Project-Id, as keystonemiddleware's does.
        status, body = glance(secured, "/v2/images?limit=1000", other, **{"X-Auth-Token": token})
        assert [i["id"] for i in body["images"]] == expected_list(secured.inventory, project)
        status, body = glance(secured, "/v2/images", project)
        assert (status, body["error"]["code"]) == (401, 401)
        status, _ = glance(secured, "/v2/images", project, **{"X-Auth-Token": "wrong"})
        assert status == 401
        status, body = glance(
            secured, "/v2/images?limit=1000", project, **{"X-Auth-Token": "static"}
        )
        assert [i["id"] for i in body["images"]] == expected_list(secured.inventory, project)


def test_aksk_signed_requests_take_the_project_from_x_project_id() -> None:
    with RunningSimulator(Config(inventory=SMALL, aksk={"AK1": "SK1"})) as secured:
        project = secured.inventory.projects[2]
        url = URL(f"{secured.base_url}/v2/images?limit=1000")
        headers = {
            "X-Sdk-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "Host": host_header(url),
            "X-Project-Id": project,
        }
        signed = {**headers, "Authorization": sign("GET", url, headers, b"", ak="AK1", sk="SK1")}
        status, _, body = call(str(url), dict(signed, **JSON))
        assert status == 200
        assert [i["id"] for i in body["images"]] == expected_list(secured.inventory, project)
        signed["Authorization"] = signed["Authorization"][:-4] + "0000"
        status, _, body = call(str(url), signed)
        assert (status, body["error_code"]) == (401, "APIGW.0301")


def test_faults_apply_and_proxy_removal_leaves_glance() -> None:
    faulty = Config(inventory=SMALL, faults=FaultConfig(error_rate=1.0))
    with RunningSimulator(faulty) as sim:
        assert glance(sim, "/v2/images")[0] in (500, 502, 503, 504)
        assert glance(sim, f"/v2/images/{sim.inventory.image_id(0)}")[0] in (500, 502, 503, 504)
    with RunningSimulator(Config(inventory=SMALL, proxy_removed=True)) as sim:
        project = sim.inventory.projects[0]
        assert call(f"{sim.base_url}/v2.1/{project}/images/detail")[0] == 404
        assert glance(sim, "/v2/images", project)[0] == 200


# -- Nova's /images/detail --------------------------------------------------------------------


def nova_pages(sim: RunningSimulator, project: str, query: str) -> tuple[list[str], int]:
    url = f"{sim.base_url}/v2.1/{project}/images/detail?{query}"
    ids: list[str] = []
    pages = 0
    while True:
        status, _, body = call(url)
        assert status == 200, body
        pages += 1
        ids += [image["id"] for image in body["images"]]
        links = body.get("images_links")
        if not links:
            return ids, pages
        assert pages <= 2000, "next links do not end"
        assert [link["rel"] for link in links] == ["next"]
        url = links[0]["href"]
        assert url.startswith(f"{sim.base_url}/v2.1/{project}/images/detail?")  # absolute
        assert dict(parse_qsl(urlsplit(url).query))["marker"] == ids[-1]


@pytest.mark.parametrize("limit", [3, 50])
def test_nova_detail_pages(small: RunningSimulator, limit: int) -> None:
    project = small.inventory.projects[1]
    want = expected_list(small.inventory, project)
    ids, pages = nova_pages(small, project, urlencode({"limit": limit, "status": "ACTIVE"}))
    active = [
        i
        for i in want
        if small.inventory.glance_record(small.inventory.lookup(i) or 0)["status"] == "active"
    ]
    assert ids == active
    assert pages == len(active) // limit + 1


def test_nova_detail_without_limit_is_everything(small: RunningSimulator) -> None:
    project = small.inventory.projects[1]
    status, _, body = call(f"{small.base_url}/v2.1/{project}/images/detail")
    assert status == 200
    assert [i["id"] for i in body["images"]] == expected_list(small.inventory, project)
    assert "images_links" not in body
    one = body["images"][0]
    _, _, shown = call(f"{small.base_url}/v2.1/{project}/images/{one['id']}")
    assert shown["image"] == one


def test_nova_detail_next_link_sorts_params(small: RunningSimulator) -> None:
    project = small.inventory.projects[1]
    url = f"{small.base_url}/v2.1/{project}/images/detail?status=active&limit=2"
    _, _, body = call(url)
    marker = body["images"][-1]["id"]
    assert body["images_links"] == [
        {
            "rel": "next",
            "href": f"{small.base_url}/v2.1/{project}/images/detail"
            f"?limit=2&status=active&marker={marker}",
        }
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("marker=00000000-0000-4000-8000-000000000000",
         "No image found with ID 00000000-0000-4000-8000-000000000000"),
        ("limit=abc",
         "Invalid input for query parameters limit. Value: abc. 'abc' does not match '^[0-9]*$'"),
    ],
)  # fmt: skip
def test_nova_detail_bad_queries(small: RunningSimulator, query: str, message: str) -> None:
    project = small.inventory.projects[1]
    status, _, body = call(f"{small.base_url}/v2.1/{project}/images/detail?{query}")
    assert (status, body) == (400, {"badRequest": {"code": 400, "message": message}})


# -- the flattener ----------------------------------------------------------------------------

# glance api-ref samples/images-list-response.json, one item (API.md 2.2)
GLANCE_SAMPLE = {
    "status": "active",
    "name": "cirros-0.3.2-x86_64-disk",
    "tags": ["b", "a"],
    "container_format": "bare",
    "created_at": "2014-11-07T17:07:06Z",
    "disk_format": "qcow2",
    "updated_at": "2014-11-07T17:19:09Z",
    "visibility": "public",
    "self": "/v2/images/1bea47ed-f6a9-463b-b423-14b9cca9ad27",
    "min_disk": 0,
    "protected": False,
    "id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27",
    "file": "/v2/images/1bea47ed-f6a9-463b-b423-14b9cca9ad27/file",
    "checksum": "64d7c1cd2b6f60c92c14662941cb7913",
    "os_hash_algo": "sha512",
    "os_hash_value": "073b45cf09",
    "os_hidden": False,
    "owner": "5ef70662f8b34079a6eddb8da9d75fe8",
    "size": 13167616,
    "min_ram": 0,
    "schema": "/v2/schemas/image",
    "virtual_size": None,
    "os_distro": "ubuntu",
    "os_version": "22.04",
    "hw_disk_bus": "virtio",
}


def flatten(body: object) -> dict[str, object]:
    return flatten_glance_image(body, project_id="p", region=None, fetched_at=AT)


def test_sample_flattens_to_the_expected_row() -> None:
    row = flatten(GLANCE_SAMPLE)
    assert list(row) == IMAGES_SCHEMA.names
    assert row == {
        "project_id": "p",
        "region": None,
        "image_id": "1bea47ed-f6a9-463b-b423-14b9cca9ad27",
        "name": "cirros-0.3.2-x86_64-disk",
        "status": "ACTIVE",
        "progress": 100,
        "size_bytes": 13167616,
        "min_disk_gb": 0,
        "min_ram_mb": 0,
        "created_at": datetime(2014, 11, 7, 17, 7, 6, tzinfo=UTC),
        "updated_at": datetime(2014, 11, 7, 17, 19, 9, tzinfo=UTC),
        "os_type": None,
        "os_version": None,
        "disk_bus": "virtio",
        "virtual_env_type": None,
        "platform": None,
        "os_bit": None,
        "image_type": None,
        "os_family": "linux",
        "os_distro": "ubuntu",
        "os_release": "22.04",
        "os_major": 22,
        "os_edition": None,
        "os_bits": None,
        "os_eol_date": None,
        "os_is_eol": None,
        "disk_config": None,
        "server_id": None,
        "visibility": "public",
        "owner": "5ef70662f8b34079a6eddb8da9d75fe8",
        "disk_format": "qcow2",
        "container_format": "bare",
        "checksum": "64d7c1cd2b6f60c92c14662941cb7913",
        "virtual_size_bytes": None,
        "protected": False,
        "tags_json": '["a","b"]',
        "metadata_json": '{"hw_disk_bus":"virtio","os_distro":"ubuntu","os_version":"22.04"}',
        "extra_json": '{"os_hash_algo":"sha512","os_hash_value":"073b45cf09","os_hidden":false}',
        "source_api": "glance",
        "fetched_at": AT,
    }


@pytest.mark.parametrize(
    ("glance_status", "status", "progress", "kept"),
    [
        ("active", "ACTIVE", 100, False),
        ("queued", "SAVING", 25, False),
        ("saving", "SAVING", 50, False),
        ("killed", "ERROR", 0, False),
        ("deleted", "DELETED", 0, True),
        ("pending_delete", "DELETED", 0, True),
        ("deactivated", "UNKNOWN", 0, True),
        ("importing", "UNKNOWN", 0, True),
    ],
)
def test_status_mapping(glance_status: str, status: str, progress: int, kept: bool) -> None:
    row = flatten({"id": "i", "status": glance_status})
    assert (row["status"], row["progress"]) == (status, progress)
    extra = json.loads(str(row["extra_json"] or "{}"))
    assert extra.get("status") == (glance_status if kept else None)


def test_nulls_become_nova_zeros_and_are_kept() -> None:
    row = flatten({"id": "i", "size": None, "min_ram": None})
    assert (row["size_bytes"], row["min_ram_mb"], row["min_disk_gb"]) == (0, 0, 0)
    assert json.loads(str(row["extra_json"])) == {"size": None, "min_ram": None}


def test_nova_derived_columns() -> None:
    row = flatten({"id": "i", "auto_disk_config": "yes", "instance_uuid": "srv"})
    assert (row["disk_config"], row["server_id"]) == ("AUTO", "srv")
    assert flatten({"id": "i", "auto_disk_config": "False"})["disk_config"] == "MANUAL"


def test_odd_types_are_kept_verbatim() -> None:
    body = {"id": "i", "visibility": 1, "protected": "yes", "tags": "t", "virtual_size": "9"}
    row = flatten(body)
    assert (row["visibility"], row["protected"], row["tags_json"]) == (None, None, None)
    assert row["virtual_size_bytes"] is None
    assert json.loads(str(row["extra_json"])) == {k: v for k, v in body.items() if k != "id"}


def test_block_device_mapping_is_decoded_as_nova_does() -> None:
    row = flatten({"id": "i", "block_device_mapping": '[{"boot_index": 0}]', "mappings": "{"})
    assert json.loads(str(row["metadata_json"])) == {
        "block_device_mapping": [{"boot_index": 0}],
        "mappings": "{",
    }


@pytest.mark.parametrize("body", [None, [], "x", {"image": {"id": "i"}}, {"id": 5}])
def test_non_images_are_rejected(body: object) -> None:
    with pytest.raises(InvalidRecordError):
        flatten(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    props=st.dictionaries(
        st.text(max_size=30).filter(
            lambda k: k not in GLANCE_CORE_FIELDS and k not in ("block_device_mapping", "mappings")
        ),
        json_values,
        max_size=8,
    ),
    core=st.dictionaries(st.sampled_from(sorted(GLANCE_CORE_FIELDS - {"id"})), json_values),
)
def test_custom_properties_round_trip_and_flatten_never_crashes(
    props: dict[str, object], core: dict[str, object]
) -> None:
    row = flatten({**core, **props, "id": "i"})
    assert json.loads(str(row["metadata_json"])) == props
    assert list(row) == IMAGES_SCHEMA.names
