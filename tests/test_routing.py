"""Endpoints, regions and the API choice: options, templates, the Keystone catalog, one probe."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from crawler.auth import KeystoneCredentials, KeystonePasswordAuth
from crawler.auth.base import AuthProvider
from crawler.config import CrawlSettings
from crawler.crawl import Crawl, CrawlReport
from crawler.endpoints import Route, ServiceEndpoints, catalog_root
from crawler.errors import ConfigError
from crawler.normalize import SOURCE_NOVA_PROXY
from crawler.normalize.flatten import GLANCE_ONLY_COLUMNS
from crawler.normalize.glance import SOURCE_GLANCE
from crawler.normalize.schema import IMAGES_SCHEMA
from crawler.outcomes import ErrorKind, ErrorRecord, Fetched
from crawler.routing import verdict
from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig, write_id_list

SPEC = InventorySpec(images=300, projects=6, seed=5)
GLANCE_ONLY = set(GLANCE_ONLY_COLUMNS)
# Columns that say how or when a row was fetched, not what the image is.
NOT_COMPARED = {"source_api", "fetched_at", "extra_json"}


# -- options and templates ------------------------------------------------------------------


def test_one_url_is_the_default_for_every_region() -> None:
    spec = ServiceEndpoints.parse(["https://ecs.eu-de.otc.t-systems.com/v2.1/"], "--endpoint")
    assert spec.root_for(None) == spec.root_for("eu-nl") == "https://ecs.eu-de.otc.t-systems.com"


def test_a_template_takes_the_region_and_needs_one() -> None:
    spec = ServiceEndpoints.parse(["https://ims.{region}.myhuaweicloud.com"], "--image-endpoint")
    assert spec.root_for("ap-southeast-1") == "https://ims.ap-southeast-1.myhuaweicloud.com"
    assert spec.root_for(None) is None


def test_region_values_win_over_the_default() -> None:
    spec = ServiceEndpoints.parse(
        [
            "eu-ch2=https://ecs.eu-ch2.sc.otc.t-systems.com",
            "https://ecs.{region}.otc.t-systems.com",
        ],
        "--endpoint",
    )
    assert spec.root_for("eu-ch2") == "https://ecs.eu-ch2.sc.otc.t-systems.com"
    assert spec.root_for("eu-de") == "https://ecs.eu-de.otc.t-systems.com"
    assert spec.text() == (
        "https://ecs.{region}.otc.t-systems.com eu-ch2=https://ecs.eu-ch2.sc.otc.t-systems.com"
    )


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (["ftp://host"], "expected an http(s) URL"),
        (["https://h/{project_id}"], "unknown placeholder {project_id}"),
        (["https://a", "https://b"], "only one URL without a region"),
        (["r1=https://a", "r1=https://b"], "region 'r1' is given twice"),
        (["bad region=https://a"], "is not a region name"),
        (["https://a?x=1"], "must not carry a query"),
    ],
)
def test_bad_endpoint_values_name_the_option(values: list[str], fragment: str) -> None:
    with pytest.raises(ConfigError, match="--endpoint") as caught:
        ServiceEndpoints.parse(values, "--endpoint")
    assert fragment in str(caught.value)


CATALOG = [
    {
        "type": "compute",
        "endpoints": [
            {"interface": "public", "region_id": "eu-de", "url": "https://ecs.de/v2.1/p1"},
            {"interface": "internal", "region_id": "eu-de", "url": "https://ecs.internal/v2.1"},
            {"interface": "public", "region": "eu-nl", "url": "https://ecs.nl/v2/p1/"},
        ],
    },
    {
        "type": "image",
        "endpoints": [{"interface": "public", "region": "eu-de", "url": "https://ims.de/"}],
    },
    {"type": "identity", "endpoints": "not a list"},
]


def test_the_catalog_answers_by_service_region_and_interface() -> None:
    assert catalog_root(CATALOG, "compute", "eu-de", "public") == "https://ecs.de"
    assert catalog_root(CATALOG, "compute", "eu-nl", "public") == "https://ecs.nl"
    assert catalog_root(CATALOG, "compute", "eu-de", "internal") == "https://ecs.internal"
    assert catalog_root(CATALOG, "image", "eu-nl", "public") is None
    # Without a region, one region is an answer and two would be a guess.
    assert catalog_root(CATALOG, "image", None, "public") == "https://ims.de"
    assert catalog_root(CATALOG, "compute", None, "public") is None
    assert catalog_root(None, "compute", "eu-de", "public") is None


def test_the_api_choice_picks_from_the_roots_a_route_has() -> None:
    both, proxy_only = Route("https://c", "https://i"), Route("https://c", None)
    assert both.apis("auto") == ("nova", "glance")
    assert both.apis("glance") == ("glance",)
    assert proxy_only.apis("auto") == ("nova",)
    assert proxy_only.apis("glance") == ()


def _error(kind: ErrorKind) -> ErrorRecord:
    return ErrorRecord("p", None, "i", kind, 404, 1, "m", None, None)  # type: ignore[arg-type]


def test_only_a_route_404_switches_and_only_clear_answers_decide() -> None:
    assert verdict(_error(ErrorKind.API_UNAVAILABLE)) == "glance"
    assert verdict(_error(ErrorKind.NOT_FOUND)) == "nova"  # the proxy answered for the image
    assert verdict(Fetched({}, None, 1, None)) == "nova"  # type: ignore[arg-type]
    for kind in (ErrorKind.TIMEOUT, ErrorKind.SERVER_ERROR, ErrorKind.UNAUTHORIZED):
        assert verdict(_error(kind)) is None


def test_a_crawl_needs_some_endpoint_without_keystone(tmp_path: Path) -> None:
    settings = CrawlSettings(endpoint="", input_path=str(tmp_path / "x.csv"), api="glance")
    (tmp_path / "x.csv").write_text("project_id,image_id\n")
    with pytest.raises(ConfigError, match="--api glance needs --image-endpoint"):
        Crawl(settings)


# -- crawls against the simulator -----------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as running:
        yield running


@pytest.fixture(scope="module")
def removed() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC, proxy_removed=True)) as running:
        yield running


@pytest.fixture(scope="module")
def ids(sim: RunningSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ids") / "ids.csv"
    write_id_list(sim.inventory, path, unknown=7)
    return path


def crawl(
    ids: Path, out: Path, auth: AuthProvider | None = None, **settings: object
) -> CrawlReport:
    config = CrawlSettings(input_path=str(ids), output_dir=out, concurrency=8, **settings)  # type: ignore[arg-type]
    return anyio.run(Crawl(config, auth).run)


def images(report: CrawlReport) -> pa.Table:
    return pq.read_table(report.directory / "images.parquet").sort_by("image_id")


def sources(report: CrawlReport) -> set[str]:
    return set(pc.unique(images(report)["source_api"]).to_pylist())


SOURCES = {"nova": SOURCE_NOVA_PROXY, "glance": SOURCE_GLANCE}


def test_nova_and_glance_give_equal_rows_on_every_shared_column(
    sim: RunningSimulator, ids: Path, tmp_path: Path
) -> None:
    url = sim.base_url
    nova = crawl(ids, tmp_path / "n", endpoint=url, api="nova")
    glance = crawl(ids, tmp_path / "g", endpoint="", image_endpoint=url, api="glance")
    rows_nova, rows_glance = images(nova), images(glance)
    assert rows_nova.num_rows == rows_glance.num_rows > 250
    assert sources(nova) == {SOURCE_NOVA_PROXY}
    assert sources(glance) == {SOURCE_GLANCE}
    shared = [name for name in IMAGES_SCHEMA.names if name not in GLANCE_ONLY | NOT_COMPARED]
    assert len(shared) > 20
    for name in shared:
        assert rows_nova[name].equals(rows_glance[name]), name
    # Glance-only columns are filled from Glance and empty from the proxy.
    assert rows_nova["owner"].null_count == rows_nova.num_rows
    assert rows_glance["owner"].null_count == 0
    # Unknown and deleted images are "not_found" through either API, and nothing else fails.
    errors = [
        pq.read_table(report.directory / "errors.parquet", columns=["image_id", "error_kind"])
        .sort_by("image_id")
        .to_pylist()
        for report in (nova, glance)
    ]
    assert errors[0] == errors[1]
    assert {e["error_kind"] for e in errors[0]} == {"not_found"}
    assert len(errors[0]) >= 7


def test_auto_keeps_a_working_proxy_without_touching_glance(
    sim: RunningSimulator, ids: Path, tmp_path: Path
) -> None:
    before = sim.stats().get("api:glance", 0)
    report = crawl(ids, tmp_path / "o", endpoint=sim.base_url, image_endpoint=sim.base_url)
    assert sources(report) == {SOURCE_NOVA_PROXY}
    assert sim.stats().get("api:glance", 0) == before
    routing = report.manifest["routing"]
    assert routing["probes"] == 1  # type: ignore[index]
    assert routing["decided"] == {sim.base_url: "nova"}  # type: ignore[index]


def test_auto_switches_to_glance_after_one_probe_when_the_proxy_is_gone(
    removed: RunningSimulator, ids: Path, tmp_path: Path
) -> None:
    url = removed.base_url
    report = crawl(ids, tmp_path / "a", endpoint=url, image_endpoint=url)
    assert report.status == "complete"
    stats = removed.stats()
    assert stats["api:nova"] == 1  # the probe, and nothing after it
    counts = report.manifest["counts"]
    assert stats["api:glance"] == counts["unique"]  # type: ignore[index]
    assert counts["failed"] == 0
    assert counts["not_found"] >= 7
    assert sources(report) == {SOURCE_GLANCE}
    assert report.manifest["routing"]["switched_to_glance"] == [url]  # type: ignore[index]


def test_the_proxy_alone_on_a_cloud_without_it_stops_with_a_hint(
    removed: RunningSimulator, ids: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="--image-endpoint"):
        crawl(ids, tmp_path / "x", endpoint=removed.base_url)


# -- regions ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second() -> Iterator[RunningSimulator]:
    with RunningSimulator(SimulatorConfig(inventory=SPEC)) as running:
        yield running


def _regional_input(sim: RunningSimulator, path: Path) -> dict[str, int]:
    """The inventory split over two regions, plus two lines of a region with no endpoint."""
    pairs = list(sim.inventory.iter_pairs())
    lines, per_region = ["project_id,image_id,region"], {"r1": 0, "r2": 0}
    for number, (project, image) in enumerate(pairs):
        region = "r1" if number % 3 else "r2"
        per_region[region] += 1
        lines.append(f"{project},{image},{region}")
    lines += [f"{pairs[0][0]},{uuid.uuid4()},r9" for _ in range(2)]
    path.write_text("\n".join(lines) + "\n")
    return per_region


def test_each_region_goes_to_its_own_endpoint(
    sim: RunningSimulator, second: RunningSimulator, tmp_path: Path
) -> None:
    per_region = _regional_input(sim, tmp_path / "regional.csv")
    before = (sim.stats()["total"], second.stats()["total"])
    report = crawl(
        tmp_path / "regional.csv",
        tmp_path / "out",
        endpoint=(f"r1={sim.base_url}", f"r2={second.base_url}"),
        api="nova",
    )
    assert sim.stats()["total"] - before[0] == per_region["r1"]
    assert second.stats()["total"] - before[1] == per_region["r2"]
    errors = pq.read_table(report.directory / "errors.parquet").to_pylist()
    regions = images(report)["region"].to_pylist() + [
        e["region"] for e in errors if e["error_kind"] == "not_found"
    ]
    for region, count in per_region.items():
        assert regions.count(region) == count
    assert [(e["region"], e["error_kind"]) for e in errors if e["error_kind"] != "not_found"] == [
        ("r9", ErrorKind.NO_ENDPOINT.value)
    ] * 2
    assert any("no compute endpoint for region 'r9'" in e["message"] for e in errors)


def test_a_region_template_is_filled_per_line(sim: RunningSimulator, tmp_path: Path) -> None:
    # The loopback address is a valid region name, so a template can route to the simulator.
    port = sim.base_url.rsplit(":", 1)[1]
    pairs = list(sim.inventory.iter_pairs())[:40]
    path = tmp_path / "ids.csv"
    path.write_text(
        "project_id,image_id,region\n" + "".join(f"{p},{i},127.0.0.1\n" for p, i in pairs)
    )
    report = crawl(path, tmp_path / "out", endpoint=f"http://{{region}}:{port}", api="nova")
    counts = report.manifest["counts"]
    assert counts["ok"] + counts["not_found"] == 40
    assert counts["ok"] > 30


# -- the Keystone catalog ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def keystone_sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(inventory=SPEC, users={"alice": "pw-secret"}, region="eu-de")
    with RunningSimulator(config) as running:
        yield running


def keystone_auth(sim: RunningSimulator) -> KeystonePasswordAuth:
    credentials = KeystoneCredentials(
        auth_url=sim.base_url,
        username="alice",
        user_id=None,
        password="pw-secret",
        user_domain_name="Default",
        region_name="eu-de",
    )
    return KeystonePasswordAuth(credentials)


@pytest.mark.parametrize("api", ["nova", "glance"])
def test_keystone_catalog_supplies_the_endpoints(
    keystone_sim: RunningSimulator, ids: Path, tmp_path: Path, api: str
) -> None:
    report = crawl(ids, tmp_path / api, keystone_auth(keystone_sim), endpoint="", api=api)
    assert report.status == "complete"
    counts = report.manifest["counts"]
    assert counts["failed"] == 0
    assert counts["ok"] > 250
    assert sources(report) == {SOURCES[api]}
    settings = json.dumps(report.manifest["settings"])
    assert "pw-secret" not in settings


def test_a_region_the_catalog_lacks_is_an_error_record(
    keystone_sim: RunningSimulator, tmp_path: Path
) -> None:
    project, image = next(keystone_sim.inventory.iter_pairs())
    path = tmp_path / "ids.csv"
    path.write_text(f"project_id,image_id,region\n{project},{image},eu-nl\n")
    report = crawl(path, tmp_path / "out", keystone_auth(keystone_sim), endpoint="", api="nova")
    errors = pq.read_table(report.directory / "errors.parquet").to_pylist()
    assert errors[0]["error_kind"] == "no_endpoint"
    assert "Keystone catalog has no compute endpoint" in errors[0]["message"]
