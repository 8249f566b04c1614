"""Durability: kill -9 and resume, graceful SIGTERM, refusing a changed input, shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from crawler.config import CrawlSettings, parse_shard
from crawler.crawl import Crawl, CrawlReport
from crawler.journal import JournalWriter, read_journal
from crawler.normalize.schema import SCHEMA_VERSION, SCHEMAS
from crawler.read import read_frame
from crawler.simulator import InventorySpec, RunningSimulator, SimulatorConfig
from tests.conftest import id_list
from tests.test_cli import AUTH_VARIABLES, run_cli, snapshots

SLOW_SPEC = InventorySpec(images=1500, projects=12, seed=21)
ENV = {k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES}


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[RunningSimulator]:
    """Slow enough (40 ms a request, 8 at a time: about 5 s a crawl) to be killed mid-way."""
    with RunningSimulator(SimulatorConfig(inventory=SLOW_SPEC, latency_ms=40)) as running:
        yield running


def crawl(settings: CrawlSettings) -> CrawlReport:
    import anyio

    return anyio.run(Crawl(settings).run)


def content(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A snapshot's rows without what differs between two crawls of the same cloud."""
    images = read_frame(directory, "images", "parquet").drop(columns=["fetched_at"])
    errors = read_frame(directory, "errors", "parquet").drop(columns=["fetched_at", "request_id"])
    return (
        images.sort_values(["project_id", "image_id"]).reset_index(drop=True),
        errors.sort_values(["project_id", "image_id", "message"]).reset_index(drop=True),
    )


def assert_same_content(got: Path, expected: Path) -> None:
    for mine, theirs in zip(content(got), content(expected), strict=True):
        pd.testing.assert_frame_equal(mine, theirs)


def start_crawl(ids: Path, endpoint: str, out: Path, *extra: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "crawler", "crawl", "--input", str(ids), "--endpoint", endpoint,
        "--output", str(out), "--concurrency", "8", "--max-failure-ratio", "0.01", "--quiet",
        *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def partials(out: Path) -> list[Path]:
    return sorted(out.glob("snapshot_date=*/.run_id=*.partial"))


@pytest.fixture(scope="module")
def reference(
    slow_simulator: RunningSimulator, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """An uninterrupted crawl of the slow simulator: (its ID list, its snapshot)."""
    root = tmp_path_factory.mktemp("reference")
    ids = id_list(slow_simulator, root / "ids.csv", unknown=40)
    with ids.open("a") as handle:
        handle.write("not-a-project,x\n")
    report = crawl(
        CrawlSettings(
            endpoint=slow_simulator.base_url, input_path=str(ids), output_dir=root / "out"
        )
    )
    assert report.status == "complete"
    return ids, report.directory


@pytest.mark.slow
def test_kill_9_at_several_points_then_resume_gives_the_uninterrupted_snapshot(
    slow_simulator: RunningSimulator, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    ids, expected = reference
    out = tmp_path / "out"
    served_before = slow_simulator.stats()["total"]
    # Points measured in items the simulator has answered during this session: before the
    # first journal flush, after some, and late in the run.
    for answered in (1, 300, 900):
        target = slow_simulator.stats().get("200", 0) + answered
        process = start_crawl(ids, slow_simulator.base_url, out, "--resume", "auto")
        wait_for(lambda: slow_simulator.stats().get("200", 0) >= target)  # noqa: B023
        process.kill()
        process.communicate(timeout=10)
        assert process.returncode == -signal.SIGKILL
        assert snapshots(out) == [], "a killed run must not look committed"
        (work_dir,) = partials(out)
        keys = [
            key
            for _, batch in read_journal(work_dir / "journal")
            for key in zip(
                batch.column("project_id").to_pylist(),
                batch.column("image_id").to_pylist(),
                strict=True,
            )
        ]
        # Each journaled item was answered in this test, and journaled once across sessions.
        assert len(keys) == len(set(keys))
        assert len(keys) <= slow_simulator.stats()["total"] - served_before
    process = start_crawl(ids, slow_simulator.base_url, out, "--resume", "auto")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    (snapshot,) = snapshots(out)
    assert partials(out) == []
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "errors.csv", "errors.parquet", "images.csv", "images.parquet", "manifest.json",
    ]  # fmt: skip
    assert_same_content(snapshot, expected)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["sessions"]["count"] == 4
    assert manifest["counts"]["resumed"] > 0
    assert manifest["counts"]["invalid"] == 1
    reference_counts = json.loads((expected / "manifest.json").read_text())["counts"]
    for key in ("input", "unique", "ok", "not_found", "failed", "invalid"):
        assert manifest["counts"][key] == reference_counts[key], key


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight_and_leaves_the_run_resumable(
    slow_simulator: RunningSimulator, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    ids, expected = reference
    out = tmp_path / "out"
    process = start_crawl(ids, slow_simulator.base_url, out, "--grace", "5")
    before = slow_simulator.stats().get("200", 0)
    wait_for(lambda: slow_simulator.stats().get("200", 0) - before >= 200)
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - signalled < 5 + 2
    assert process.returncode == 143, stderr
    assert "resume with: crawler crawl ... --resume" in stderr
    answered = slow_simulator.stats().get("200", 0) - before
    (work_dir,) = partials(out)
    journaled = sum(batch.num_rows for _, batch in read_journal(work_dir / "journal"))
    # Every answered request was finished and journaled (200s only: 404s are in errors).
    images = sum(b.num_rows for t, b in read_journal(work_dir / "journal") if t == "images")
    assert images == answered
    assert 200 <= journaled < 1540
    code, _, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", slow_simulator.base_url,
        "--output", str(out), "--resume", "latest", "--quiet", "--max-failure-ratio", "0.01",
    )  # fmt: skip
    assert code == 0, stderr
    (snapshot,) = snapshots(out)
    assert_same_content(snapshot, expected)


@pytest.mark.slow
def test_sigterm_cancels_requests_still_in_flight_when_the_grace_period_ends(
    tmp_path: Path,
) -> None:
    config = SimulatorConfig(inventory=InventorySpec(images=50, projects=2), latency_ms=20_000)
    with RunningSimulator(config) as stuck:
        ids = id_list(stuck, tmp_path / "ids.csv")
        process = start_crawl(ids, stuck.base_url, tmp_path / "out", "--grace", "1")
        wait_for(lambda: partials(tmp_path / "out") != [])
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        elapsed = time.monotonic() - signalled
    assert process.returncode == 143, stderr
    assert elapsed < 1 + 2, f"took {elapsed:.1f} s with --grace 1"
    (work_dir,) = partials(tmp_path / "out")
    assert sum(b.num_rows for _, b in read_journal(work_dir / "journal")) == 0
    assert json.loads((work_dir / "run.json").read_text())["input"]["sha256"]


def test_library_stop_then_resume_fetches_only_the_rest(
    slow_simulator: RunningSimulator, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    import anyio

    ids, expected = reference
    settings = CrawlSettings(
        endpoint=slow_simulator.base_url,
        input_path=str(ids),
        output_dir=tmp_path / "out",
        concurrency=8,
        flush_interval_s=0.2,
    )
    first = Crawl(settings)

    async def stop_after_some() -> CrawlReport:
        async with anyio.create_task_group() as tg:

            async def stopper() -> None:
                while first.counters.done < 150:  # noqa: ASYNC110 (polling a counter)
                    await anyio.sleep(0.01)
                first.stop()

            tg.start_soon(stopper)
            return await first.run()

    stopped = anyio.run(stop_after_some)
    assert stopped.status == "interrupted"
    done_before = stopped.counters.ok + stopped.counters.not_found + stopped.counters.failed
    assert done_before >= 150
    before = slow_simulator.stats()["total"]
    resumed = crawl(CrawlSettings(**{**_fields(settings), "resume": stopped.run_id}))
    assert resumed.status == "complete"
    assert resumed.stats.resumed == done_before
    assert slow_simulator.stats()["total"] - before == resumed.requests
    assert resumed.requests == resumed.stats.unique - done_before
    assert_same_content(resumed.directory, expected)


def _fields(settings: CrawlSettings) -> dict[str, object]:
    return {
        name: getattr(settings, name)
        for name, field in CrawlSettings.__dataclass_fields__.items()
        if field.init
    }


def interrupted_run(simulator: RunningSimulator, ids: Path, out: Path) -> str:
    """Start a crawl and stop it at once: a resumable run with an empty journal."""
    crawl_run = Crawl(
        CrawlSettings(endpoint=simulator.base_url, input_path=str(ids), output_dir=out)
    )
    crawl_run.stop()
    import anyio

    report = anyio.run(crawl_run.run)
    assert report.status == "interrupted"
    return report.run_id


def test_resume_refuses_a_changed_input_file(
    slow_simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(slow_simulator, tmp_path / "ids.csv")
    out = tmp_path / "out"
    run_id = interrupted_run(slow_simulator, ids, out)
    with ids.open("a") as handle:
        handle.write("0123456789abcdef0123456789abcdef,3f1c2a9e-0000-4000-8000-000000000000\n")
    code, _, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", slow_simulator.base_url,
        "--output", str(out), "--resume", run_id,
    )  # fmt: skip
    assert code == 2
    assert f"cannot resume run {run_id}: the input differs" in stderr
    assert "sha256" in stderr
    assert snapshots(out) == []
    assert len(partials(out)) == 1


def test_resume_refuses_other_settings_and_unknown_or_committed_runs(
    slow_simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(slow_simulator, tmp_path / "ids.csv")
    out = tmp_path / "out"
    run_id = interrupted_run(slow_simulator, ids, out)
    base = ["crawl", "--input", str(ids), "--output", str(out), "--quiet"]
    code, _, stderr = run_cli(
        *base, "--endpoint", "http://127.0.0.1:9", "--resume", run_id, "--shard", "1/2"
    )
    assert code == 2
    assert "--endpoint differs" in stderr
    assert "--shard differs: the run used None, now 1/2" in stderr
    table = tmp_path / "lifecycle.csv"
    table.write_text(
        "distro,release,eol,source,note\n"
        "ubuntu,20.04,2025-05-31,https://ubuntu.com/about/release-cycle,standard\n"
    )
    code, _, stderr = run_cli(
        *base, "--endpoint", slow_simulator.base_url, "--resume", run_id, "--lifecycle", str(table)
    )
    assert code == 2
    assert f"--lifecycle differs: the run used the packaged table, now {table} sha256" in stderr
    code, _, stderr = run_cli(*base, "--endpoint", slow_simulator.base_url, "--resume", "nope")
    assert code == 2
    assert "--resume nope: no such run" in stderr
    code, _, stderr = run_cli(*base, "--endpoint", slow_simulator.base_url, "--resume", run_id)
    assert code == 0, stderr
    code, _, stderr = run_cli(*base, "--endpoint", slow_simulator.base_url, "--resume", run_id)
    assert code == 2
    assert "already committed" in stderr
    code, _, stderr = run_cli(*base, "--endpoint", slow_simulator.base_url, "--resume", "latest")
    assert code == 2
    assert "no interrupted run to resume" in stderr


def test_resume_refuses_a_run_that_read_stdin(
    slow_simulator: RunningSimulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, _, _ = run_cli(
        "crawl", "--input", "-", "--endpoint", "http://127.0.0.1:9", "--output", str(out),
        "--max-attempts", "1", "--quiet", stdin="project_id,image_id\n",
    )  # fmt: skip
    assert code == 0
    (snapshot,) = snapshots(out)
    work = snapshot.parent / f".{snapshot.name}.partial"
    snapshot.rename(work)  # pretend it was interrupted
    (work / "manifest.json").unlink()
    (work / "run.json").write_text(
        json.dumps(
            {
                "run_id": snapshot.name.removeprefix("run_id="),
                "snapshot_date": snapshot.parent.name.removeprefix("snapshot_date="),
                "started_at": "2026-11-27T00:00:00+00:00",
                "input": {"path": "<stdin>", "format": "auto", "sha256": None, "bytes": None},
                "endpoint": "http://127.0.0.1:9",
                "shard": None,
                "schema_version": SCHEMA_VERSION,
            }
        )
    )
    code, _, stderr = run_cli(
        "crawl", "--input", "-", "--endpoint", "http://127.0.0.1:9", "--output", str(out),
        "--resume", "latest", stdin="project_id,image_id\n",
    )  # fmt: skip
    assert code == 2
    assert "stdin, which cannot be read again" in stderr


def test_shards_together_equal_one_run_with_no_pair_twice(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv", unknown=30)
    with ids.open("a") as handle:
        handle.write("bad,line\n")
        handle.write(ids.read_text().splitlines()[5] + "\n")  # a duplicate
    whole = crawl(
        CrawlSettings(endpoint=simulator.base_url, input_path=str(ids), output_dir=tmp_path / "one")
    )
    parts = [
        crawl(
            CrawlSettings(
                endpoint=simulator.base_url,
                input_path=str(ids),
                output_dir=tmp_path / "sharded",
                shard=parse_shard(f"{k}/3"),
            )
        )
        for k in range(3)
    ]
    assert len({part.directory.parent for part in parts}) == 1  # one date partition
    assert len({part.run_id for part in parts}) == 3
    images = pd.concat([content(part.directory)[0] for part in parts])
    errors = pd.concat([content(part.directory)[1] for part in parts])
    assert not images.duplicated(["project_id", "image_id"]).any()
    expected_images, expected_errors = content(whole.directory)
    pd.testing.assert_frame_equal(
        images.sort_values(["project_id", "image_id"]).reset_index(drop=True), expected_images
    )
    pd.testing.assert_frame_equal(
        errors.sort_values(["project_id", "image_id", "message"]).reset_index(drop=True),
        expected_errors,
    )
    assert all(0 < len(content(part.directory)[0]) < len(expected_images) for part in parts)
    for key in ("unique", "duplicates", "invalid", "ok", "not_found"):
        assert sum(p.manifest["counts"][key] for p in parts) == whole.manifest["counts"][key]  # type: ignore[index]
    assert parts[1].manifest["shard"] == {"index": 1, "count": 3}


def batch(n: int, start: int = 0) -> pa.Table:
    rows = [
        {
            "project_id": "0123456789abcdef0123456789abcdef",
            "image_id": f"00000000-0000-4000-8000-{i:012d}",
            "metadata_json": "{}",
            "os_family": "unknown",
            "os_distro": "unknown",
            "source_api": "nova-proxy",
            "fetched_at": pd.Timestamp("2026-11-27", tz="UTC").to_pydatetime(),
        }
        for i in range(start, start + n)
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMAS["images"])


def test_journal_torn_tail_at_any_byte_drops_only_the_last_batch(tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    writer = JournalWriter(directory, 1)
    writer.append(batch(3), None)
    writer.append(batch(4, 3), None)
    segment = directory / "images-0001.arrows"
    intact = segment.stat().st_size
    writer.append(batch(5, 7), None)
    writer.close()
    whole = segment.read_bytes()
    for cut in range(intact, len(whole)):
        segment.write_bytes(whole[:cut])
        rows = [b.num_rows for t, b in read_journal(directory) if t == "images"]
        assert rows in ([3, 4], [3, 4, 5]), cut
    for cut in range(0, 200, 7):  # cut inside the schema: the segment holds nothing
        segment.write_bytes(whole[:cut])
        assert [b for t, b in read_journal(directory) if t == "images"] == []


def test_merge_makes_one_snapshot_of_the_shards_that_equals_a_single_run(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv", unknown=12)
    with ids.open("a") as handle:
        handle.write("bad,line\n")
    whole = crawl(
        CrawlSettings(endpoint=simulator.base_url, input_path=str(ids), output_dir=tmp_path / "one")
    )
    out = tmp_path / "sharded"

    def shard(k: str) -> CrawlReport:
        settings = CrawlSettings(
            endpoint=simulator.base_url, input_path=str(ids), output_dir=out, shard=parse_shard(k)
        )
        return crawl(settings)

    shard("0/2")
    code, _, stderr = run_cli("merge", "--output", str(out))
    assert code == 2
    assert "shard(s) 1/2 have no complete run" in stderr
    parts = [shard("1/2"), shard("0/2")]  # a rerun of shard 0: the newer run is taken
    code, stdout, stderr = run_cli("merge", "--output", str(out))
    assert code == 0, stderr
    merged = Path(stdout.split("snapshot: ", 1)[1].strip())
    assert_same_content(merged, whole.directory)
    manifest = json.loads((merged / "manifest.json").read_text())
    assert manifest["merged_from"] == [parts[1].run_id, parts[0].run_id]
    for key in ("input", "unique", "invalid", "ok", "not_found", "failed"):
        assert manifest["counts"][key] == whole.manifest["counts"][key], key  # type: ignore[index]
    code, stdout, _ = run_cli("snapshots", "latest", "--output", str(out))
    assert (code, stdout.strip()) == (0, str(merged))


def test_the_kubernetes_example_runs_options_the_cli_accepts() -> None:
    import yaml

    from crawler.cli import main

    path = Path(__file__).resolve().parents[1] / "configs/kubernetes/cronjob-sharded.yaml"
    crawl_job, merge_job = yaml.safe_load_all(path.read_text())
    job = crawl_job["spec"]["jobTemplate"]["spec"]
    (container,) = job["template"]["spec"]["containers"]
    args = [arg.replace("$(JOB_COMPLETION_INDEX)", "3") for arg in container["args"]]
    context = main.commands["crawl"].make_context("crawl", args[1:])
    assert context.params["shard"] == parse_shard(f"3/{job['completions']}")
    assert context.params["resume"] == "auto"
    grace = job["template"]["spec"]["terminationGracePeriodSeconds"]
    assert context.params["grace_s"] < grace
    (merger,) = merge_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert "crawler merge" in merger["args"][0]


def test_resume_publishes_a_run_whose_commit_stopped_before_the_rename(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv")
    out = tmp_path / "out"
    done = crawl(CrawlSettings(endpoint=simulator.base_url, input_path=str(ids), output_dir=out))
    work = done.directory.parent / f".{done.directory.name}.partial"
    done.directory.rename(work)  # as if killed between the manifest and the rename
    manifest = done.manifest
    state = {
        key: manifest[key] for key in ("run_id", "snapshot_date", "started_at", "schema_version")
    }
    state |= {
        "input": {
            "path": str(ids.resolve()),
            "format": "auto",
            "sha256": manifest["input"]["sha256"],  # type: ignore[index]
            "bytes": ids.stat().st_size,
        },
        "endpoint": simulator.base_url,
        "shard": None,
    }
    (work / "run.json").write_text(json.dumps(state))
    code, listing, _ = run_cli("snapshots", "list", "--output", str(out))
    assert "committing" in listing
    before = simulator.stats()["total"]
    code, _, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", simulator.base_url, "--output", str(out),
        "--resume", done.run_id,
    )  # fmt: skip
    assert code == 0, stderr
    assert simulator.stats()["total"] == before  # nothing fetched again
    assert snapshots(out) == [done.directory]
    assert sorted(p.name for p in done.directory.iterdir()) == [
        "errors.csv", "errors.parquet", "images.csv", "images.parquet", "manifest.json",
    ]  # fmt: skip
    published = json.loads((done.directory / "manifest.json").read_text())
    assert published["run_id"] == done.run_id
    assert published["counts"] == manifest["counts"]
