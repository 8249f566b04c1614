"""Throughput: the crawler against a minimal raw aiohttp loop, same simulator, same IDs.

    python benchmarks/throughput.py [--images 20000] [--concurrency 64] [--latency-ms 0 50]

For each latency it starts the simulator in a subprocess (so it has its own core), then runs
in child processes, one after the other: the raw loop (GET + read body, nothing else) and the
full crawler (validation, flatten, Parquet + CSV snapshot). It prints req/s of each, their
ratio, the latency bound concurrency / latency, and the crawler's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def raw_loop(endpoint: str, ids: Path, concurrency: int) -> int:
    with ids.open(newline="") as handle:
        pairs = [(row["project_id"], row["image_id"]) for row in csv.DictReader(handle)]
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for pair in pairs:
        queue.put_nowait(pair)
    headers = {"X-OpenStack-Nova-API-Version": "2.1", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            while not queue.empty():
                project, image = queue.get_nowait()
                async with session.get(f"{endpoint}/v2.1/{project}/images/{image}") as resp:
                    await resp.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(pairs)


def child(kind: str, endpoint: str, ids: Path, concurrency: int, output: Path) -> None:
    # Imports happen before the clock starts: both sides are timed from reading the IDs
    # to the last byte (and, for the crawler, to the committed snapshot).
    import anyio

    from crawler.config import CrawlSettings
    from crawler.crawl import Crawl

    started = time.perf_counter()
    if kind == "raw":
        requests = asyncio.run(raw_loop(endpoint, ids, concurrency))
    else:
        settings = CrawlSettings(
            endpoint=endpoint, input_path=str(ids), output_dir=output, concurrency=concurrency
        )
        report = anyio.run(Crawl(settings).run)
        requests = report.requests
    elapsed = time.perf_counter() - started
    print(json.dumps({"rps": requests / elapsed, "requests": requests, "rss_mb": peak_rss_mb()}))


def start_simulator(images: int, latency_ms: float, ids: Path) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "crawler", "simulate", "--port", "0", "--images", str(images),
        "--projects", "50", "--latency-ms", str(latency_ms), "--write-ids", str(ids),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("simulator listening on "):
            return process, line.split()[-1]
    raise RuntimeError("simulator did not start")


def run_child(
    kind: str, endpoint: str, ids: Path, concurrency: int, output: Path
) -> dict[str, float]:
    command = [
        sys.executable, __file__, "--child", kind, "--endpoint", endpoint, "--ids", str(ids),
        "--concurrency", str(concurrency), "--output", str(output),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0])
    parser.add_argument("--child", choices=["raw", "crawler"])
    parser.add_argument("--endpoint")
    parser.add_argument("--ids", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.endpoint, args.ids, args.concurrency, args.output)
        return
    print(f"images={args.images} concurrency={args.concurrency}")
    print(f"{'latency':>8} {'raw req/s':>10} {'crawler req/s':>14} {'ratio':>6} "
          f"{'bound req/s':>12} {'crawler/bound':>13} {'crawler RSS MB':>15}")  # fmt: skip
    for latency in args.latency_ms:
        with tempfile.TemporaryDirectory() as tmp:
            ids = Path(tmp) / "ids.csv"
            simulator, endpoint = start_simulator(args.images, latency, ids)
            try:
                raw = run_child("raw", endpoint, ids, args.concurrency, Path(tmp))
                crawler = run_child("crawler", endpoint, ids, args.concurrency, Path(tmp) / "out")
            finally:
                simulator.terminate()
                simulator.wait()
        bound = args.concurrency / (latency / 1000) if latency else float("inf")
        print(
            f"{latency:>6.0f}ms {raw['rps']:>10.0f} {crawler['rps']:>14.0f} "
            f"{crawler['rps'] / raw['rps']:>6.2f} {bound:>12.0f} {crawler['rps'] / bound:>13.2f} "
            f"{crawler['rss_mb']:>15.0f}"
        )


if __name__ == "__main__":
    main()
