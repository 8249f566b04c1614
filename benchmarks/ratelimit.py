"""Rate limiting: achieved rate against a throttling simulator, and throughput under chaos.

    python benchmarks/ratelimit.py [--rates 100 200 500] [--seconds 8] [--chaos-images 6000]

Part 1. For each rate R it starts the simulator in a subprocess with a global token bucket of R
req/s (Huawei API-gateway style 429 APIG.0308, no Retry-After, burst R/10), then runs
``crawler crawl --rate R`` in another subprocess over R x seconds IDs, and prints the achieved
rate (requests / crawl duration, from the manifest), its deviation from R, and the 429s the
server answered.

Part 2. The same IDs crawled against a clean simulator and against ``--faults chaos``; it prints
both throughputs, their ratio, the requests and retries the chaos run needed, the time items
spent waiting out backoffs in all, and the most that waited at once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import AbstractContextManager
from pathlib import Path

from simproc import running_simulator


def simulator(images: int, ids: Path, *extra: str) -> AbstractContextManager[str]:
    return running_simulator(
        "--images", str(images), "--projects", "20", "--write-ids", str(ids), *extra
    )


def crawl(endpoint: str, ids: Path, out: Path, *extra: str) -> dict[str, object]:
    command = [
        sys.executable, "-m", "crawler", "crawl", "--input", str(ids), "--endpoint", endpoint,
        "--output", str(out), "--quiet", "--concurrency", "64", "--max-failure-ratio", "1", *extra,
    ]  # fmt: skip
    subprocess.run(command, check=True)
    (manifest,) = out.glob("snapshot_date=*/run_id=*/manifest.json")
    return dict(json.loads(manifest.read_text()))


def server_stats(endpoint: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{endpoint}/_sim/stats", timeout=10) as response:
        return dict(json.load(response))


def rate_rows(rates: list[float], seconds: float) -> None:
    print(f"{'set req/s':>10} {'achieved':>9} {'deviation':>9} {'429s':>6} {'requests':>9}")
    for rate in rates:
        with tempfile.TemporaryDirectory() as tmp:
            ids = Path(tmp) / "ids.csv"
            images = int(rate * seconds)
            faults = f"rate_limit={rate},rate_key=global"
            with simulator(images, ids, "--faults", faults) as url:
                manifest = crawl(url, ids, Path(tmp) / "out", "--rate", str(rate))
                served = server_stats(url)
        requests = manifest["requests"]
        assert isinstance(requests, dict)
        achieved = float(requests["per_second"])
        throttled = served.get("fault:rate_limit", 0)
        print(
            f"{rate:>10.0f} {achieved:>9.1f} {100 * (achieved / rate - 1):>+8.1f}% "
            f"{throttled:>6d} {requests['total']:>9d}"
        )


def chaos_rows(images: int) -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        ids = Path(tmp) / "ids.csv"
        for name, faults in (("clean", "none"), ("chaos", "chaos")):
            with simulator(images, ids, "--faults", faults) as url:
                manifest = crawl(url, ids, Path(tmp) / name, "--read-timeout", "0.5")
            results[name] = manifest
    print(
        f"{'run':>6} {'items/s':>8} {'requests':>9} {'ok':>6} {'failed':>6} {'waited s':>9}"
        f" {'max waiting':>11}  retries"
    )
    speed = {}
    for name, manifest in results.items():
        counts, requests = manifest["counts"], manifest["requests"]
        assert isinstance(counts, dict)
        assert isinstance(requests, dict)
        speed[name] = counts["unique"] / float(manifest["duration_s"])  # type: ignore[arg-type]
        print(
            f"{name:>6} {speed[name]:>8.0f} {requests['total']:>9d} {counts['ok']:>6d} "
            f"{counts['failed']:>6d} {requests['backoff_s']:>9.0f} {requests['max_waiting']:>11d}"
            f"  {requests['retries']}"
        )
    print(f"chaos / clean throughput: {speed['chaos'] / speed['clean']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0, 500.0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--chaos-images", type=int, default=6000)
    args = parser.parse_args()
    rate_rows(args.rates, args.seconds)
    print()
    chaos_rows(args.chaos_images)


if __name__ == "__main__":
    main()
