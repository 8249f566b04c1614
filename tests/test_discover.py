"""``crawler discover``: pagers (pure), the projects file, and listings over real HTTP.

Listings run against the simulator on 127.0.0.1 (``RunningSimulator``: own thread and loop),
with AK/SK signing so that Glance knows the caller's project (``X-Project-Id``). Faulty
servers are imitated by ``EditingProxy``, a reverse proxy that edits the simulator's list
pages on their way back; the simulator still answers every request.
"""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow.parquet as pq
import pytest
from aiohttp import web
from click.testing import CliRunner
from yarl import URL

from crawler.auth import AkSkAuth
from crawler.cli import main
from crawler.client import ImageClient
from crawler.commands.discover import discover
from crawler.config import CrawlSettings
from crawler.discover import ListFilters, ProjectTarget, list_project, read_projects, row_of
from crawler.discover.pagers import PAGERS, GlancePager, NovaPager, nova_property_key
from crawler.errors import ConfigError, InputError, InvalidRecordError
from crawler.inputs import InputReader
from crawler.ratelimit import RateLimits
from crawler.retry import Fetcher, RetryPolicy
from crawler.routing import Router
from crawler.simulator import Inventory, InventorySpec, RunningSimulator, SimulatorConfig
from crawler.simulator.listing import UNLISTED

SPEC = InventorySpec(images=200, projects=5, seed=3)
AK, SK = "AKDISCOVER", "SKDISCOVER-secret"
EMPTY = "0123456789abcdef0123456789abcdef"  # a project that owns no image
UNKNOWN = "00000000-0000-4000-8000-000000000000"
AUTH_VARIABLES = (
    "OS_AUTH_TOKEN", "OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL", "OS_USERNAME",
    "OS_USER_ID", "OS_PASSWORD", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK",
)  # fmt: skip
NO_AUTH: dict[str, str | None] = dict.fromkeys(AUTH_VARIABLES)
SIGNED = NO_AUTH | {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}
ROOT = "https://ecs.example.com/prefix"
P = "ab" * 16


@pytest.fixture(scope="module")
def signed() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC, aksk={AK: SK})) as running:
        yield running


@pytest.fixture(scope="module")
def plain() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as running:
        yield running


# -- helpers ----------------------------------------------------------------------------------


def run(args: list[str], env: dict[str, str | None] = SIGNED) -> tuple[int, str, str]:
    result = CliRunner().invoke(discover, args, env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def endpoints(sim: RunningSimulator, api: str) -> list[str]:
    return ["--endpoint", sim.base_url, "--image-endpoint", sim.base_url, "--api", api]


def projects_file(tmp_path: Path, projects: list[str]) -> Path:
    path = tmp_path / "projects.txt"
    path.write_text("# projects to list\n\n" + "\n".join(projects) + "\n")
    return path


def read_ids(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["project_id", "region", "image_id"]
        return list(reader)


Keep = Callable[[dict[str, object]], bool]


def visible(
    inv: Inventory, projects: list[str], owned_only: bool, keep: Keep = lambda _: True
) -> dict[str, set[str]]:
    """Per project, the ids its list holds: listable images it owns (and public ones)."""
    seen: dict[str, set[str]] = {project: set() for project in projects}
    for i in range(len(inv)):
        record = inv.record(i)
        if (
            record is None
            or record["status"] in UNLISTED
            or record["os_hidden"]
            or not keep(record)
        ):
            continue
        for project in projects:
            if record["owner"] == project or (not owned_only and record["visibility"] == "public"):
                seen[project].add(str(record["id"]))
    return seen


def list_order(inv: Inventory, ids: set[str]) -> list[str]:
    """``ids`` in the lists' order: newest ``created_at`` first, then ``id`` descending."""
    records = [inv.record(inv.lookup(image_id) or 0) for image_id in ids]
    keys = [(str(r["created_at"]), str(r["id"])) for r in records if r is not None]
    return [image_id for _, image_id in sorted(keys, reverse=True)]


def api_requests(sim: RunningSimulator) -> dict[str, int]:
    stats = sim.stats()
    return {api: stats.get(f"api:{api}", 0) for api in ("nova", "glance")}


def check_listing(rows: list[dict[str, str]], expected: dict[str, set[str]]) -> None:
    """Every listed id once, under a project that sees it; exactly the expected union."""
    ids = [row["image_id"] for row in rows]
    assert len(ids) == len(set(ids))
    assert set(ids) == set().union(*expected.values())
    for row in rows:
        assert row["image_id"] in expected[row["project_id"]]
        assert row["region"] == ""


# -- pagers (pure) ----------------------------------------------------------------------------


def test_nova_first_url_maps_every_filter() -> None:
    since = datetime(2025, 1, 31, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    filters = ListFilters("active", since, (("__os_type", "Linux"), ("hw_disk_bus", "a b")))
    url = NovaPager().first_url(ROOT, P, filters, 50)
    assert url.path == f"/prefix/v2.1/{P}/images/detail"
    assert list(url.query.items()) == [
        ("limit", "50"),
        ("status", "ACTIVE"),
        ("changes-since", "2025-01-31T08:30:00+00:00"),
        ("property-__os_type", "Linux"),
        ("property-hw_disk_bus", "a b"),
    ]
    assert "%2B00:00" in url.raw_query_string  # "+" encoded, or the server reads a space


def test_glance_first_url_maps_every_filter_and_owner_only_when_asked() -> None:
    since = datetime(2025, 1, 31, 8, 30)  # naive: UTC
    filters = ListFilters("SAVING", since, (("os_distro", "ubuntu"),), owned_only=True)
    url = GlancePager().first_url(ROOT, P, filters, 1000)
    assert url.path == "/prefix/v2/images"
    assert list(url.query.items()) == [
        ("limit", "1000"),
        ("status", "saving"),
        ("updated_at", "gte:2025-01-31T08:30:00Z"),
        ("os_distro", "ubuntu"),
        ("owner", P),
    ]
    assert "owner" not in GlancePager().first_url(ROOT, P, ListFilters(), 25).query


@pytest.mark.parametrize("pager", [NovaPager(), GlancePager()])
@pytest.mark.parametrize("size", [0, 1001])
def test_page_size_is_checked(pager: NovaPager | GlancePager, size: int) -> None:
    with pytest.raises(ConfigError, match="page-size"):
        pager.first_url(ROOT, P, ListFilters(), size)


def test_nova_next_link_on_another_host_keeps_only_its_query() -> None:
    here = URL(f"{ROOT}/v2.1/{P}/images/detail?limit=2&status=ACTIVE")
    href = f"http://nova-internal:8774/v2.1/{P}/images/detail?limit=2&marker=m1&status=ACTIVE"
    body = {"images": [{"id": "a"}, {"id": "m1"}], "images_links": [{"rel": "next", "href": href}]}
    page = NovaPager().parse(body, here)
    assert [record["id"] for record in page.records] == ["a", "m1"]
    assert str(page.next_url) == f"{ROOT}/v2.1/{P}/images/detail?limit=2&marker=m1&status=ACTIVE"
    assert NovaPager().parse({"images": []}, here).next_url is None


def test_glance_relative_next_keeps_the_root_prefix_and_the_encoding() -> None:
    here = URL(f"{ROOT}/v2/images?limit=1")
    body = {"images": [{"id": "x"}], "next": "/v2/images?limit=1&name=a+b&k=1%2B2&marker=x"}
    page = GlancePager().parse(body, here)
    assert str(page.next_url) == f"{ROOT}/v2/images?limit=1&name=a+b&k=1%2B2&marker=x"
    assert page.next_url is not None
    assert dict(page.next_url.query) == {"limit": "1", "name": "a b", "k": "1+2", "marker": "x"}
    assert GlancePager().parse({"images": [], "first": "/v2/images"}, here).next_url is None


@pytest.mark.parametrize(
    ("api", "body"),
    [
        ("nova", []),
        ("nova", {"servers": []}),
        ("nova", {"images": [{"name": "no id"}]}),
        ("nova", {"images": [], "images_links": [{"rel": "next", "href": 5}]}),
        ("nova", {"images": [], "images_links": [{"rel": "next", "href": "/v2.1/p/servers?x"}]}),
        ("glance", {"images": ["x"]}),
        ("glance", {"images": [], "next": ["x"]}),
        ("glance", {"images": [], "next": "/v2/schemas/images?marker=x"}),
    ],
)
def test_a_malformed_page_is_an_invalid_record(api: str, body: object) -> None:
    with pytest.raises(InvalidRecordError):
        PAGERS[api].parse(body, URL(f"{ROOT}/v2/images"))  # type: ignore[index]


def test_filters_are_validated() -> None:
    assert ListFilters("deactivated").status == "DEACTIVATED"
    assert ListFilters(changes_since=datetime(2025, 1, 1)).changes_since == datetime(
        2025, 1, 1, tzinfo=UTC
    )
    with pytest.raises(ConfigError, match="killed"):
        ListFilters("killed")
    with pytest.raises(ConfigError, match="marker"):
        ListFilters(properties=(("marker", "x"),))


def test_nova_mangles_property_keys_with_lstrip() -> None:
    assert nova_property_key("os_distro") == "s_distro"
    assert nova_property_key("type") == ""
    assert nova_property_key("__os_version") == "__os_version"
    assert nova_property_key("hw_disk_bus") == "hw_disk_bus"


# -- projects file ----------------------------------------------------------------------------


def test_plain_projects_file_with_comments_blank_lines_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text(f"\ufeff# team A\n{P.upper()}\n\n  {P}  \n# end\n{EMPTY}\n")
    assert read_projects(path) == [ProjectTarget(P), ProjectTarget(EMPTY)]


def test_csv_projects_file_with_regions(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"# comment\nregion,project_id\neu-de,{P}\neu-nl,{P}\n,{EMPTY}\neu-de,{P}\n")
    assert read_projects(path) == [
        ProjectTarget(P, "eu-de"),
        ProjectTarget(P, "eu-nl"),
        ProjectTarget(EMPTY, None),
    ]


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (f"{P}\n# c\nnot-a-project\n", ":3:", "32 hexadecimal"),
        (f"{P}\n{P},eu-de\n", ":2:", "comma"),
        (f"project_id,region\n{P},eu de\n", ":2:", "region"),
        (f"project_id\n{P},x\n", ":2:", "expected 1 fields"),
        ("# only a comment\n", ": ", "no project ids"),
        ("project_id,region\n", ":1:", "no projects"),
    ],
)
def test_projects_file_errors_name_file_and_line(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    path = tmp_path / "p.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=reason) as caught:
        read_projects(path)
    assert str(caught.value).startswith(f"{path}{where}")


def test_a_bad_projects_file_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    path = projects_file(tmp_path, [P, "nope"])
    code, stdout, stderr = run(["--projects", str(path), "--endpoint", "http://127.0.0.1:9"])
    assert code == 2
    assert f"{path}:4: project_id 'nope'" in stderr
    assert stdout == ""


def test_nova_refuses_property_keys_it_would_mangle(tmp_path: Path) -> None:
    path = projects_file(tmp_path, [P])
    for api in ("nova", "auto"):
        args = ["--projects", str(path), "--endpoint", "http://127.0.0.1:9", "--api", api]
        code, _, stderr = run([*args, "--property", "os_distro=ubuntu"])
        assert code == 2
        assert "'s_distro'" in stderr
        assert "--api glance" in stderr


# -- listings over HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize("api", ["nova", "glance"])
@pytest.mark.parametrize("size", [1, 2, 25, 1000])
def test_discovery_lists_exactly_the_projects_images(
    signed: RunningSimulator, tmp_path: Path, api: str, size: int
) -> None:
    inv = signed.inventory
    projects = [*inv.projects[:3], EMPTY]
    out = tmp_path / "ids.csv"
    before = api_requests(signed)
    code, stdout, stderr = run(
        [
            "--projects", str(projects_file(tmp_path, projects)), *endpoints(signed, api),
            "--page-size", str(size), "--out", str(out), "--concurrency", "3",
        ]
    )  # fmt: skip
    assert code == 0, stderr
    assert stdout == ""
    # Nova cannot filter by owner: each project's list holds the public images too.
    expected = visible(inv, projects, owned_only=api == "glance")
    check_listing(read_ids(out), expected)
    # A full page gets a next link, so a list of n images takes n // size + 1 requests.
    pages = sum(len(ids) // size + 1 for ids in expected.values())
    after = api_requests(signed)
    assert after[api] - before[api] == pages
    assert sum(after.values()) - sum(before.values()) == pages
    listed = sum(len(ids) for ids in expected.values())
    assert f"pages:    {pages} ({api}: {pages})" in stderr
    assert f"(listed {listed}, duplicates skipped {listed - len(read_ids(out))}" in stderr
    assert SK not in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ids.csv", "projects.txt"]


def test_auto_lists_through_glance_after_one_nova_probe(tmp_path: Path) -> None:
    config = SimulatorConfig(inventory=SPEC, aksk={AK: SK}, proxy_removed=True)
    with RunningSimulator(config) as sim:
        projects = [*sim.inventory.projects, EMPTY]
        out = tmp_path / "ids.csv"
        code, _, stderr = run(
            [
                "--projects", str(projects_file(tmp_path, projects)), *endpoints(sim, "auto"),
                "--page-size", "10", "--out", str(out),
            ]
        )  # fmt: skip
        assert code == 0, stderr
        expected = visible(sim.inventory, projects, owned_only=True)
        check_listing(read_ids(out), expected)
        requests = api_requests(sim)
        assert requests["nova"] == 1
        assert requests["glance"] == sum(len(ids) // 10 + 1 for ids in expected.values())
        assert f"switched to glance: {sim.base_url}" in stderr


@pytest.mark.parametrize("api", ["nova", "glance"])
def test_filters_reach_both_apis(signed: RunningSimulator, tmp_path: Path, api: str) -> None:
    inv = signed.inventory
    projects = list(inv.projects)
    # The median update time, written two hours east of UTC: the same instant.
    times = sorted(str(inv.record(i)["updated_at"]) for i in range(len(inv)) if inv.record(i))  # type: ignore[index]
    since = datetime.fromisoformat(times[len(times) // 2]).astimezone(timezone(timedelta(hours=2)))

    def keep(record: dict[str, object]) -> bool:
        return (
            record["status"] == "active"
            and str(record["updated_at"]) >= times[len(times) // 2]
            and record.get("__os_type") == "Linux"
            and record.get("hw_disk_bus") == "scsi"
        )

    out = tmp_path / "ids.csv"
    code, _, stderr = run(
        [
            "--projects", str(projects_file(tmp_path, projects)), *endpoints(signed, api),
            "--status", "active", "--changes-since", since.isoformat(),
            "--property", "__os_type=Linux", "--property", "hw_disk_bus=scsi",
            "--all-visible", "--page-size", "7", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0, stderr
    expected = visible(inv, projects, owned_only=False, keep=keep)
    assert 0 < len(set().union(*expected.values())) < len(inv) // 4
    check_listing(read_ids(out), expected)


def test_stdout_is_the_default_output(signed: RunningSimulator, tmp_path: Path) -> None:
    project = signed.inventory.projects[0]
    code, stdout, stderr = run(
        ["--projects", str(projects_file(tmp_path, [project])), *endpoints(signed, "glance")]
    )
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == "project_id,region,image_id"
    assert len(lines) - 1 == len(visible(signed.inventory, [project], owned_only=True)[project])


async def test_list_project_yields_numbered_pages_and_row_of_flattens_them(
    signed: RunningSimulator,
) -> None:
    inv = signed.inventory
    project = inv.projects[1]
    settings = CrawlSettings(
        endpoint=signed.base_url, image_endpoint=signed.base_url, input_path="-"
    )
    auth = AkSkAuth(AK, SK)
    rows: dict[str, dict[str, dict[str, object]]] = {}
    for api in ("nova", "glance"):
        async with ImageClient(settings) as client:
            router = Router(settings.compute, settings.image, api, auth)
            fetcher = Fetcher(client, auth, RateLimits(), RetryPolicy(), router)
            pages = [page async for page in list_project(fetcher, project, "r1", ListFilters(), 30)]
        assert [page.number for page in pages] == list(range(1, len(pages) + 1))
        assert {(page.api, page.project_id, page.region) for page in pages} == {
            (api, project, "r1")
        }
        assert all(page.request_id for page in pages)
        assert [len(page.records) for page in pages[:-1]] == [30] * (len(pages) - 1)
        rows[api] = {
            str(record["id"]): row_of(api, record, project, "r1", page.fetched_at)
            for page in pages
            for record in page.records
        }
    # The same images, flattened from either API, say the same things.
    assert rows["nova"].keys() >= rows["glance"].keys()
    for image_id, row in rows["glance"].items():
        nova = rows["nova"][image_id]
        assert (row["source_api"], nova["source_api"]) == ("glance", "nova-proxy")
        for column in ("image_id", "project_id", "region", "name", "status", "os_version"):
            assert row[column] == nova[column], column


# -- faulty servers ---------------------------------------------------------------------------


Edit = Callable[[web.Request, dict[str, Any]], None]


class EditingProxy:
    """A reverse proxy on 127.0.0.1 that lets ``edit`` change each 200 JSON body."""

    def __init__(self, target: str, edit: Edit) -> None:
        self._target = target
        self._edit = edit
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.base_url = ""

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with aiohttp.ClientSession() as session:
            self._session = session
            app = web.Application()
            app.router.add_get("/{tail:.*}", self._forward)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        url = URL(self._target + request.raw_path, encoded=True)
        async with self._session.get(url, headers=headers) as response:
            status, body = response.status, await response.read()
        if status == 200:
            document = json.loads(body)
            self._edit(request, document)
            body = json.dumps(document).encode()
        return web.Response(status=status, body=body, content_type="application/json")

    def __enter__(self) -> EditingProxy:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _set_marker(document: dict[str, Any], marker: str) -> None:
    link = document["images_links"][0]
    link["href"] = str(URL(link["href"]).update_query(marker=marker))


def test_unknown_marker_fails_that_project_only_and_exits_4(
    plain: RunningSimulator, tmp_path: Path
) -> None:
    inv = plain.inventory
    victim, *others = inv.projects[:3]

    def edit(request: web.Request, document: dict[str, Any]) -> None:
        if victim in request.path and "images_links" in document:
            _set_marker(document, UNKNOWN)  # as if that image was deleted meanwhile

    with EditingProxy(plain.base_url, edit) as proxy:
        out = tmp_path / "ids.csv"
        code, _, stderr = run(
            [
                "--projects", str(projects_file(tmp_path, [victim, *others])),
                "--endpoint", proxy.base_url, "--api", "nova", "--page-size", "5",
                "--out", str(out),
            ],
            env=NO_AUTH,
        )  # fmt: skip
    assert code == 4
    assert (
        f"failed:   project {victim}: bad_request HTTP 400 after 1 pages:"
        f" No image found with ID {UNKNOWN}"
    ) in stderr
    assert "projects: 3 (failed: 1)" in stderr
    # What was found is kept: the others' images and the victim's first page, no more.
    listed = {row["image_id"] for row in read_ids(out)}
    others_see = set().union(*visible(inv, others, owned_only=False).values())
    assert others_see <= listed
    victim_sees = visible(inv, [victim], owned_only=False)[victim]
    assert listed - others_see == set(list_order(inv, victim_sees)[:5]) - others_see


def test_a_server_that_pages_in_a_loop_fails_the_project(
    plain: RunningSimulator, tmp_path: Path
) -> None:
    project = plain.inventory.projects[0]
    first: dict[str, str] = {}

    def edit(request: web.Request, document: dict[str, Any]) -> None:
        if "images_links" in document:  # every page links to the second one again
            first.setdefault("href", document["images_links"][0]["href"])
            document["images_links"][0]["href"] = first["href"]

    with EditingProxy(plain.base_url, edit) as proxy:
        code, _, stderr = run(
            [
                "--projects", str(projects_file(tmp_path, [project])),
                "--endpoint", proxy.base_url, "--api", "nova", "--page-size", "3",
                "--out", str(tmp_path / "ids.csv"),
            ],
            env=NO_AUTH,
        )  # fmt: skip
    assert code == 4
    assert "invalid_response HTTP 200 after 2 pages: the server sent the same next link" in stderr


def test_the_id_list_is_a_crawl_input_and_yields_the_same_images(
    plain: RunningSimulator, tmp_path: Path
) -> None:
    projects = list(plain.inventory.projects[:2])
    ids = tmp_path / "ids.csv"
    code, _, stderr = run(
        [
            "--projects", str(projects_file(tmp_path, projects)),
            "--endpoint", plain.base_url, "--api", "nova", "--out", str(ids),
        ],
        env=NO_AUTH,
    )  # fmt: skip
    assert code == 0, stderr
    listed = {row["image_id"] for row in read_ids(ids)}
    reader = InputReader(str(ids))
    assert all(not hasattr(item, "reason") for item in reader)
    assert reader.stats.unique == len(listed)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["crawl", "--input", str(ids), "--endpoint", plain.base_url, "--output", str(out)],
        env=NO_AUTH,
    )
    assert result.exit_code == 0, result.stderr
    (snapshot,) = out.glob("snapshot_date=*/run_id=*")
    crawled = pq.read_table(snapshot / "images.parquet", columns=["image_id"]).to_pydict()
    assert set(crawled["image_id"]) == listed
    assert len(crawled["image_id"]) == len(listed)
