"""Run locks, the run catalog, retention, and the `crawler snapshots` commands.

Directory trees are written by hand, as the contract describes them; a running run is a real
second process holding the lock, since the point of flock is what happens across processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crawler import catalog
from crawler.catalog import RunInfo, latest_complete, list_runs, prune
from crawler.cli import main
from crawler.errors import ConfigError, SnapshotError
from crawler.runlock import RunLock, is_locked

README = Path(__file__).resolve().parents[1] / "README.md"
DAY = date(2020, 3, 10)
HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from crawler.runlock import RunLock\n"
    "RunLock(Path(sys.argv[1])).acquire()\n"
    "print('locked', flush=True)\n"
    "time.sleep(120)\n"
)


def run_id(day: date, n: int) -> str:
    return f"{day:%Y%m%d}T0{n}0000000Z-abc{n:03d}"


def write(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document if isinstance(document, bytes) else json.dumps(document).encode())


def committed(
    root: Path, day: date, n: int, *, shard: dict[str, int] | None = None, **extra: object
) -> Path:
    rid = run_id(day, n)
    path = root / f"snapshot_date={day}" / f"run_id={rid}"
    manifest = {
        "status": "complete",
        "run_id": rid,
        "snapshot_date": day.isoformat(),
        "started_at": f"{day}T0{n}:00:00+00:00",
        "finished_at": f"{day}T0{n}:30:00+00:00",
        "counts": {"input": 10 * n, "ok": 7 * n, "not_found": 2 * n, "failed": n},
        "shard": shard,
        **extra,
    }
    write(path / "manifest.json", manifest)
    (path / "images.parquet").write_bytes(b"PAR1")
    return path


def partial(
    root: Path,
    day: date,
    n: int,
    *,
    run_json: object = None,
    manifest: object = None,
) -> Path:
    rid = run_id(day, n)
    path = root / f"snapshot_date={day}" / f".run_id={rid}.partial"
    (path / "journal").mkdir(parents=True)
    if run_json is not None:
        write(path / "run.json", run_json)
    if manifest is not None:
        write(path / "manifest.json", manifest)
    return path


def run_state(day: date, n: int, shard: object = None) -> dict[str, object]:
    return {
        "run_id": run_id(day, n),
        "snapshot_date": day.isoformat(),
        "started_at": f"{day}T0{n}:00:00+00:00",
        "input": {"path": "/data/ids.csv", "format": "csv", "sha256": "ab" * 32, "bytes": 99},
        "shard": shard,
    }


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def statuses(root: Path) -> list[tuple[str, str]]:
    return [(run.run_id, run.status) for run in list_runs(root)]


@pytest.fixture
def hold_lock() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start processes that hold a run's lock until they are killed."""
    holders: list[subprocess.Popen[str]] = []

    def start(work_dir: Path) -> subprocess.Popen[str]:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(work_dir)], stdout=subprocess.PIPE, text=True
        )
        holders.append(holder)
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        return holder

    yield start
    for holder in holders:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout:
            holder.stdout.close()


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- RunLock ---------------------------------------------------------------------------------


def test_run_lock_is_exclusive_between_open_files_and_released(tmp_path: Path) -> None:
    assert not is_locked(tmp_path)
    assert not (tmp_path / "lock").exists()  # probing never creates the file
    with RunLock(tmp_path) as first:
        assert first.held
        assert is_locked(tmp_path)
        with pytest.raises(SnapshotError, match=f"run {tmp_path} is in use by another process"):
            RunLock(tmp_path).acquire()
        assert not RunLock(tmp_path).try_acquire()
        assert is_locked(tmp_path)  # the failed attempts did not disturb the holder
        assert (tmp_path / "lock").read_text() == f"{os.getpid()}\n"
    assert not first.held
    assert not is_locked(tmp_path)
    again = RunLock(tmp_path)
    again.acquire()
    again.release()
    again.release()  # idempotent
    assert not is_locked(tmp_path)


def test_run_lock_in_a_missing_directory_is_a_snapshot_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot lock run"):
        RunLock(tmp_path / "gone").acquire()


def test_lock_held_by_another_process_and_dropped_when_it_is_killed(
    tmp_path: Path, hold_lock: Callable[[Path], subprocess.Popen[str]]
) -> None:
    work = partial(tmp_path, DAY, 1, run_json=run_state(DAY, 1))
    holder = hold_lock(work)
    assert is_locked(work)
    with pytest.raises(SnapshotError, match="in use by another process"):
        RunLock(work).acquire()
    assert statuses(tmp_path) == [(run_id(DAY, 1), "running")]

    os.kill(holder.pid, signal.SIGKILL)  # no cleanup code runs: the kernel drops the lock
    holder.wait(timeout=10)
    assert (work / "lock").exists()
    assert statuses(tmp_path) == [(run_id(DAY, 1), "resumable")]
    with RunLock(work):
        pass


# --- list_runs -------------------------------------------------------------------------------


def test_list_reports_every_status_sorted_and_skips_what_is_not_a_run(
    tmp_path: Path, hold_lock: Callable[[Path], subprocess.Popen[str]]
) -> None:
    later = DAY + timedelta(days=1)
    committed(tmp_path, later, 2, shard={"index": 1, "count": 4})
    hold_lock(partial(tmp_path, later, 1, run_json=run_state(later, 1, shard="2/4")))
    partial(tmp_path, DAY, 4, run_json=run_state(DAY, 4))
    partial(tmp_path, DAY, 3, run_json=run_state(DAY, 3), manifest={"status": "complete"})
    partial(tmp_path, DAY, 2)  # no run.json: an older version, or a crash before it
    committed(tmp_path, DAY, 1)
    # Not runs: a prune leftover, stray files, a malformed date, a link to a run.
    (tmp_path / f"snapshot_date={DAY}" / f".run_id={run_id(DAY, 9)}.deleting").mkdir()
    (tmp_path / f"snapshot_date={DAY}" / "notes.txt").write_text("x")
    (tmp_path / "snapshot_date=2020-13-45" / f"run_id={run_id(DAY, 8)}").mkdir(parents=True)
    (tmp_path / f"snapshot_date={DAY}" / f"run_id={run_id(DAY, 7)}").symlink_to(
        tmp_path / f"snapshot_date={DAY}" / f"run_id={run_id(DAY, 1)}"
    )

    runs = list_runs(tmp_path)

    assert [(run.snapshot_date, run.run_id, run.status) for run in runs] == [
        (DAY, run_id(DAY, 1), "complete"),
        (DAY, run_id(DAY, 2), "unknown"),
        (DAY, run_id(DAY, 3), "committing"),
        (DAY, run_id(DAY, 4), "resumable"),
        (later, run_id(later, 1), "running"),
        (later, run_id(later, 2), "complete"),
    ]
    first, _, _, resumable, running, shard = runs
    assert first.path == tmp_path / f"snapshot_date={DAY}" / f"run_id={run_id(DAY, 1)}"
    assert first.counts == {"input": 10, "ok": 7, "not_found": 2, "failed": 1}
    assert first.shard is None
    assert first.started_at == f"{DAY}T01:00:00+00:00"
    assert resumable.started_at == f"{DAY}T04:00:00+00:00"
    assert resumable.counts is None
    assert running.shard == (2, 4)  # run.json may spell the shard "k/n"
    assert shard.shard == (1, 4)


@pytest.mark.parametrize(
    "manifest",
    [
        b'{"status": "complete", "counts": {',  # cut short
        b"\xff\xfe not utf-8",
        b"[1, 2]",  # JSON, but not an object
        {"status": "complete", "shard": {"index": 4, "count": 4}},  # no such shard
        {"status": "complete", "shard": "all"},
    ],
)
def test_unreadable_committed_manifest_makes_the_run_unknown(
    tmp_path: Path, manifest: object
) -> None:
    good = committed(tmp_path, DAY, 1)
    bad = committed(tmp_path, DAY, 2)
    write(bad / "manifest.json", manifest)
    assert statuses(tmp_path) == [(run_id(DAY, 1), "complete"), (run_id(DAY, 2), "unknown")]
    assert latest_complete(tmp_path) == RunInfo(
        DAY,
        run_id(DAY, 1),
        "complete",
        good,
        None,
        {"input": 10, "ok": 7, "not_found": 2, "failed": 1},
        f"{DAY}T01:00:00+00:00",
    )


def test_corrupt_files_of_partial_runs_make_them_unknown_unless_running(
    tmp_path: Path, hold_lock: Callable[[Path], subprocess.Popen[str]]
) -> None:
    partial(tmp_path, DAY, 1, run_json=b"{")
    partial(tmp_path, DAY, 2, run_json=run_state(DAY, 2), manifest=b"\x00")
    (partial(tmp_path, DAY, 3) / "run.json").mkdir()  # unreadable as a file
    hold_lock(partial(tmp_path, DAY, 4, run_json=b"{"))  # the holder may be mid-write
    committed(tmp_path, DAY, 5).joinpath("manifest.json").unlink()
    assert statuses(tmp_path) == [
        (run_id(DAY, 1), "unknown"),
        (run_id(DAY, 2), "unknown"),
        (run_id(DAY, 3), "unknown"),
        (run_id(DAY, 4), "running"),
        (run_id(DAY, 5), "unknown"),
    ]


def test_a_missing_root_has_no_runs_and_a_file_root_is_an_error(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "nothing") == []
    assert latest_complete(tmp_path / "nothing") is None
    (tmp_path / "file").write_text("")
    with pytest.raises(SnapshotError, match="cannot list"):
        list_runs(tmp_path / "file")


# --- latest_complete -------------------------------------------------------------------------


def test_latest_is_the_newest_whole_snapshot_unless_shards_are_included(tmp_path: Path) -> None:
    early, late = DAY, DAY + timedelta(days=2)
    committed(tmp_path, early, 1)
    whole = committed(tmp_path, early, 2)
    shard = committed(tmp_path, late, 1, shard={"index": 0, "count": 2})
    partial(tmp_path, late, 3, run_json=run_state(late, 3))  # newer, but not complete
    latest = latest_complete(tmp_path)
    assert latest is not None
    assert latest.path == whole
    with_shards = latest_complete(tmp_path, include_shards=True)
    assert with_shards is not None
    assert with_shards.path == shard

    merged = committed(tmp_path, late, 2, merged_from=[run_id(late, 1), "other"])
    latest = latest_complete(tmp_path)
    assert latest is not None
    assert latest.path == merged  # a merged snapshot is whole: shard null


def test_latest_orders_by_date_before_run_id(tmp_path: Path) -> None:
    # A resumed run keeps its first day's date even if a newer id exists on that day.
    newer_day = committed(tmp_path, DAY + timedelta(days=1), 1)
    committed(tmp_path, DAY, 9)
    latest = latest_complete(tmp_path)
    assert latest is not None
    assert latest.path == newer_day


# --- prune -----------------------------------------------------------------------------------


def test_prune_removes_old_runs_and_emptied_dates_and_keeps_recent_ones(tmp_path: Path) -> None:
    today = DAY + timedelta(days=10)
    cutoff = today - timedelta(days=3)
    old = DAY
    old_committed = committed(tmp_path, old, 1)
    old_resumable = partial(tmp_path, old, 2, run_json=run_state(old, 2))
    old_unknown = partial(tmp_path, old, 3)
    before_cutoff = committed(tmp_path, cutoff - timedelta(days=1), 1)
    at_cutoff = committed(tmp_path, cutoff, 1)
    recent_partial = partial(tmp_path, today, 1, run_json=run_state(today, 1))
    newest = committed(tmp_path, today, 2)

    removed = prune(tmp_path, keep_days=3, today=today, dry_run=False)

    assert removed == [
        old_resumable,
        old_unknown,
        old_committed,
        old_committed.parent,
        before_cutoff,
        before_cutoff.parent,
    ]
    assert [run.path for run in list_runs(tmp_path)] == [at_cutoff, recent_partial, newest]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"snapshot_date={cutoff}",
        f"snapshot_date={today}",
    ]


def test_prune_keeps_the_newest_whole_snapshot_however_old(tmp_path: Path) -> None:
    older = committed(tmp_path, DAY, 1)
    only = committed(tmp_path, DAY + timedelta(days=1), 1)
    shard = committed(tmp_path, DAY + timedelta(days=2), 1, shard={"index": 0, "count": 2})
    today = DAY + timedelta(days=400)
    removed = prune(tmp_path, keep_days=0, today=today, dry_run=False)
    assert removed == [older, older.parent, shard, shard.parent]
    assert [run.path for run in list_runs(tmp_path)] == [only]
    assert (only / "images.parquet").read_bytes() == b"PAR1"


def test_dry_run_removes_nothing_and_names_what_a_real_run_removes(tmp_path: Path) -> None:
    committed(tmp_path, DAY, 1)
    committed(tmp_path, DAY, 2)
    partial(tmp_path, DAY, 3, run_json=run_state(DAY, 3))
    committed(tmp_path, DAY + timedelta(days=1), 1, shard={"index": 1, "count": 3})
    leftover = tmp_path / f"snapshot_date={DAY}" / f".run_id={run_id(DAY, 7)}.deleting"
    (leftover / "journal").mkdir(parents=True)
    newest = committed(tmp_path, DAY + timedelta(days=2), 1)
    before = tree(tmp_path)
    today = DAY + timedelta(days=30)

    would = prune(tmp_path, keep_days=5, today=today, dry_run=True)

    assert tree(tmp_path) == before
    assert len(would) == 7  # leftover, 3 runs of DAY, its date dir, the shard, and its date dir
    assert prune(tmp_path, keep_days=5, today=today, dry_run=False) == would
    assert [run.path for run in list_runs(tmp_path)] == [newest]


def test_prune_never_touches_a_running_run(
    tmp_path: Path, hold_lock: Callable[[Path], subprocess.Popen[str]]
) -> None:
    running = partial(tmp_path, DAY, 1, run_json=run_state(DAY, 1))
    unknown_but_running = partial(tmp_path, DAY, 2)  # an older version that locks
    for work_dir in (running, unknown_but_running):
        hold_lock(work_dir)
    resumable = partial(tmp_path, DAY, 3, run_json=run_state(DAY, 3))
    before = {path: tree(path) for path in (running, unknown_but_running)}
    removed = prune(tmp_path, keep_days=0, today=DAY + timedelta(days=99), dry_run=False)
    assert removed == [resumable]
    assert {path: tree(path) for path in before} == before
    assert statuses(tmp_path) == [(run_id(DAY, 1), "running"), (run_id(DAY, 2), "running")]


def test_prune_skips_a_run_resumed_between_listing_and_deleting(
    tmp_path: Path,
    hold_lock: Callable[[Path], subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resumed = partial(tmp_path, DAY, 1, run_json=run_state(DAY, 1))
    hold_lock(resumed)
    monkeypatch.setattr(catalog, "is_locked", lambda _work_dir: False)  # listed before it began
    assert statuses(tmp_path) == [(run_id(DAY, 1), "resumable")]
    assert prune(tmp_path, keep_days=0, today=DAY + timedelta(days=9), dry_run=False) == []
    assert (resumed / "run.json").exists()


def test_a_stopped_delete_hides_the_snapshot_and_the_next_prune_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doomed = committed(tmp_path, DAY, 1)
    keep = committed(tmp_path, DAY + timedelta(days=1), 1)
    trash = doomed.with_name(f".run_id={run_id(DAY, 1)}.deleting")

    def crash(path: Path) -> None:
        raise OSError(5, "Input/output error", str(path))

    monkeypatch.setattr(catalog.shutil, "rmtree", crash)
    with pytest.raises(SnapshotError, match=r"cannot delete .*\.deleting: Input/output error"):
        prune(tmp_path, keep_days=0, today=DAY + timedelta(days=9), dry_run=False)
    assert not doomed.exists()  # readers no longer see it...
    assert (trash / "manifest.json").exists()  # ...though its files are still there
    assert [run.path for run in list_runs(tmp_path)] == [keep]

    monkeypatch.undo()
    removed = prune(tmp_path, keep_days=400, today=DAY + timedelta(days=9), dry_run=False)
    assert removed == [trash]  # removed whatever --keep says; the date dir is recent: kept
    assert not trash.exists()


def test_prune_rejects_a_negative_keep(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keep_days"):
        prune(tmp_path, keep_days=-1, today=DAY, dry_run=True)


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_list_prints_an_aligned_table_and_json(tmp_path: Path) -> None:
    committed(tmp_path, DAY, 1)
    committed(tmp_path, DAY, 2, shard={"index": 1, "count": 4})
    partial(tmp_path, DAY, 3, run_json=run_state(DAY, 3))

    code, stdout, _ = cli("snapshots", "list", "--output", str(tmp_path))

    assert code == 0
    header, *rows = stdout.splitlines()
    assert header.split() == [
        "date", "run_id", "status", "shard", "ok", "not_found", "failed", "path"
    ]  # fmt: skip
    assert [row.split() for row in rows] == [
        [f"{DAY}", run_id(DAY, 1), "complete", "-", "7", "2", "1",
         f"{tmp_path}/snapshot_date={DAY}/run_id={run_id(DAY, 1)}"],
        [f"{DAY}", run_id(DAY, 2), "complete", "1/4", "14", "4", "2",
         f"{tmp_path}/snapshot_date={DAY}/run_id={run_id(DAY, 2)}"],
        [f"{DAY}", run_id(DAY, 3), "resumable", "-", "-", "-", "-",
         f"{tmp_path}/snapshot_date={DAY}/.run_id={run_id(DAY, 3)}.partial"],
    ]  # fmt: skip
    status_at, path_at, failed_at = (header.index(c) for c in ("status", "path", "failed"))
    for row, status in zip(rows, ("complete", "complete", "resumable"), strict=True):
        assert row[status_at:].startswith(status), stdout
        assert row[path_at:].startswith(str(tmp_path)), stdout
        assert row[: failed_at + len("failed")].endswith(("1", "2", "-")), stdout  # right-aligned

    code, stdout, _ = cli("snapshots", "list", "--output", str(tmp_path), "--json")
    assert code == 0
    listed = json.loads(stdout)
    assert [(run["run_id"], run["status"], run["shard"]) for run in listed] == [
        (run_id(DAY, 1), "complete", None),
        (run_id(DAY, 2), "complete", {"index": 1, "count": 4}),
        (run_id(DAY, 3), "resumable", None),
    ]
    assert listed[0]["counts"]["ok"] == 7
    assert listed[0]["snapshot_date"] == DAY.isoformat()


def test_cli_list_of_an_empty_root(tmp_path: Path) -> None:
    assert cli("snapshots", "list", "--output", str(tmp_path)) == (
        0,
        "",
        f"no runs under {tmp_path}\n",
    )
    assert cli("snapshots", "list", "--output", str(tmp_path), "--json") == (0, "[]\n", "")


def test_cli_latest_prints_the_path_or_exits_1(tmp_path: Path) -> None:
    code, stdout, stderr = cli("snapshots", "latest", "--output", str(tmp_path))
    assert (code, stdout) == (1, "")
    assert stderr == f"error: no complete snapshot under {tmp_path}\n"

    shard = committed(tmp_path, DAY, 1, shard={"index": 0, "count": 2})
    assert cli("snapshots", "latest", "--output", str(tmp_path))[0] == 1  # a part is not whole
    assert cli("snapshots", "latest", "--output", str(tmp_path), "--include-shards") == (
        0,
        f"{shard}\n",
        "",
    )
    whole = committed(tmp_path, DAY - timedelta(days=1), 1)
    assert cli("snapshots", "latest", "--output", str(tmp_path)) == (0, f"{whole}\n", "")


def test_cli_prune_dry_run_then_for_real(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    old = committed(tmp_path, today - timedelta(days=40), 1)
    recent = committed(tmp_path, today - timedelta(days=2), 1)
    args = ("snapshots", "prune", "--output", str(tmp_path), "--keep", "7")
    before = tree(tmp_path)

    code, stdout, _ = cli(*args, "--dry-run")

    assert code == 0
    assert stdout.splitlines()[:2] == [str(old), str(old.parent)]
    assert stdout.splitlines()[2].startswith("would remove 1 run directories and 1 empty date")
    assert tree(tmp_path) == before

    code, stdout, _ = cli(*args)
    assert code == 0
    assert stdout.splitlines()[2].startswith("removed 1 run directories and 1 empty date")
    assert f"runs from {today - timedelta(days=7)} on" in stdout
    assert [run.path for run in list_runs(tmp_path)] == [recent]


def test_cli_prune_needs_a_non_negative_keep(tmp_path: Path) -> None:
    code, _, stderr = cli("snapshots", "prune", "--output", str(tmp_path), "--keep", "-1")
    assert code == 2
    assert "-1 is not in the range x>=0" in stderr
    code, _, stderr = cli("snapshots", "prune", "--output", str(tmp_path))
    assert code == 2
    assert "Missing option '--keep'" in stderr


@pytest.mark.parametrize("command", ["list", "latest", "prune"])
def test_every_snapshots_command_has_help_and_is_documented_in_the_readme(command: str) -> None:
    code, stdout, _ = cli("snapshots", command, "--help")
    assert code == 0
    assert stdout.startswith(f"Usage: main snapshots {command}")
    readme = README.read_text()
    assert f"crawler snapshots {command}" in readme
    group = main.commands["snapshots"]
    assert isinstance(group, click.Group)
    for param in group.commands[command].params:
        for option in (o for o in param.opts if o.startswith("--") and o != "--help"):
            assert option in readme, f"README does not mention snapshots {command} {option}"
