"""Memory: the crawler's peak RSS and wall time as the ID list grows (10k, 100k, 1M IDs).

    python benchmarks/memory.py [--sizes 10000 100000 1000000] [--concurrency 64]
                                [--latency-ms 0] [--projects 200] [--keep] [--quick]

For each size it writes an ID list with ``crawler simulate --write-ids FILE --no-serve``, then
starts one simulator subprocess (``--port 0``) for the largest size, which serves every list:
image IDs carry their own index and every attribute of image ``i`` (owner included) derives
from seed, project count and ``i`` alone, so the list for N images names images ``0..N-1`` of
the largest inventory, which answers them exactly as an inventory of N would. The crawler
then runs as a child, ``crawler crawl --input FILE --endpoint ... --quiet`` with no
``OS_*``/``HUAWEICLOUD_*`` variables in its environment, one size at a time, smallest first.

Per size it prints the child's peak RSS (``ru_maxrss`` from ``os.wait4`` on exactly that
child, so neither this process nor the simulator counts), its wall time from start to exit
(interpreter start-up and imports included, about a second, which weighs on the small sizes),
the wall time per 100k IDs, and from the run's committed manifest ``counts.ok``,
``requests.per_second`` and ``event_loop.max_stall_ms`` ("n/a" when the manifest has no
``event_loop`` section). Not every ID is ``ok``: the simulator hides some images (deleted,
not shared), which answer 404. Then the ratio of the peak RSS of the largest size to that of
the second largest (flat memory wants at most 1.5) and whether the largest stays within
300 MB. The default run takes about 10 minutes on a two-core machine, nearly all of it the
1M crawl; ``--quick`` (2000 and 20000 IDs) is a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from simproc import start_simulator

QUICK_SIZES = [2000, 20000]
RATIO_LIMIT = 1.5
RSS_LIMIT_MB = 300.0
START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Result:
    """One crawl: what the child cost, and what its manifest says (``"n/a"`` if absent)."""

    size: int
    code: int
    rss_mb: float
    wall_s: float
    ok: object
    rps: object
    stall_ms: object


def crawler_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", *args]


def write_ids(size: int, projects: int, path: Path) -> None:
    command = crawler_command(
        "simulate", "--images", str(size), "--projects", str(projects),
        "--write-ids", str(path), "--no-serve",
    )  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def wait_until_answering(endpoint: str) -> None:
    """Poll ``GET /_sim/stats`` until the simulator answers it."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{endpoint}/_sim/stats", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"simulator at {endpoint} did not answer /_sim/stats")
        time.sleep(0.1)


def child_env() -> dict[str, str]:
    """This environment without credentials, so the crawl runs unauthenticated."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OS_", "HUAWEICLOUD_"))
    }


def run_crawl(
    ids: Path, endpoint: str, output: Path, concurrency: int, log: Path
) -> tuple[int, float, float]:
    """Run one crawl child; return its exit code, peak RSS in MB and wall seconds."""
    command = crawler_command(
        "crawl", "--input", str(ids), "--endpoint", endpoint, "--output", str(output),
        "--concurrency", str(concurrency), "--quiet",
    )  # fmt: skip
    with log.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=child_env())
        try:
            # wait4 reaps exactly this child and returns its own rusage (ru_maxrss in KiB on
            # Linux); RUSAGE_CHILDREN would be the maximum over every child reaped so far.
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return process.returncode, usage.ru_maxrss / 1024, wall


def newest_manifest(output: Path) -> dict[str, object] | None:
    manifests = list(output.glob("snapshot_date=*/run_id=*/manifest.json"))
    if not manifests:
        return None
    newest = max(manifests, key=lambda path: path.stat().st_mtime)
    return dict(json.loads(newest.read_text(encoding="utf-8")))


def section(manifest: dict[str, object], key: str) -> dict[str, object]:
    value = manifest.get(key)
    return value if isinstance(value, dict) else {}


def measure(args: argparse.Namespace, tmp: Path) -> list[Result]:
    sizes = sorted(set(args.sizes))
    id_files = {size: tmp / f"ids_{size}.csv" for size in sizes}
    for size, path in id_files.items():
        write_ids(size, args.projects, path)
    simulator, endpoint = start_simulator(
        "--images", str(sizes[-1]), "--projects", str(args.projects),
        "--latency-ms", str(args.latency_ms),
    )  # fmt: skip
    rows: list[Result] = []
    try:
        wait_until_answering(endpoint)
        for size in sizes:
            output = tmp / f"out_{size}"
            log = tmp / f"crawl_{size}.log"
            code, rss_mb, wall = run_crawl(id_files[size], endpoint, output, args.concurrency, log)
            manifest = newest_manifest(output) or {}
            if code != 0 or not manifest:
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
                print(f"crawl of {size} IDs exited {code}; its output ends:", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr, flush=True)
            rows.append(
                Result(
                    size=size,
                    code=code,
                    rss_mb=rss_mb,
                    wall_s=wall,
                    ok=section(manifest, "counts").get("ok", "n/a"),
                    rps=section(manifest, "requests").get("per_second", "n/a"),
                    stall_ms=section(manifest, "event_loop").get("max_stall_ms", "n/a"),
                )
            )
            print_row(rows[-1])
            if not args.keep:
                shutil.rmtree(output, ignore_errors=True)  # the 1M snapshot is big
    finally:
        simulator.terminate()
        try:
            simulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
    return rows


def cell(value: object, width: int, digits: int = 0) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:>{width},.{digits}f}"
    return f"{value!s:>{width}}"


def print_header() -> None:
    print(
        f"{'size':>9} {'ok':>9} {'peak RSS MB':>11} {'wall s':>8} {'s/100k':>7}"
        f" {'req/s':>7} {'max stall ms':>12} {'exit':>4}"
    )


def print_row(row: Result) -> None:
    print(
        f"{row.size:>9,} {cell(row.ok, 9)} {row.rss_mb:>11.1f} {row.wall_s:>8.1f}"
        f" {row.wall_s / row.size * 100_000:>7.2f} {cell(row.rps, 7)}"
        f" {cell(row.stall_ms, 12, 1)} {row.code:>4}",
        flush=True,
    )


def print_verdict(rows: list[Result]) -> None:
    done = [row for row in rows if row.code == 0]
    if len(done) < 2:
        print("fewer than two successful crawls: no ratio")
        return
    second, largest = done[-2], done[-1]
    ratio = largest.rss_mb / second.rss_mb
    print(
        f"peak RSS {largest.size:,} / {second.size:,} = {ratio:.2f}"
        f" (<= {RATIO_LIMIT}: {'yes' if ratio <= RATIO_LIMIT else 'NO'})"
    )
    print(
        f"peak RSS at {largest.size:,} = {largest.rss_mb:.1f} MB"
        f" (<= {RSS_LIMIT_MB:.0f} MB: {'yes' if largest.rss_mb <= RSS_LIMIT_MB else 'NO'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.sizes = QUICK_SIZES
    tmp = Path(tempfile.mkdtemp(prefix="imagecrawler-memory-"))
    print(
        f"concurrency={args.concurrency} latency_ms={args.latency_ms:g}"
        f" projects={args.projects}; one simulator with {max(args.sizes):,} images"
    )
    print_header()
    try:
        rows = measure(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_verdict(rows)


if __name__ == "__main__":
    main()
