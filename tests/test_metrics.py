"""--metrics-file: Prometheus text a textfile collector can read, kept across failed runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from crawler.simulator import RunningSimulator
from tests.conftest import id_list
from tests.test_cli import run_cli, snapshots

SAMPLE_RE = re.compile(
    r'^(imagecrawler_[a-z_]+)(\{([a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*)?\})? (\S+)$'
)


def parse(text: str) -> dict[str, float]:
    """Every sample as ``name{labels}`` -> value, checking the exposition format as it goes."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind == "gauge"
            declared.add(name)
        elif not line.startswith("# HELP "):
            match = SAMPLE_RE.match(line)
            assert match, line
            assert match.group(1) in declared, f"{line}: no # TYPE before it"
            samples[line.rsplit(" ", 1)[0]] = float(match.group(5))
    return samples


def test_a_run_writes_its_figures_and_a_failed_one_keeps_the_last_success(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv", unknown=7)
    out, metrics = tmp_path / "out", tmp_path / "imagecrawler.prom"
    code, _, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", simulator.base_url, "--output", str(out),
        "--metrics-file", str(metrics), "--quiet",
    )  # fmt: skip
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    counts = json.loads((snapshot / "manifest.json").read_text())["counts"]
    first = parse(metrics.read_text())
    assert first['imagecrawler_run_status{status="complete"}'] == 1
    assert first["imagecrawler_run_exit_code"] == 0
    assert first['imagecrawler_items{outcome="ok"}'] == counts["ok"] > 0
    assert first['imagecrawler_items{outcome="not_found"}'] == counts["not_found"] >= 7
    assert first['imagecrawler_errors{kind="not_found"}'] == counts["not_found"]
    assert first['imagecrawler_requests{status="200"}'] == counts["ok"]
    assert first['imagecrawler_requests_by_api{api="nova"}'] == counts["unique"]
    assert first["imagecrawler_endpoints_switched_to_glance"] == 0
    success = first["imagecrawler_last_success_timestamp_seconds"]
    assert success == first["imagecrawler_last_run_timestamp_seconds"]
    assert not list(tmp_path.glob(".*.tmp"))

    code, _, _ = run_cli(
        "crawl", "--input", str(tmp_path / "missing.csv"), "--endpoint", simulator.base_url,
        "--output", str(out), "--metrics-file", str(metrics),
    )  # fmt: skip
    assert code == 2
    failed = parse(metrics.read_text())
    assert failed['imagecrawler_run_status{status="failed"}'] == 1
    assert failed["imagecrawler_run_exit_code"] == 2
    assert failed["imagecrawler_last_success_timestamp_seconds"] == success
    assert failed["imagecrawler_last_run_timestamp_seconds"] > success
    assert not any(name.startswith("imagecrawler_items") for name in failed)
