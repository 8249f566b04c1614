"""``crawler diff`` and the simulator's revisions it is tested against.

Three parts: the diff of hand-written snapshots (exact rows), the simulator's revisions
(the oracle's own properties), and end to end: two crawls of the simulator at revisions 0
and 2, whose diff must equal what the inventory says changed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from crawler.commands.diff import diff
from crawler.config import CrawlSettings
from crawler.crawl import Crawl
from crawler.diff import diff_snapshots, summarize
from crawler.normalize.flatten import METADATA_COLUMNS
from crawler.normalize.schema import CHANGES_SCHEMA, ERRORS_SCHEMA, IMAGES_SCHEMA
from crawler.read import read_arrow
from crawler.simulator import (
    HIDDEN_STATUSES,
    Inventory,
    InventorySpec,
    RunningSimulator,
    SimulatorConfig,
    parse_faults,
    write_id_list,
)
from crawler.simulator.revisions import CUSTOM_KEY, added_per_revision
from crawler.sinks import SINKS

T0 = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
P1, P2, P3 = ("1" * 32, "2" * 32, "3" * 32)


# --- hand-written snapshots -------------------------------------------------------------


def image(project: str, image_id: str, **values: object) -> dict[str, object]:
    """An images row with plausible defaults; ``metadata`` is a dict, stored as JSON."""
    metadata = values.pop("metadata", {"hw_disk_bus": "scsi"})
    row: dict[str, object] = {
        "project_id": project,
        "image_id": image_id,
        "name": "web",
        "status": "ACTIVE",
        "progress": 100,
        "size_bytes": 1 << 30,
        "created_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "updated_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "disk_bus": "scsi",
        "os_family": "linux",
        "os_distro": "ubuntu",
        "os_eol_date": date(2025, 5, 31),
        "os_is_eol": False,
        "metadata_json": json.dumps(metadata, sort_keys=True, separators=(",", ":")),
        "source_api": "nova-proxy",
        "fetched_at": T0,
    }
    return row | values


def error(
    project: str | None, image_id: str | None, kind: str, **values: object
) -> dict[str, object]:
    messages = {
        "not_found": "Image not found.",
        "server_error": "HTTP 503",
        "timeout": "read timeout",
    }
    row: dict[str, object] = {
        "project_id": project,
        "image_id": image_id,
        "error_kind": kind,
        "http_status": {"not_found": 404, "server_error": 503}.get(kind),
        "attempts": 1,
        "message": messages.get(kind, "bad line"),
        "fetched_at": T0,
    }
    return row | values


def snapshot(
    root: Path,
    run_id: str,
    day: str,
    images: list[dict[str, object]],
    errors: list[dict[str, object]],
) -> Path:
    """A committed snapshot directory as a crawl lays it out (only what the diff reads)."""
    directory = root / f"snapshot_date={day}" / f"run_id={run_id}"
    directory.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(images, schema=IMAGES_SCHEMA), directory / "images.parquet")
    pq.write_table(pa.Table.from_pylist(errors, schema=ERRORS_SCHEMA), directory / "errors.parquet")
    manifest = {"run_id": run_id, "snapshot_date": day, "status": "complete", "shard": None}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


OLD_META = {"hw_disk_bus": "scsi", "old_key": "x", "count": 1, "nothing": None}
NEW_META = {"hw_disk_bus": "virtio", "count": "1", "nothing": None, CUSTOM_KEY: "cc-1"}


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    old = snapshot(
        tmp_path,
        "20260101T010000000Z-aaaaaa",
        "2026-01-01",
        [
            image(P1, "i1"),
            image(P1, "i2", metadata=OLD_META),
            image(P2, "i3"),
            image(P2, "i4"),
            image(P2, "i5"),
        ],
        [
            error(P3, "i6", "not_found"),
            error(P3, "i7", "timeout"),
            error(None, "x", "invalid_input"),
        ],
    )
    new = snapshot(
        tmp_path,
        "20260102T010000000Z-bbbbbb",
        "2026-01-02",
        [
            image(P1, "i1", fetched_at=T1, os_is_eol=True),  # ignored columns only
            image(
                P1,
                "i2",
                name="web-2",
                updated_at=datetime(2027, 1, 3, tzinfo=UTC),
                disk_bus="virtio",
                metadata=NEW_META,
                fetched_at=T1,
            ),
            image(P3, "i6"),
            image(P3, "i7"),
            image(P3, "i8"),
        ],
        [
            error(P2, "i3", "not_found"),
            error(P2, "i4", "server_error"),
            error("bad", "x", "invalid_input"),
        ],
    )
    return old, new


EXPECTED = [
    ("added", P3, "i6", None, None, None, None),
    ("added", P3, "i8", None, None, None, None),
    ("removed", P2, "i3", None, None, None, None),
    ("changed", P1, "i2", "name", "web", "web-2", None),
    ("changed", P1, "i2", "updated_at", "2024-01-02T03:04:05Z", "2027-01-03T00:00:00Z", None),
    ("changed", P1, "i2", "disk_bus", "scsi", "virtio", None),
    ("changed", P1, "i2", f"metadata.{CUSTOM_KEY}", None, '"cc-1"', None),
    ("changed", P1, "i2", "metadata.count", "1", '"1"', None),
    ("changed", P1, "i2", "metadata.hw_disk_bus", '"scsi"', '"virtio"', None),
    ("changed", P1, "i2", "metadata.old_key", '"x"', None, None),
    ("unknown", P2, "i4", None, None, None, "server_error: HTTP 503"),
    ("unknown", P2, "i5", None, None, None, "not in the new run's input"),
    ("unknown", P3, "i7", None, None, None, "old run failed: timeout"),
]


def rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_diff_of_hand_written_snapshots_is_exact(pair: tuple[Path, Path]) -> None:
    changes = diff_snapshots(*pair)
    assert changes.schema.equals(CHANGES_SCHEMA, check_metadata=True)
    assert rows(changes) == EXPECTED
    assert summarize(changes) == {
        "added": 2,
        "removed": 1,
        "changed": 1,
        "changed_fields": 7,
        "unknown": 3,
    }


def test_diff_reads_csv_when_there_is_no_parquet(pair: tuple[Path, Path]) -> None:
    for directory in pair:
        for table, schema in (("images", IMAGES_SCHEMA), ("errors", ERRORS_SCHEMA)):
            sink = SINKS["csv"](directory / f"{table}.csv", schema)
            sink.write_batch(pq.read_table(directory / f"{table}.parquet"))
            sink.close()
            (directory / f"{table}.parquet").unlink()
            assert read_arrow(directory, table, "csv").schema.equals(schema)  # type: ignore[arg-type]
    assert rows(diff_snapshots(*pair)) == EXPECTED


def test_identical_snapshots_have_no_changes(pair: tuple[Path, Path]) -> None:
    old, _ = pair
    assert diff_snapshots(old, old).num_rows == 0


def test_columns_only_one_snapshot_has_are_not_compared(pair: tuple[Path, Path]) -> None:
    """An OLD snapshot of an older schema (no os_* columns) gives no os_* changes."""
    old = pair[0]
    images = pq.read_table(old / "images.parquet")
    older = [name for name in images.column_names if not name.startswith("os_")]
    pq.write_table(images.select(older), old / "images.parquet")
    assert rows(diff_snapshots(*pair)) == EXPECTED


def test_empty_snapshots(tmp_path: Path) -> None:
    old = snapshot(tmp_path, "20260101T010000000Z-aaaaaa", "2026-01-01", [], [])
    new = snapshot(tmp_path, "20260102T010000000Z-bbbbbb", "2026-01-02", [image(P1, "i1")], [])
    assert diff_snapshots(old, old).num_rows == 0
    assert rows(diff_snapshots(old, new)) == [("added", P1, "i1", None, None, None, None)]
    assert rows(diff_snapshots(new, old)) == [
        ("unknown", P1, "i1", None, None, None, "not in the new run's input")
    ]


def test_diff_command_writes_changes_into_new(pair: tuple[Path, Path], tmp_path: Path) -> None:
    new = pair[1]
    result = CliRunner().invoke(diff, ["previous", "latest", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "added:    2" in result.output
    assert "changed:  1 images, 7 fields" in result.output
    assert rows(read_arrow(new, "changes")) == EXPECTED
    assert rows(read_arrow(new, "changes", "csv")) == EXPECTED
    document = json.loads((new / "changes.json").read_text())
    assert document["old"]["run_id"] == "20260101T010000000Z-aaaaaa"
    assert document["new"]["run_id"] == "20260102T010000000Z-bbbbbb"
    assert document["counts"]["removed"] == 1
    assert not list(new.glob(".*"))  # no temporary files left


def test_diff_command_by_path_and_out_dir(pair: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = pair
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        diff, [str(old), "20260102T010000000Z-bbbbbb", "--output", str(tmp_path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"changes.parquet", "changes.csv", "changes.json"}
    assert not (new / "changes.parquet").exists()


def test_diff_command_errors(pair: tuple[Path, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(diff, ["latest", "latest", "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert "same snapshot" in result.output
    result = CliRunner().invoke(diff, ["nope", "latest", "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert "no committed snapshot 'nope'" in result.output


# --- the simulator's revisions ----------------------------------------------------------

REV_SPEC = InventorySpec(images=1900, projects=24, seed=11)


def at(revision: int, spec: InventorySpec = REV_SPEC) -> Inventory:
    return Inventory(InventorySpec(spec.images, spec.projects, spec.seed, revision))


def served(inventory: Inventory, index: int) -> dict[str, object] | None:
    """The record the owner gets a 200 for, or None when the simulator answers 404."""
    record = inventory.record(index)
    return None if record is None or record["status"] in HIDDEN_STATUSES else record


def test_revision_zero_is_the_inventory_as_it_was() -> None:
    plain, zero = Inventory(REV_SPEC), at(0)
    assert len(plain) == len(zero) == REV_SPEC.images
    assert all(zero.record(i) == plain.glance_record(i) for i in range(len(plain)))
    assert zero.record(len(plain)) is None  # an index added later does not exist yet


def test_revisions_change_delete_and_add_at_the_documented_rates() -> None:
    spec = InventorySpec(images=20_000, projects=30, seed=4)
    before, after = at(1, spec), at(2, spec)
    assert len(after) - len(before) == added_per_revision(spec.images) == 200
    changed = deleted = 0
    for index in range(len(before)):
        old, new = before.record(index), after.record(index)
        if old is not None and new is None:
            deleted += 1
        elif old is not None and new != old:
            changed += 1
            assert new is not None
            assert new["updated_at"] > old["updated_at"]
            assert {k: new[k] for k in ("id", "owner", "created_at")} == {
                k: old[k] for k in ("id", "owner", "created_at")
            }
        assert not (old is None and new is not None)  # no image comes back
    assert 0.015 < changed / len(before) < 0.025
    assert 0.007 < deleted / len(before) < 0.013


def test_revisions_agree_on_the_past() -> None:
    """Gone stays gone; an image untouched since revision 1 is the same at 1 and 3; an
    added image is born on its night and does not exist before."""
    zero, one, three = at(0), at(1), at(3)
    for index in range(len(one)):
        before, after = one.record(index), three.record(index)
        if before is None:
            assert after is None
        elif after is not None and after["updated_at"] < "2027-01-03":
            assert after == before  # no change on nights 2 and 3
    per_night = added_per_revision(REV_SPEC.images)
    for night, index in enumerate(range(REV_SPEC.images, len(three), per_night), start=1):
        assert three.born(index) == night
        assert zero.record(index) is None
        assert (one.record(index) is None) == (night > 1)
        record = three.glance_record(index)
        assert str(record["created_at"]).startswith(f"2027-01-0{night + 1}T")


def test_revision_validation() -> None:
    with pytest.raises(ValueError, match="revision"):
        InventorySpec(revision=-1)
    with pytest.raises(ValueError, match="exceed"):
        InventorySpec(images=2**40, revision=1)


# --- end to end: crawl revision 0 and revision 2, then diff -----------------------------


def crawl(simulator: RunningSimulator, ids: Path, out: Path, **settings: object) -> Path:
    config = CrawlSettings(
        endpoint=simulator.base_url,
        input_path=str(ids),
        output_dir=out,
        concurrency=16,
        **settings,  # type: ignore[arg-type]
    )
    return anyio.run(Crawl(config).run).directory


Key = tuple[str, str]


def oracle(old: Inventory, new: Inventory) -> tuple[set[Key], set[Key], dict[Key, set[str]]]:
    """(added, removed, changed -> fields) as the inventory says, for the owners' requests."""
    added, removed, changed = set(), set(), {}
    for index in range(len(new)):
        key = (new.owner(index), new.image_id(index))
        before, after = served(old, index), served(new, index)
        if before is None and after is not None:
            added.add(key)
        elif before is not None and after is None:
            removed.add(key)
        elif before is not None and after is not None and before != after:
            changed[key] = expected_fields(before, after)
    return added, removed, changed


# Glance fields the revisions change, and the columns they land in (status sets progress).
TOP_LEVEL = {"name": {"name"}, "status": {"status", "progress"}, "updated_at": {"updated_at"}}


def expected_fields(before: dict[str, object], after: dict[str, object]) -> set[str]:
    fields: set[str] = set()
    for key in before.keys() | after.keys():
        if before.get(key, ...) == after.get(key, ...):
            continue
        if key in TOP_LEVEL:
            fields |= TOP_LEVEL[key]
        else:  # a metadata key, and the column copied from it, if any
            fields.add(f"metadata.{key}")
            fields |= {column for column, name in METADATA_COLUMNS.items() if name == key}
    return fields


def changed_fields(changes: pa.Table) -> dict[Key, set[str]]:
    found: dict[Key, set[str]] = {}
    for row in changes.to_pylist():
        if row["change"] == "changed":
            found.setdefault((row["project_id"], row["image_id"]), set()).add(row["field"])
    return found


def keys_of(changes: pa.Table, change: str) -> set[Key]:
    return {(r["project_id"], r["image_id"]) for r in changes.to_pylist() if r["change"] == change}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Snapshots of revision 0, of revision 2, and of revision 2 with failures.

    Every run reads revision 2's id list: at revision 0 the images added since answer 404.
    """
    root = tmp_path_factory.mktemp("diff")
    ids = root / "ids.csv"
    write_id_list(at(2), ids, unknown=30)
    runs = {}
    for name, revision, faults in (
        ("old", 0, "none"),
        ("new", 2, "none"),
        ("failing", 2, "error_rate=0.1,seed=5"),
    ):
        spec = InventorySpec(REV_SPEC.images, REV_SPEC.projects, REV_SPEC.seed, revision)
        config = SimulatorConfig(inventory=spec, faults=parse_faults(faults))
        with RunningSimulator(config) as simulator:
            runs[name] = crawl(simulator, ids, root / name, max_attempts=1)
    return runs


def test_diff_of_two_revisions_matches_the_inventory(crawled: dict[str, Path]) -> None:
    added, removed, changed = oracle(at(0), at(2))
    assert added
    assert removed
    assert changed
    changes = diff_snapshots(crawled["old"], crawled["new"])
    assert keys_of(changes, "added") == added
    assert keys_of(changes, "removed") == removed
    assert changed_fields(changes) == changed
    assert keys_of(changes, "unknown") == set()
    assert summarize(changes)["changed"] == len(changed)


def test_failed_items_are_unknown_never_removed(crawled: dict[str, Path]) -> None:
    added, removed, changed = oracle(at(0), at(2))
    errors = pq.read_table(crawled["failing"] / "errors.parquet").to_pylist()
    failed = {(e["project_id"], e["image_id"]) for e in errors if e["error_kind"] != "not_found"}
    assert len(failed) > 50
    old_images = pq.read_table(
        crawled["old"] / "images.parquet", columns=["project_id", "image_id"]
    )
    in_old = set(zip(*old_images.to_pydict().values(), strict=True))

    changes = diff_snapshots(crawled["old"], crawled["failing"])
    assert keys_of(changes, "unknown") == failed & in_old
    assert keys_of(changes, "removed") == removed - failed
    assert keys_of(changes, "added") == added - failed
    assert changed_fields(changes).keys() == changed.keys() - failed
    details = {r["detail"] for r in changes.to_pylist() if r["change"] == "unknown"}
    assert all(d.startswith("server_error: ") for d in details)
