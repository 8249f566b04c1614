"""Throughput: the crawler against a minimal raw aiohttp loop, same simulator, same IDs.

    python benchmarks/throughput.py [--images 30000] [--latency-images 15000]
                                    [--concurrency 64] [--latency-ms 0 50] [--rounds 3]

For each latency it starts one simulator in a subprocess (so it has its own core) and then runs
``--rounds`` rounds against it, each a raw child process followed by a crawler child process:
the raw loop does GET + read body and nothing else, with the crawler's concurrency, connector
limits and timeouts; the crawler does everything (validation, flatten, Parquet + CSV snapshot).
Latencies above 0 ms use ``--latency-images`` IDs, fewer, as those rounds are bound by the
latency: 15000 at 50 ms take about 12 s a side, and the default run about 4 minutes.

Per side it prints the median req/s with its min..max range over the rounds, and the child's
CPU time per request (user + sys from ``getrusage``, after the work minus before it, over the
requests made): on a small, busy machine req/s swings by a third from run to run, CPU per
request much less. Then the ratio of the median req/s, the latency bound
concurrency / latency with crawler / bound, and the crawler's peak RSS (max over the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from simproc import start_simulator
from yarl import URL

# The crawler's client settings (crawler/client.py), so both sides pay for the same HTTP.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def raw_loop(endpoint: str, ids: Path, concurrency: int) -> int:
    with ids.open(newline="") as handle:
        pairs = [(row["project_id"], row["image_id"]) for row in csv.DictReader(handle)]
    todo = iter(pairs)  # shared by the workers; one event loop, so no lock is needed
    base = f"{endpoint}/v2.1/"
    headers = {"X-OpenStack-Nova-API-Version": "2.1", "Accept": "application/json"}
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S)
    connector = aiohttp.TCPConnector(
        limit=concurrency, limit_per_host=concurrency, ttl_dns_cache=300
    )
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def worker() -> None:
            for project, image in todo:
                # Built like the crawler's URLs: the IDs need no re-encoding.
                url = URL(f"{base}{project}/images/{image}", encoded=True)
                async with session.get(url, allow_redirects=False) as resp:
                    await resp.read()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(pairs)


def child(kind: str, endpoint: str, ids: Path, concurrency: int, output: Path) -> None:
    # Imports happen before the clocks start: both sides are measured from reading the IDs
    # to the last byte (and, for the crawler, to the committed snapshot).
    import anyio

    from crawler.config import CrawlSettings
    from crawler.crawl import Crawl

    cpu_before = cpu_seconds()
    started = time.perf_counter()
    if kind == "raw":
        requests = asyncio.run(raw_loop(endpoint, ids, concurrency))
    else:
        settings = CrawlSettings(
            endpoint=endpoint,
            input_path=str(ids),
            output_dir=output,
            concurrency=concurrency,
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
        )
        report = anyio.run(Crawl(settings).run)
        if report.status != "complete":
            raise RuntimeError(f"crawl ended {report.status}")
        requests = report.requests
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    result = {
        "rps": requests / elapsed,
        "requests": requests,
        "cpu_us": cpu / requests * 1e6,
        "rss_mb": peak_rss_mb(),
    }
    print(json.dumps(result))


def run_child(
    kind: str, endpoint: str, ids: Path, concurrency: int, output: Path
) -> dict[str, float]:
    command = [
        sys.executable, __file__, "--child", kind, "--endpoint", endpoint, "--ids", str(ids),
        "--concurrency", str(concurrency), "--output", str(output),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stderr)
        raise
    finally:
        shutil.rmtree(output, ignore_errors=True)  # each round starts from an empty directory
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def spread(values: list[float]) -> str:
    """``median (min..max)``, rounded to whole units."""
    return f"{statistics.median(values):.0f} ({min(values):.0f}..{max(values):.0f})"


def measure(args: argparse.Namespace, latency: float) -> dict[str, list[dict[str, float]]]:
    """Run the rounds of one latency against one simulator: raw, crawler, raw, crawler, ..."""
    images = args.latency_images if latency else args.images
    results: dict[str, list[dict[str, float]]] = {"raw": [], "crawler": []}
    with tempfile.TemporaryDirectory() as tmp:
        ids = Path(tmp) / "ids.csv"
        simulator, endpoint = start_simulator(
            "--images", str(images), "--projects", "50", "--latency-ms", str(latency),
            "--write-ids", str(ids),
        )  # fmt: skip
        try:
            for _ in range(args.rounds):
                for kind, found in results.items():
                    output = Path(tmp) / "out"
                    found.append(run_child(kind, endpoint, ids, args.concurrency, output))
        finally:
            simulator.terminate()
            simulator.wait()
    return results


def print_row(latency: float, concurrency: int, results: dict[str, list[dict[str, float]]]) -> None:
    raw_rps = statistics.median(r["rps"] for r in results["raw"])
    crawler_rps = statistics.median(r["rps"] for r in results["crawler"])
    bound = concurrency / (latency / 1000) if latency else float("inf")
    print(
        f"{latency:>6.0f}ms"
        f" {spread([r['rps'] for r in results['raw']]):>19}"
        f" {spread([r['rps'] for r in results['crawler']]):>19}"
        f" {crawler_rps / raw_rps:>5.2f} {bound:>11.0f} {crawler_rps / bound:>13.2f}"
        f" {spread([r['cpu_us'] for r in results['raw']]):>15}"
        f" {spread([r['cpu_us'] for r in results['crawler']]):>19}"
        f" {max(r['rss_mb'] for r in results['crawler']):>14.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30000)
    parser.add_argument("--latency-images", type=int, default=15000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 50.0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["raw", "crawler"])
    parser.add_argument("--endpoint")
    parser.add_argument("--ids", type=Path)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.endpoint, args.ids, args.concurrency, args.output)
        return
    print(
        f"images={args.images} latency_images={args.latency_images} "
        f"concurrency={args.concurrency} rounds={args.rounds}; median (min..max) over rounds"
    )
    print(
        f"{'latency':>8} {'raw req/s':>19} {'crawler req/s':>19} {'ratio':>5} {'bound req/s':>11}"
        f" {'crawler/bound':>13} {'raw CPU us/req':>15} {'crawler CPU us/req':>19}"
        f" {'crawler RSS MB':>14}"
    )
    for latency in args.latency_ms:
        print_row(latency, args.concurrency, measure(args, latency))


if __name__ == "__main__":
    main()
