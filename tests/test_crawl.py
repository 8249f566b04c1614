"""End-to-end crawls against the simulator over real loopback HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from crawler.config import CrawlSettings
from crawler.crawl import Crawl, CrawlReport
from crawler.normalize.schema import ERRORS_SCHEMA, IMAGES_SCHEMA, SCHEMA_VERSION
from crawler.read import read_frame
from crawler.simulator import RunningSimulator
from tests.conftest import id_list

BAD_PROJECT = "0123456789abcdefXYZ456789abcdef0,3f1c2a9e-0000-4000-8000-000000000000"
BAD_IMAGE = "0123456789abcdef0123456789abcdef,3f1c2a9e-zzzz-4000-8000-000000000000"


async def crawl(simulator: RunningSimulator, ids: Path, out: Path, **kw: object) -> CrawlReport:
    settings = CrawlSettings(
        endpoint=simulator.base_url,
        input_path=str(ids),
        output_dir=out,
        **kw,  # type: ignore[arg-type]
    )
    return await Crawl(settings).run()


@pytest.fixture(scope="module")
def messy_input(simulator: RunningSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~2,000 IDs: the inventory, 100 unknown IDs, 40 repeats and two malformed lines."""
    path = id_list(simulator, tmp_path_factory.mktemp("in") / "ids.csv", unknown=100)
    pairs = list(simulator.inventory.iter_pairs())[:40]
    with path.open("a") as handle:
        handle.writelines(f"{p},{i}\n" for p, i in pairs)
        handle.write(BAD_PROJECT + "\n" + BAD_IMAGE + "\n")
    return path


@pytest.fixture(scope="module")
def report(
    simulator: RunningSimulator, messy_input: Path, tmp_path_factory: pytest.TempPathFactory
) -> CrawlReport:
    import anyio

    out = tmp_path_factory.mktemp("out")
    return anyio.run(lambda: crawl(simulator, messy_input, out, concurrency=16, batch_rows=300))


def test_every_input_ends_exactly_once_and_counts_reconcile(
    report: CrawlReport, simulator: RunningSimulator, messy_input: Path
) -> None:
    counts = report.manifest["counts"]
    assert isinstance(counts, dict)
    total_lines = len(messy_input.read_text().splitlines()) - 1
    assert counts["input"] == total_lines == 1900 + 100 + 40 + 2
    assert counts["duplicates"] == 40
    assert counts["invalid"] == 2
    assert counts["unique"] == 2000
    assert counts["unique"] == counts["ok"] + counts["not_found"] + counts["failed"]
    assert counts["failed"] == 0

    images = pq.read_table(report.directory / "images.parquet").to_pandas()
    errors = pq.read_table(report.directory / "errors.parquet").to_pandas()
    assert len(images) == counts["ok"]
    assert len(errors) == counts["not_found"] + counts["invalid"]
    fetched = set(zip(images.project_id, images.image_id, strict=True))
    failed = set(zip(errors.project_id, errors.image_id, strict=True))
    assert not fetched & failed
    wanted = set(simulator.inventory.iter_pairs()) | set(simulator.inventory.unknown_pairs(100))
    assert fetched | {pair for pair in failed if pair in wanted} == wanted

    # The simulator really served each unique pair once: no duplicate was fetched twice.
    served = simulator.stats()
    assert served["200"] == counts["ok"]
    assert served["404"] == counts["not_found"]


def test_unknown_and_deleted_images_are_not_found(
    report: CrawlReport, simulator: RunningSimulator
) -> None:
    errors = read_frame(report.directory, "errors")
    not_found = errors[errors.error_kind == "not_found"]
    assert set(not_found.http_status) == {404}
    assert set(not_found.message) == {"Image not found."}
    assert not_found.request_id.str.match(r"^req-[0-9a-f-]{36}$").all()
    unknown = {image for _, image in simulator.inventory.unknown_pairs(100)}
    assert unknown <= set(not_found.image_id)


def test_malformed_lines_name_file_and_line(report: CrawlReport, messy_input: Path) -> None:
    errors = read_frame(report.directory, "errors")
    invalid = errors[errors.error_kind == "invalid_input"].sort_values("message")
    last = len(messy_input.read_text().splitlines())
    assert list(invalid.message) == [
        f"{messy_input}:{last - 1}: project_id '0123456789abcdefXYZ456789abcdef0' "
        "is not 32 hexadecimal characters",
        f"{messy_input}:{last}: image_id '3f1c2a9e-zzzz-4000-8000-000000000000' "
        "is not a UUID (8-4-4-4-12 hex digits)",
    ]
    assert set(invalid.attempts) == {0}
    assert invalid.http_status.isna().all()


def test_manifest_describes_the_run(report: CrawlReport, messy_input: Path) -> None:
    manifest = json.loads((report.directory / "manifest.json").read_text())
    assert manifest == report.manifest | {"files": manifest["files"]}
    assert manifest["status"] == "complete"
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["input"]["path"] == str(messy_input.resolve())
    import hashlib

    assert manifest["input"]["sha256"] == hashlib.sha256(messy_input.read_bytes()).hexdigest()
    assert manifest["auth"]["method"] == "none"
    assert manifest["requests"]["total"] == manifest["counts"]["unique"]
    assert manifest["requests"]["per_second"] > 0
    for name, info in manifest["files"].items():
        data = (report.directory / name).read_bytes()
        assert info["sha256"] == hashlib.sha256(data).hexdigest()
        assert info["bytes"] == len(data)
    assert manifest["files"]["images.parquet"]["rows"] == manifest["counts"]["ok"]
    assert report.directory.name == f"run_id={manifest['run_id']}"
    assert report.directory.parent.name == f"snapshot_date={manifest['snapshot_date']}"


def test_parquet_carries_the_schema_and_its_version(report: CrawlReport) -> None:
    for table, schema in (("images", IMAGES_SCHEMA), ("errors", ERRORS_SCHEMA)):
        stored = pq.read_schema(report.directory / f"{table}.parquet")
        assert stored.equals(schema, check_metadata=False)
        assert stored.metadata[b"imagecrawler.schema_version"] == str(SCHEMA_VERSION).encode()
        assert stored.metadata[b"imagecrawler.table"] == table.encode()
    codec = pq.ParquetFile(report.directory / "images.parquet").metadata.row_group(0).column(0)
    assert codec.compression == "ZSTD"


EXPECTED_DTYPES = {
    "string": pd.StringDtype(),
    "int32": pd.Int32Dtype(),
    "int64": pd.Int64Dtype(),
    "timestamp[us, tz=UTC]": pd.DatetimeTZDtype("us", "UTC"),
    "date32[day]": pd.api.types.pandas_dtype("object"),  # datetime.date values
    "bool": pd.BooleanDtype(),
}


@pytest.mark.parametrize("table", ["images", "errors"])
def test_parquet_and_csv_round_trip_through_pandas_with_declared_dtypes(
    report: CrawlReport, table: str
) -> None:
    schema = IMAGES_SCHEMA if table == "images" else ERRORS_SCHEMA
    parquet = read_frame(report.directory, table, "parquet")  # type: ignore[arg-type]
    csv = read_frame(report.directory, table, "csv")  # type: ignore[arg-type]
    expected = {f.name: EXPECTED_DTYPES[str(f.type)] for f in schema}
    assert dict(parquet.dtypes) == expected
    assert dict(csv.dtypes) == expected
    # Same content, except CSV cells neutralised against formula injection.
    for column in csv.columns:
        if isinstance(csv[column].dtype, pd.StringDtype):
            neutralised = csv[column].str.match(r"^'[=+\-@\t\r]").fillna(False)
            original = parquet[column].where(~neutralised, "'" + parquet[column])
            pd.testing.assert_series_equal(csv[column], original, check_names=False)
        else:
            pd.testing.assert_series_equal(csv[column], parquet[column], check_names=False)


def test_formula_looking_names_are_neutralised_in_csv_only(report: CrawlReport) -> None:
    parquet = read_frame(report.directory, "images")
    risky = parquet[parquet.name.str.match(r"^[=+\-@]").fillna(False)]
    assert len(risky) > 0, "the simulator's inventory should contain formula-looking names"
    csv_text = (report.directory / "images.csv").read_text()
    for name in risky.name:
        assert f"\"'{name}" in csv_text.replace('""', '"') or f"'{name}" in csv_text


def test_rows_match_what_the_simulator_holds(
    report: CrawlReport, simulator: RunningSimulator
) -> None:
    images = read_frame(report.directory, "images").set_index("image_id")
    inventory = simulator.inventory
    checked = 0
    for index in range(0, len(inventory), 97):
        record = inventory.glance_record(index)
        image_id = inventory.image_id(index)
        if image_id not in images.index:
            continue
        row = images.loc[image_id]
        assert row.project_id == inventory.owner(index)
        assert row["name"] is pd.NA if record.get("name") is None else row["name"] == record["name"]
        assert row.os_version == record.get("__os_version", pd.NA) or (
            pd.isna(row.os_version) and "__os_version" not in record
        )
        metadata = json.loads(row.metadata_json)
        assert metadata.get("__os_type") == record.get("__os_type")
        assert row.source_api == "nova-proxy"
        checked += 1
    assert checked > 10
