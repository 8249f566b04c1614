"""The command line: help, exit codes, auth token handling, input variants, interruption."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import main
from crawler.normalize.schema import SCHEMAS
from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig
from tests.conftest import TOKEN, id_list

README = Path(__file__).resolve().parents[1] / "README.md"
AUTH_VARIABLES = (
    "OS_AUTH_TOKEN", "OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL", "OS_USERNAME",
    "OS_USER_ID", "OS_PASSWORD", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK",
)  # fmt: skip
NO_AUTH: dict[str, str | None] = dict.fromkeys(AUTH_VARIABLES)


def run_cli(
    *args: str, env: dict[str, str | None] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    # Credentials in the developer's or CI's environment must not leak into a test.
    result = CliRunner().invoke(main, list(args), env=NO_AUTH | (env or {}), input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def snapshots(out: Path) -> list[Path]:
    return sorted(out.glob("snapshot_date=*/run_id=*"))


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_and_is_documented_in_the_readme(command: str) -> None:
    code, stdout, _ = run_cli(command, "--help")
    assert code == 0
    assert stdout.startswith(f"Usage: main {command}")
    readme = README.read_text()
    assert f"crawler {command}" in readme, f"README does not document `crawler {command}`"
    params = main.commands[command].params
    for option in (o for p in params for o in p.opts if o.startswith("--") and o != "--help"):
        assert option in readme, f"README does not mention {command} {option}"


@pytest.mark.parametrize("table", ["images", "errors"])
def test_every_schema_column_is_documented_in_the_readme(table: str) -> None:
    readme = README.read_text()
    for column in SCHEMAS[table].names:
        assert f"`{column}`" in readme, f"README schema lacks {table}.{column}"


def test_token_is_sent_and_never_written_anywhere(
    token_simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(token_simulator, tmp_path / "ids.csv")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", token_simulator.base_url, "--output", str(out),
        env={"OS_AUTH_TOKEN": TOKEN},
    )  # fmt: skip
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["counts"]["ok"] > 0
    assert manifest["counts"]["by_kind"].get("unauthorized", 0) == 0
    assert manifest["auth"]["method"] == "token"
    for path in out.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"token leaked into {path}"
    assert TOKEN not in stdout + stderr


def test_without_token_items_fail_as_unauthorized_and_exit_4_unless_tolerated(
    token_simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.csv"
    pairs = list(token_simulator.inventory.iter_pairs())[:20]
    ids.write_text("project_id,image_id\n" + "".join(f"{p},{i}\n" for p, i in pairs))
    args = ["crawl", "--input", str(ids), "--endpoint", token_simulator.base_url]
    tolerant = ["--max-failure-ratio", "1"]
    code, stdout, _ = run_cli(*args, *tolerant, "--output", str(tmp_path / "a"), env=NO_AUTH)
    assert code == 0
    assert "unauthorized 20" in stdout
    code, _, _ = run_cli(*args, "--output", str(tmp_path / "b"), env=NO_AUTH)
    assert code == 4
    (snapshot,) = snapshots(tmp_path / "b")
    errors = json.loads((snapshot / "manifest.json").read_text())["counts"]["by_kind"]
    assert errors == {"unauthorized": 20}


def test_unreadable_input_fails_before_anything_is_written(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("project,image\nx,y\n")
    out = tmp_path / "out"
    served_before = simulator.stats().get("total", 0)
    code, _, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", simulator.base_url, "--output", str(out)
    )
    assert code == 2
    assert stderr.startswith(f"error: {ids}:1: CSV header lacks column 'project_id'")
    assert not out.exists()
    assert simulator.stats().get("total", 0) == served_before  # not one request was sent


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "ftp://example.com"], "expected an http(s) URL"),
        (
            ["--endpoint", "http://127.0.0.1:1", "--format", "xlsx"],
            "choose one or more of parquet, csv",
        ),
        (["--endpoint", "http://127.0.0.1:1", "--concurrency", "0"], "0 is not in the range"),
    ],
)
def test_bad_settings_are_rejected_with_the_flag_named(
    tmp_path: Path, args: list[str], message: str
) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("project_id,image_id\n")
    code, _, stderr = run_cli("crawl", "--input", str(ids), "--output", str(tmp_path / "o"), *args)
    assert code == 2
    assert message in stderr


def test_stdin_jsonl_and_single_format(simulator: RunningSimulator, tmp_path: Path) -> None:
    pairs = list(simulator.inventory.iter_pairs())[:30]
    lines = "".join(
        json.dumps({"project_id": p, "image_id": i, "region": "eu-de"}) + "\n" for p, i in pairs
    )
    out = tmp_path / "out"
    code, _, stderr = run_cli(
        "crawl", "--input", "-", "--endpoint", simulator.base_url + "/v2.1/", "--output", str(out),
        "--format", "parquet", stdin=lines,
    )  # fmt: skip
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "errors.parquet",
        "images.parquet",
        "manifest.json",
    ]
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["input"] | {"sha256": None} == {
        "path": "<stdin>",
        "format": "jsonl",
        "bytes": len(lines),
        "sha256": None,
    }
    assert manifest["counts"]["unique"] == 30
    import pyarrow.parquet as pq

    regions = pq.read_table(snapshot / "images.parquet", columns=["region"]).column(0).to_pylist()
    assert set(regions) == {"eu-de"}


def test_unreachable_endpoint_gives_connection_errors_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        ids = tmp_path / "ids.csv"
        ids.write_text(
            "project_id,image_id\n"
            + "0123456789abcdef0123456789abcdef,70a599e0-31e7-49b7-b260-868f441e862b\n"
        )
        code, stdout, _ = run_cli(
            "crawl",
            "--input",
            str(ids),
            "--endpoint",
            f"http://127.0.0.1:{port}",
            "--output",
            str(tmp_path / "o"),
            "--max-attempts",
            "2",
        )
    assert code == 4  # a failed item fails the job by default
    assert "connection 1" in stdout
    (snapshot,) = snapshots(tmp_path / "o")
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert (manifest["counts"]["ok"], manifest["counts"]["failed"]) == (0, 1)
    assert manifest["requests"]["attempts"] == 2
    assert manifest["requests"]["retries"] == {"connection": 1}
    assert manifest["requests"]["gave_up"] == {"connection": 1}


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_stops_cleanly_and_publishes_nothing(
    tmp_path: Path, signum: signal.Signals, exit_code: int
) -> None:
    config = SimulatorConfig(
        inventory=InventorySpec(images=400, projects=4, seed=3), latency_ms=150
    )
    with RunningSimulator(config) as slow:
        ids = id_list(slow, tmp_path / "ids.csv")
        out = tmp_path / "out"
        command = [
            sys.executable, "-m", "crawler", "crawl", "--input", str(ids),
            "--endpoint", slow.base_url, "--output", str(out), "--concurrency", "8",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES},
        )
        deadline = time.monotonic() + 20
        while slow.stats().get("200", 0) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr
    assert "INTERRUPTED: no snapshot published" in stderr
    assert snapshots(out) == []
    (partial,) = out.glob("snapshot_date=*/.run_id=*.partial")
    import pyarrow.parquet as pq

    done = re.search(r"ok (\d+), not found (\d+)", stderr)
    assert done is not None
    rows = pq.read_table(partial / "images.parquet").num_rows
    assert 0 < rows == int(done.group(1)) < 400
    assert not (partial / "manifest.json").exists()


def test_clouds_yaml_keystone_crawl_and_verify_false_reach_the_compute_requests(
    tmp_path: Path,
) -> None:
    spec = InventorySpec(images=60, projects=3, seed=12)
    config = SimulatorConfig(inventory=spec, users={"bob": "pa55-w0rd-secret"})
    with RunningSimulator(config) as sim:
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(
            "clouds:\n"
            "  lab:\n"
            f"    auth: {{auth_url: '{sim.base_url}/v3', username: bob,"
            " password: pa55-w0rd-secret, user_domain_name: Default}\n"
            "    verify: false\n"
        )
        ids = id_list(sim, tmp_path / "ids.csv")
        out = tmp_path / "out"
        code, stdout, stderr = run_cli(
            "crawl", "--input", str(ids), "--endpoint", sim.base_url, "--output", str(out),
            env={"OS_CLOUD": "lab", "OS_CLIENT_CONFIG_FILE": str(clouds)},
        )  # fmt: skip
        served = sim.stats()
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["settings"]["verify_tls"] is False
    assert manifest["auth"]["method"] == "keystone"
    assert manifest["auth"]["tokens_issued"] == 3 == served["tokens_issued"]
    for path in out.rglob("*"):
        if path.is_file():
            assert b"pa55-w0rd-secret" not in path.read_bytes()
    assert "pa55-w0rd-secret" not in stdout + stderr


def test_demo_crawls_the_embedded_simulator_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        "demo", "--output", str(out), "--images", "300", "--projects", "4", "--unknown", "10",
        "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    assert "input 317 records: 310 unique, 5 duplicates, 2 invalid" in stdout
    assert "top 10 OS releases:" in stdout
    assert f"report:  {snapshot / 'report.html'}" in stdout
    assert "<svg" in (snapshot / "report.html").read_text()
