"""``crawler audit``: policy validation, every rule type's hits and misses on a hand-written
snapshot (exact findings), the files it writes, exit codes, and a 200k-row smoke run."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from crawler.audit import (
    RULE_TYPES,
    audit_snapshot,
    columns_for,
    evaluate,
    load_policy,
    resolve_eol,
)
from crawler.commands.audit import audit
from crawler.errors import ConfigError, SnapshotError
from crawler.lifecycle_data import packaged_lifecycle
from crawler.normalize.schema import FINDINGS_SCHEMA, IMAGES_SCHEMA
from crawler.read import read_frame

AS_OF = date(2026, 11, 27)
P1, P2 = "1" * 32, "2" * 32
GIB = 1 << 30
CONFIGS = Path(__file__).parents[1] / "configs"

POLICY = """\
rules:
  - {id: os-eol, type: os_eol, severity: high, message: "OS is past its end of life"}
  - id: os-eol-soon
    type: os_eol
    severity: medium
    message: "OS reaches its end of life soon"
    within_days: 90
    only_upcoming: true
  - id: os-allowlist
    type: os_allowlist
    severity: medium
    allow: ["ubuntu 22.04", "Ubuntu 24.04", "rhel 9", "windows-server 2022"]
  - {id: disk-bus, type: disk_bus, severity: low, allowed: [virtio, SCSI]}
  - {id: disk-bus-set, type: disk_bus, severity: low, allowed: [virtio, scsi], require: true}
  - {id: required-metadata, type: required_metadata, severity: low,
     keys: [__os_version, hw_disk_bus]}
  - {id: not-active, type: status, severity: medium, allowed: [active]}
  - {id: old-image, type: max_age, severity: low, days: 730}
  - {id: min-disk, type: min_disk_vs_size, severity: medium}
"""


def image(image_id: str, project: str = P1, **values: object) -> dict[str, object]:
    """An images row that no rule of POLICY flags, changed by ``values``."""
    metadata = values.pop("metadata", {"__os_version": "Ubuntu 22.04 64bit", "hw_disk_bus": "scsi"})
    row: dict[str, object] = {
        "project_id": project,
        "image_id": image_id,
        "name": image_id,
        "status": "ACTIVE",
        "size_bytes": 2 * GIB,
        "min_disk_gb": 40,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "disk_bus": "scsi",
        "os_family": "linux",
        "os_distro": "ubuntu",
        "os_release": "22.04",
        "os_major": 22,
        "os_eol_date": date(2027, 4, 30),
        "metadata_json": json.dumps(metadata, sort_keys=True, separators=(",", ":")),
        "source_api": "nova-proxy",
        "fetched_at": datetime(2026, 11, 27, 2, tzinfo=UTC),
    }
    return row | values


WIN = {"os_family": "windows", "os_distro": "windows-server"}
ROWS = [
    image("i01"),  # nothing
    image("i02", os_distro="centos", os_release="7.6", os_major=7, os_eol_date=date(2024, 6, 30)),
    image("i03", os_distro="rhel", os_release="9.2", os_major=9, os_eol_date=date(2032, 5, 31)),
    # No EOL date in the snapshot: the packaged table's (2025-05-31) fills it.
    image("i04", P2, os_release="20.04", os_major=20, os_eol_date=None),
    image(
        "i05",
        P2,
        **WIN,
        os_release="2016",
        os_major=2016,
        os_eol_date=date(2027, 1, 12),
        disk_bus="IDE",
        metadata={"__os_version": "Windows Server 2016", "hw_disk_bus": "IDE"},
    ),
    # EOL on the snapshot date: still supported that day; the snapshot's date wins over
    # the packaged table's 2032.
    image("i06", P2, os_distro="rhel", os_release="9.4", os_major=9, os_eol_date=AS_OF),
    image("i07", status="SAVING", disk_bus=None, metadata={"__os_version": "Ubuntu 22.04"}),
    image("i08", created_at=datetime(2024, 11, 26, 23, 59, tzinfo=UTC)),  # 731 days
    image("i09", P2, created_at=datetime(2024, 11, 27, tzinfo=UTC), min_disk_gb=1),  # 730 days
    # A value spelling the key is not the key; a null status is not an allowed one.
    image("i10", P2, status=None, metadata={"hw_disk_bus": "scsi", "x": '{"__os_version":1}'}),
    image(
        "i11",
        os_family="unknown",
        os_distro="unknown",
        os_release=None,
        os_major=None,
        os_eol_date=None,
        min_disk_gb=None,
    ),
    # min_disk exactly the size; an empty value is still a key.
    image("i12", P2, min_disk_gb=2, metadata={"__os_version": "", "hw_disk_bus": "virtio"}),
    image("i13", P2, min_disk_gb=0, size_bytes=1),  # 0 is "no minimum", flagged by default
]

EXPECTED = {
    ("os-eol", P1, "i02"),
    ("os-eol", P2, "i04"),
    ("os-eol-soon", P2, "i05"),
    ("os-eol-soon", P2, "i06"),
    ("os-allowlist", P1, "i02"),
    ("os-allowlist", P2, "i04"),
    ("os-allowlist", P2, "i05"),
    ("os-allowlist", P1, "i11"),
    ("disk-bus", P2, "i05"),
    ("disk-bus-set", P2, "i05"),
    ("disk-bus-set", P1, "i07"),
    ("required-metadata", P1, "i07"),
    ("required-metadata", P2, "i10"),
    ("not-active", P1, "i07"),
    ("not-active", P2, "i10"),
    ("old-image", P1, "i08"),
    ("min-disk", P2, "i09"),
    ("min-disk", P2, "i13"),
}


def write_snapshot(root: Path, rows: list[dict[str, object]], run_id: str = "X") -> Path:
    directory = root / f"snapshot_date={AS_OF.isoformat()}" / f"run_id={run_id}"
    directory.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=IMAGES_SCHEMA), directory / "images.parquet")
    manifest = {"status": "complete", "run_id": run_id, "snapshot_date": AS_OF.isoformat()}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return write_snapshot(tmp_path / "output", ROWS)


def keys(findings: pa.Table) -> set[tuple[str, str, str]]:
    return set(
        zip(*(findings[c].to_pylist() for c in ("rule", "project_id", "image_id")), strict=True)
    )


def evidence(findings: pa.Table, rule: str, image_id: str) -> str:
    rows = [r for r in findings.to_pylist() if (r["rule"], r["image_id"]) == (rule, image_id)]
    assert len(rows) == 1
    return str(rows[0]["evidence"])


# --- findings -------------------------------------------------------------------------------


def test_exact_findings(snapshot: Path, policy_file: Path) -> None:
    result = audit_snapshot(snapshot, load_policy(policy_file))
    findings = result.findings
    assert findings.schema == FINDINGS_SCHEMA
    assert keys(findings) == EXPECTED
    assert findings.num_rows == len(EXPECTED)  # one finding per (rule, image)
    assert evidence(findings, "os-eol", "i02") == (
        "os_distro=centos os_release=7.6 os_eol_date=2024-06-30"
    )
    assert evidence(findings, "os-eol", "i04") == (
        "os_distro=ubuntu os_release=20.04 os_eol_date=2025-05-31"
    )
    assert evidence(findings, "os-allowlist", "i11") == (
        "os_distro=unknown os_release=null os_major=null"
    )
    assert evidence(findings, "disk-bus", "i05") == "disk_bus=IDE"
    assert evidence(findings, "disk-bus-set", "i07") == "disk_bus=null"
    assert evidence(findings, "required-metadata", "i07") == "missing=hw_disk_bus"
    assert evidence(findings, "required-metadata", "i10") == "missing=__os_version"
    assert evidence(findings, "not-active", "i10") == "status=null"
    assert evidence(findings, "old-image", "i08") == "created_at=2024-11-26 age_days=731"
    assert evidence(findings, "min-disk", "i09") == "min_disk_gb=1 size_bytes=2147483648"
    messages = dict(zip(findings["rule"].to_pylist(), findings["message"].to_pylist(), strict=True))
    assert messages["os-eol"] == "OS is past its end of life"
    assert messages["min-disk"] == RULE_TYPES["min_disk_vs_size"].MESSAGE  # the default


def test_findings_are_ordered_by_rule_then_project_then_image(
    snapshot: Path, policy_file: Path
) -> None:
    policy = load_policy(policy_file)
    findings = audit_snapshot(snapshot, policy).findings
    order = {rule.id: i for i, rule in enumerate(policy.rules)}
    rows = list(
        zip(*(findings[c].to_pylist() for c in ("rule", "project_id", "image_id")), strict=True)
    )
    assert rows == sorted(rows, key=lambda r: (order[r[0]], r[1], r[2]))


def test_counts(snapshot: Path, policy_file: Path) -> None:
    result = audit_snapshot(snapshot, load_policy(policy_file))
    assert result.images == len(ROWS)
    assert result.as_of == AS_OF
    assert result.by_rule["os-eol"] == 2
    assert result.by_rule["os-allowlist"] == 4
    assert list(result.by_rule) == [rule.id for rule in load_policy(policy_file).rules]
    assert result.by_project[P1] == {"low": 3, "medium": 3, "high": 1, "critical": 0}
    assert result.by_project[P2] == {"low": 3, "medium": 7, "high": 1, "critical": 0}
    assert result.at_or_above("high") == 2
    assert result.at_or_above("critical") == 0
    assert result.at_or_above("low") == len(EXPECTED)


def test_ignore_zero_and_the_eol_window(snapshot: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "rules:\n"
        "  - {id: m, type: min_disk_vs_size, severity: low, ignore_zero: true}\n"
        "  - {id: e, type: os_eol, severity: low, within_days: 46}\n",
        encoding="utf-8",
    )
    findings = audit_snapshot(snapshot, load_policy(path)).findings
    # 2026-11-27 + 46 days is 2027-01-12, i05's EOL day: still supported on it.
    assert keys(findings) == {
        ("m", P2, "i09"),
        ("e", P1, "i02"),
        ("e", P2, "i04"),
        ("e", P2, "i06"),
    }
    path.write_text("rules: [{id: e, type: os_eol, severity: low, within_days: 47}]\n")
    assert ("e", P2, "i05") in keys(audit_snapshot(snapshot, load_policy(path)).findings)


def test_a_lifecycle_override_wins_over_the_snapshot(
    snapshot: Path, policy_file: Path, tmp_path: Path
) -> None:
    override = tmp_path / "eol.csv"
    override.write_text(
        "distro,release,eol,source,note\n"
        "ubuntu,22.04,2026-01-31,https://example.com/eol,our own support ends early\n",
        encoding="utf-8",
    )
    result = audit_snapshot(snapshot, load_policy(policy_file), lifecycle_override=override)
    eol = {image_id for rule, _, image_id in keys(result.findings) if rule == "os-eol"}
    assert eol == {"i01", "i02", "i04", "i07", "i08", "i09", "i10", "i12", "i13"}
    document = json.loads((snapshot / "audit.json").read_text(encoding="utf-8"))
    assert document["lifecycle"]["override"] == {
        "path": str(override),
        "sha256": hashlib.sha256(override.read_bytes()).hexdigest(),
    }


def test_resolve_eol_precedence() -> None:
    rows = [
        image("a", os_eol_date=None),  # table: 22.04 -> 2027-04-30
        image("b", os_eol_date=date(2030, 1, 1)),  # the snapshot's wins over the table
        image("c", os_distro="nobody", os_eol_date=None),  # nowhere
    ]
    images = pa.Table.from_pylist(rows, schema=IMAGES_SCHEMA)
    dates = resolve_eol(images, packaged_lifecycle()).to_pylist()
    assert dates == [date(2027, 4, 30), date(2030, 1, 1), None]
    assert resolve_eol(images, None).to_pylist() == [None, date(2030, 1, 1), None]


# --- files -------------------------------------------------------------------------------


def test_files_read_back(snapshot: Path, policy_file: Path) -> None:
    result = audit_snapshot(snapshot, load_policy(policy_file))
    assert [p.name for p in result.files] == ["findings.parquet", "findings.csv", "audit.json"]
    for fmt in ("parquet", "csv"):
        frame = read_frame(snapshot, "findings", fmt)
        assert len(frame) == len(EXPECTED)
        found = zip(frame["rule"], frame["project_id"], frame["image_id"], strict=True)
        assert set(found) == EXPECTED
        assert list(frame["evidence"]) == result.findings["evidence"].to_pylist()
    assert not list(snapshot.glob(".*"))  # no temporary file left behind
    document = json.loads((snapshot / "audit.json").read_text(encoding="utf-8"))
    assert document["as_of"] == "2026-11-27"
    assert document["policy"] == {
        "path": str(policy_file),
        "sha256": hashlib.sha256(policy_file.read_bytes()).hexdigest(),
    }
    assert document["counts"]["findings"] == len(EXPECTED)
    assert document["counts"]["by_severity"] == {"low": 6, "medium": 10, "high": 2, "critical": 0}
    assert document["lifecycle"] == {"compiled": "2026-11-27", "override": None}


def test_an_empty_audit_writes_empty_files(tmp_path: Path, policy_file: Path) -> None:
    directory = write_snapshot(tmp_path, [image("i01")])
    result = audit_snapshot(directory, load_policy(policy_file))
    assert result.findings.num_rows == 0
    assert len(read_frame(directory, "findings", "csv")) == 0
    assert result.by_rule == dict.fromkeys(result.by_rule, 0)


def test_a_csv_only_snapshot_is_read(tmp_path: Path, policy_file: Path, snapshot: Path) -> None:
    from crawler.sinks import SINKS

    directory = tmp_path / "csv-only"
    directory.mkdir()
    (directory / "manifest.json").write_bytes((snapshot / "manifest.json").read_bytes())
    sink = SINKS["csv"](directory / "images.csv", IMAGES_SCHEMA)
    sink.write_batch(pa.Table.from_pylist(ROWS, schema=IMAGES_SCHEMA))
    sink.close()
    assert keys(audit_snapshot(directory, load_policy(policy_file)).findings) == EXPECTED


def test_an_unreadable_snapshot_is_a_snapshot_error(tmp_path: Path, policy_file: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text('{"snapshot_date": "2026-11-27"}', encoding="utf-8")
    pq.write_table(pa.table({"project_id": [P1], "image_id": ["i"]}), old / "images.parquet")
    with pytest.raises(SnapshotError, match="has no column 'status'"):
        audit_snapshot(old, load_policy(policy_file))
    (old / "manifest.json").write_text('{"run_id": "X"}', encoding="utf-8")
    with pytest.raises(SnapshotError, match="no readable snapshot_date"):
        audit_snapshot(old, load_policy(policy_file))
    code, _, stderr = run(str(old), "--policy", str(policy_file))
    assert code == 3
    assert "snapshot_date" in stderr


# --- policy validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: []\n", "'rules' must be a non-empty list"),
        ("rulez: []\n", "unknown key 'rulez'"),
        (
            "rules: [{id: a, type: os_eol, severity: high, within_day: 3}]",
            "unknown key 'within_day'",
        ),
        (
            "rules: [{id: a, type: status, severity: low, days: 3, allowed: [A]}]",
            "unknown key 'days'",
        ),
        ("rules: [{id: a, type: os_eoll, severity: high}]", "unknown rule type 'os_eoll'"),
        ("rules: [{type: os_eol, severity: high}]", "'id' is required"),
        ("rules: [{id: a, type: os_eol, severity: severe}]", "severity must be one of"),
        ("rules: [{id: a, type: os_eol}]", "severity must be one of"),
        ("rules: [{id: a, type: status, severity: low}]", "status needs 'allowed'"),
        ("rules: [{id: a, type: status, severity: low, allowed: []}]", "allowed must be"),
        ("rules: [{id: a, type: max_age, severity: low, days: -1}]", "days must be"),
        ("rules: [{id: a, type: max_age, severity: low, days: '3'}]", "days must be"),
        ("rules: [{id: a, type: os_eol, severity: low, only_upcoming: 1}]", "true or false"),
        (
            "rules: [{id: a, type: os_eol, severity: low}, {id: a, type: os_eol, severity: low}]",
            "duplicate rule id 'a'",
        ),
        ("rules: [{id: a, type: os_eol, severity: low, severity: high}]", "duplicate key"),
        ("rules: [{id: a, type: os_eol\n", "not valid YAML"),
        ("- just a list\n", "a policy is a mapping"),
    ],
)
def test_policy_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_the_example_policy_loads_and_uses_every_rule_type() -> None:
    policy = load_policy(CONFIGS / "policy.yaml")
    assert {type(rule) for rule in policy.rules} == set(RULE_TYPES.values())


# --- the command ----------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(audit, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("fail_on", "code", "message"),
    [
        ([], 0, ""),
        (["--fail-on", "never"], 0, ""),
        (["--fail-on", "high"], 5, "2 findings at or above high: exit 5\n"),
        (["--fail-on", "medium"], 5, "12 findings at or above medium: exit 5\n"),
        (["--fail-on", "critical"], 0, ""),
    ],
)
def test_exit_codes(
    snapshot: Path, policy_file: Path, fail_on: list[str], code: int, message: str
) -> None:
    output = snapshot.parents[1]
    exit_code, stdout, stderr = run("--policy", str(policy_file), "--output", str(output), *fail_on)
    assert (exit_code, stderr) == (code, message)
    assert f"written:  {snapshot / 'findings.parquet'}" in stdout  # the findings are written


def test_the_summary(snapshot: Path, policy_file: Path) -> None:
    exit_code, stdout, _ = run(str(snapshot), "--policy", str(policy_file))
    assert exit_code == 0
    lines = stdout.splitlines()
    assert lines[0] == f"snapshot: {snapshot}"
    assert "as of:    2026-11-27" in lines
    assert "images:   13" in lines
    rule_lines = {
        line.split()[0]: line.split()[1:] for line in lines if line.startswith(("os-", "min-"))
    }
    assert rule_lines["os-eol"] == ["high", "2"]
    assert rule_lines["os-allowlist"] == ["medium", "4"]
    header = next(line for line in lines if line.startswith("project"))
    assert header.split() == ["project", "critical", "high", "medium", "low", "total"]
    project_lines = {line.split()[0]: line.split()[1:] for line in lines if line[:32] in (P1, P2)}
    assert project_lines[P1] == ["0", "1", "3", "3", "7"]
    assert project_lines[P2] == ["0", "1", "7", "3", "11"]
    assert lines.index(next(line for line in lines if line.startswith(P2))) < lines.index(
        next(line for line in lines if line.startswith(P1))
    )  # most severe first: P2 has more medium findings


def test_a_snapshot_by_run_id(snapshot: Path, policy_file: Path) -> None:
    output = snapshot.parents[1]
    code, stdout, _ = run("X", "--output", str(output), "--policy", str(policy_file))
    assert code == 0
    assert f"snapshot: {snapshot}" in stdout


def test_unknown_policy_key_exits_2(snapshot: Path, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules: [{id: a, type: disk_bus, severity: low, allow: [virtio]}]\n")
    code, _, stderr = run(str(snapshot), "--policy", str(path))
    assert code == 2
    assert str(path) in stderr
    assert "unknown key 'allow'" in stderr
    assert not (snapshot / "findings.parquet").exists()


def test_missing_policy_and_snapshot_exit_2(
    snapshot: Path, policy_file: Path, tmp_path: Path
) -> None:
    code, _, stderr = run(str(snapshot), "--policy", str(tmp_path / "absent.yaml"))
    assert code == 2
    assert f"{tmp_path / 'absent.yaml'}: cannot read the policy" in stderr
    code, _, stderr = run("--output", str(tmp_path / "empty"), "--policy", str(policy_file))
    assert code == 2
    assert "no latest snapshot" in stderr


def test_a_bad_lifecycle_file_exits_2(snapshot: Path, policy_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "eol.csv"
    bad.write_text("distro,release,eol,source,note\nubuntu,22.04,never,https://x.example,\n")
    code, _, stderr = run(str(snapshot), "--policy", str(policy_file), "--lifecycle", str(bad))
    assert code == 2
    assert f"{bad}:2: eol 'never'" in stderr


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(audit, ["--help"])
    assert result.exit_code == 0
    for text in ("--policy", "--fail-on", "--output", "--lifecycle"):
        assert text in result.output
    assert "  5  findings at or above --fail-on\n" in result.output


# --- scale --------------------------------------------------------------------------------


def synthetic(n: int) -> pa.Table:
    """``n`` images with a realistic spread of values, built column-wise."""
    rng = np.random.default_rng(7)
    distros = np.array(["ubuntu", "centos", "rhel", "windows-server", "debian", "unknown"])
    releases = np.array(["22.04", "7.6", "8.4", "2012 R2", "10", None], dtype=object)
    majors = np.array([22, 7, 8, 2012, 10, 0])
    pick = rng.integers(0, len(distros), n)
    created = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=1)
    base = np.int64(created.timestamp() * 1_000_000)
    columns = {
        "project_id": pa.array(np.char.add("p", (np.arange(n) % 500).astype(str))),
        "image_id": pa.array(np.char.add("img-", np.arange(n).astype(str))),
        "status": pa.array(np.where(rng.random(n) < 0.9, "ACTIVE", "SAVING")),
        "size_bytes": pa.array(rng.integers(1, 50 * GIB, n)),
        "min_disk_gb": pa.array(rng.integers(0, 60, n).astype(np.int32)),
        "created_at": pa.array(base + rng.integers(0, 6 * 365 * 86400, n) * 1_000_000).cast(
            pa.timestamp("us", tz="UTC")
        ),
        "disk_bus": pa.array(np.array(["virtio", "scsi", "ide", None], dtype=object)[pick % 4]),
        "os_family": pa.array(np.full(n, "linux")),
        "os_distro": pa.array(distros[pick]),
        "os_release": pa.array(releases[pick], pa.string()),
        "os_major": pa.array(np.where(pick == 5, None, majors[pick]), pa.int32()),
        "os_eol_date": pa.nulls(n, pa.date32()),
        "metadata_json": pa.array(
            np.where(
                pick % 2 == 0,
                '{"__os_version":"Ubuntu 22.04 64bit","hw_disk_bus":"virtio"}',
                '{"__imagetype":"gold","__os_version":"CentOS 7.6 64bit"}',
            )
        ),
    }
    return pa.table(columns)


def test_200k_rows_evaluate(policy_file: Path) -> None:
    policy = load_policy(policy_file)
    images = synthetic(200_000)
    assert set(columns_for(policy)) <= set(images.column_names)
    images = images.set_column(
        images.column_names.index("os_eol_date"),
        "os_eol_date",
        resolve_eol(images, packaged_lifecycle()),
    )
    findings = evaluate(images, policy, AS_OF)
    assert findings.schema == FINDINGS_SCHEMA
    by_rule = {
        row["values"]: row["counts"] for row in pc.value_counts(findings["rule"]).to_pylist()
    }
    # Past their EOL by the packaged table: centos 7.6, windows-server 2012 R2, debian 10.
    past = pc.is_in(images["os_distro"], pa.array(["centos", "windows-server", "debian"]))
    assert by_rule["os-eol"] == pc.sum(past).as_py()
    assert by_rule["disk-bus"] == pc.sum(pc.equal(images["disk_bus"], "ide")).as_py()
    assert (
        by_rule["required-metadata"]
        == pc.sum(
            pc.is_in(images["os_distro"], pa.array(["centos", "windows-server", "unknown"]))
        ).as_py()
    )
