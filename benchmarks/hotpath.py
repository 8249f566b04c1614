"""Hot path without HTTP: CPU per record of JSON decode, flatten and the snapshot write.

    python benchmarks/hotpath.py [--records 20000] [--batch-rows 5000] [--repeat 5]

Builds the simulator's response bodies in memory (every image of a generated inventory, as
``GET /images/{id}`` returns it), then times each stage on them in this process and prints
the best of ``--repeat`` runs in microseconds per record: ``loads``
(crawler/normalize/jsoncodec.py), ``flatten`` (crawler/normalize/flatten.py), ``glance``
(crawler/normalize/glance.py, on the same images as Glance v2 shows them) and ``write``
(SnapshotWriter.write into Parquet + CSV, in batches of ``--batch-rows``, close included),
plus the bytes each output file takes. Numbers here are about half of what the same code
costs inside a crawl, where the caches are cold; compare them with each other, not with the
throughput benchmark.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from crawler.normalize import flatten_glance_image, flatten_nova_image, jsoncodec
from crawler.simulator.inventory import Inventory, InventorySpec
from crawler.simulator.nova import image_view
from crawler.snapshot import SnapshotWriter

ORIGIN = "http://127.0.0.1:8774"


def bodies(count: int) -> list[tuple[str, bytes]]:
    """``(project_id, body)`` of the first ``count`` images, as the simulator sends them."""
    inventory = Inventory(InventorySpec(images=count, projects=50))
    found = []
    for index in range(count):
        record = inventory.glance_record(index)
        project = str(record["owner"])
        view = image_view(
            record,
            origin=ORIGIN,
            prefix="/v2.1",
            project_id=project,
            glance="http://127.0.0.1:9292",
        )
        found.append((project, json.dumps({"image": view}).encode()))
    return found


def glance_bodies(count: int) -> list[tuple[str, object]]:
    """``(project_id, decoded body)`` of the same images as Glance v2 shows them."""
    inventory = Inventory(InventorySpec(images=count, projects=50))
    found: list[tuple[str, object]] = []
    for index in range(count):
        record = inventory.glance_record(index)
        found.append((str(record["owner"]), jsoncodec.loads(json.dumps(record).encode())))
    return found


def best_us(run: Callable[[], object], count: int, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``run``, in microseconds per record."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    items = bodies(args.records)
    at = datetime.now(UTC)
    decoded = [(project, jsoncodec.loads(body)) for project, body in items]
    rows = [
        flatten_nova_image(body, project_id=project, region=None, fetched_at=at)
        for project, body in decoded
    ]
    glance = glance_bodies(args.records)
    sizes: dict[str, int] = {}

    def loads() -> None:
        for _, body in items:
            jsoncodec.loads(body)

    def flatten() -> None:
        for project, body in decoded:
            flatten_nova_image(body, project_id=project, region=None, fetched_at=at)

    def flatten_glance() -> None:
        for project, body in glance:
            flatten_glance_image(body, project_id=project, region=None, fetched_at=at)

    def write() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            writer = SnapshotWriter(root / "work", root / "final", ("parquet", "csv"))
            try:
                for start in range(0, len(rows), args.batch_rows):
                    writer.write(rows[start : start + args.batch_rows], [], [])
                writer.close()
            finally:
                writer.release()
            sizes.update(
                (path.name, path.stat().st_size)
                for path in writer.work_dir.iterdir()
                if path.is_file()
            )

    print(f"records={args.records} batch_rows={args.batch_rows} best of {args.repeat}, us/record")
    stages = (("loads", loads), ("flatten", flatten), ("glance", flatten_glance), ("write", write))
    for name, run in stages:
        print(f"{name:>8} {best_us(run, args.records, args.repeat):8.2f}")
    for name, size in sorted(sizes.items()):
        print(f"{name:>16} {size / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
