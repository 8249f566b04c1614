"""``crawler report``: the data it collects, the HTML it renders, and what a real browser shows.

Snapshots are written by hand (30 images over four projects and nine OS releases), with and
without the findings and changes tables. The browser test opens the report in headless
Chromium and checks the DOM it built and the pixels it painted; the PNG is decoded here
(zlib + numpy) so no imaging library is needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import tracemalloc
import zlib
from collections import Counter
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from crawler.commands.report import report
from crawler.errors import SnapshotError
from crawler.normalize.schema import CHANGES_SCHEMA, FINDINGS_SCHEMA, IMAGES_SCHEMA
from crawler.report import (
    EOL_COLOURS,
    PALETTE,
    ReportData,
    collect_report_data,
    render_report,
    write_report,
)
from crawler.snapshot import write_side_table

DAY = date(2026, 11, 27)
RUN = "20261127T010000000Z-abc123"
FETCHED = datetime(2026, 11, 27, 1, 5, tzinfo=UTC)
XSS_NAME = "<script>alert(1)</script>"
XSS_PROJECT = "proj-<img src=x onerror=alert(2)>"
XSS_RELEASE = "<script>alert(3)</script>"
PROJECTS = ("proj-alpha", "proj-beta", "proj-gamma", XSS_PROJECT)
# (distro, release, os_is_eol, images): nine distro/release groups, 30 images.
RELEASES = (
    ("centos", "7.6", True, 6),
    ("ubuntu", "16.04", True, 5),
    ("ubuntu", "22.04", False, 4),
    ("windows", "2012 R2", True, 4),
    ("rhel", "8.4", False, 3),
    ("unknown", None, None, 3),
    ("ubuntu", "20.04", False, 2),
    ("debian", "12", False, 2),
    ("other", XSS_RELEASE, None, 1),
)
COUNTS = {
    "input": 40,
    "ok": 30,
    "not_found": 3,
    "failed": 2,
    "invalid": 4,
    "unique": 35,
    "duplicates": 1,
}
CHROMIUM_HINT = (
    "chromium is not installed: run .ci/run (it installs it), or as root"
    " `apt-get install -y --no-install-recommends chromium`"
)


# --- hand-written snapshots -------------------------------------------------------------


def image_rows() -> list[dict[str, object]]:
    """The 30 images; projects take turns, so every project has several releases."""
    rows: list[dict[str, object]] = []
    for distro, release, is_eol, count in RELEASES:
        for _ in range(count):
            n = len(rows)
            row: dict[str, object] = dict.fromkeys(IMAGES_SCHEMA.names)
            row |= {
                "project_id": PROJECTS[n % len(PROJECTS)],
                "image_id": f"00000000-0000-4000-8000-{n:012d}",
                "name": XSS_NAME if n == 7 else f"image-{n}",
                "os_family": "windows" if distro == "windows" else "linux",
                "os_distro": distro,
                "os_release": release,
                "os_is_eol": is_eol,
                "os_eol_date": date(2024, 6, 30) if is_eol else None,
                "metadata_json": "{}",
                "source_api": "nova-proxy",
                "fetched_at": FETCHED,
            }
            rows.append(row)
    return rows


def findings_rows() -> list[dict[str, object]]:
    spec = (("eol-os", "high", 15), ("no-os-version", "medium", 3), ("public-eol", "critical", 2))
    return [
        {
            "rule": rule,
            "severity": severity,
            "project_id": PROJECTS[i % 4],
            "image_id": f"img-{i}",
            "message": f"matched {XSS_NAME}",
            "evidence": f"name={XSS_NAME}",
        }
        for rule, severity, count in spec
        for i in range(count)
    ]


def changes_rows() -> list[dict[str, object]]:
    """3 added, 2 removed, 1 unknown, and 60 changed fields over 20 images."""

    def row(change: str, i: int) -> dict[str, object]:
        base: dict[str, object] = dict.fromkeys(CHANGES_SCHEMA.names)
        return base | {"change": change, "project_id": PROJECTS[i % 4], "image_id": f"img-{i}"}

    rows = [row("added", i) for i in range(3)] + [row("removed", 10 + i) for i in range(2)]
    rows.append(row("unknown", 20) | {"detail": "fetch failed: timeout"})
    for i in range(20):
        for field in ("name", "status", "metadata.owner"):
            old, new = f"{field}-old-{i}", f"{field}-new-{i}"
            if i == 1 and field == "name":
                new = XSS_NAME
            rows.append(row("changed", 30 + i) | {"field": field, "old": old, "new": new})
    return rows


def make_snapshot(
    root: Path, *, side_tables: bool, rows: list[dict[str, object]] | None = None
) -> Path:
    directory = root / f"snapshot_date={DAY}" / f"run_id={RUN}"
    directory.mkdir(parents=True)
    manifest = {"status": "complete", "run_id": RUN, "snapshot_date": str(DAY), "counts": COUNTS}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    images = rows if rows is not None else image_rows()
    write_side_table(directory, "images", pa.Table.from_pylist(images, schema=IMAGES_SCHEMA))
    if side_tables:
        findings = pa.Table.from_pylist(findings_rows(), schema=FINDINGS_SCHEMA)
        changes = pa.Table.from_pylist(changes_rows(), schema=CHANGES_SCHEMA)
        write_side_table(directory, "findings", findings)
        write_side_table(directory, "changes", changes)
        previous = {"run_id": "20261126T010000000Z-def456", "snapshot_date": "2026-11-26"}
        (directory / "changes.json").write_text(json.dumps({"old": previous}), encoding="utf-8")
    return directory


@pytest.fixture
def full(tmp_path: Path) -> Path:
    """A snapshot with findings.parquet and changes.parquet."""
    return make_snapshot(tmp_path / "full", side_tables=True)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A snapshot with the images table only: no audit, no diff yet."""
    return make_snapshot(tmp_path / "bare", side_tables=False)


def expected_eol_by_project() -> dict[str, tuple[int, int, int]]:
    """(EOL, supported, unknown) per project, counted the slow obvious way."""
    counts: dict[str, Counter[object]] = {p: Counter() for p in PROJECTS}
    for row in image_rows():
        counts[str(row["project_id"])][row["os_is_eol"]] += 1
    return {p: (c[True], c[False], c[None]) for p, c in counts.items()}


# --- a small HTML inspector ---------------------------------------------------------------


class Outline(HTMLParser):
    """Start tags in order, with their attributes and the chart (svg id) they sit in."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None], str | None]] = []
        self._svg: str | None = None
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "svg":
            self._svg = attributes.get("id")
        self.tags.append((tag, attributes, self._svg))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None

    def names(self) -> Counter[str]:
        return Counter(tag for tag, _, _ in self.tags)

    def charts(self) -> list[str]:
        return [str(a.get("id")) for tag, a, _ in self.tags if tag == "svg"]

    def bars(self, chart: str) -> int:
        return sum(
            1 for tag, a, svg in self.tags if tag == "rect" and svg == chart and a["class"] == "bar"
        )


def eol_segments() -> int:
    """Stacked EOL bars draw one rect per non-zero segment."""
    return sum(1 for counts in expected_eol_by_project().values() for n in counts if n)


# --- collecting ----------------------------------------------------------------------------


def test_collect_counts_the_snapshot(full: Path) -> None:
    data = collect_report_data(full)
    assert (data.snapshot_date, data.run_id) == (str(DAY), RUN)
    assert (data.images, data.not_found, data.failed, data.invalid) == (30, 3, 2, 4)
    assert (data.projects, data.eol, data.eol_unknown) == (4, 15, 4)
    assert len(data.releases) == len(RELEASES)
    assert {(r.distro, r.release, r.images) for r in data.releases} == {
        (d, r, n) for d, r, _, n in RELEASES
    }
    assert data.other_releases == (0, 0)
    assert {p.project: (p.eol, p.supported, p.unknown) for p in data.projects_eol} == (
        expected_eol_by_project()
    )
    eol_counts = [p.eol for p in data.projects_eol]
    assert eol_counts == sorted(eol_counts, reverse=True)
    assert data.other_projects is None
    assert data.findings is not None
    assert {(f.rule, f.severity, f.findings) for f in data.findings} == {
        ("eol-os", "high", 15),
        ("no-os-version", "medium", 3),
        ("public-eol", "critical", 2),
    }
    assert data.changes is not None
    assert dict(data.changes.by_kind) == {"added": 3, "removed": 2, "changed": 20, "unknown": 1}
    assert data.changes.changed_fields == 60
    assert len(data.changes.first_changed) == 50
    assert data.changes.first_changed[0].field == "name"
    assert data.changes.previous == "2026-11-26, run 20261126T010000000Z-def456"


def test_collect_without_side_tables(bare: Path) -> None:
    data = collect_report_data(bare)
    assert data.findings is None
    assert data.changes is None


def test_top_n_groups_releases_by_distro_and_sums_the_rest(full: Path) -> None:
    data = collect_report_data(full, top_releases=4, top_projects=2)
    # The four biggest releases: centos 7.6 (6), ubuntu 16.04 (5), ubuntu 22.04 and
    # windows 2012 R2 (4 each); ubuntu's two bars sit together, biggest distro first.
    assert [(r.distro, r.release) for r in data.releases] == [
        ("ubuntu", "16.04"),
        ("ubuntu", "22.04"),
        ("centos", "7.6"),
        ("windows", "2012 R2"),
    ]
    assert data.other_releases == (5, 11)
    assert len(data.projects_eol) == 2
    assert data.other_projects is not None
    assert data.other_projects.project == "2 other projects"
    shown = [*data.projects_eol, data.other_projects]
    assert sum(p.eol for p in shown) == 15
    assert sum(p.eol + p.supported + p.unknown for p in shown) == 30


def test_csv_only_snapshot_gives_the_same_data(full: Path) -> None:
    expected = collect_report_data(full)
    for table in ("images", "findings", "changes"):
        (full / f"{table}.parquet").unlink()
    assert collect_report_data(full) == expected


def test_empty_snapshot(tmp_path: Path) -> None:
    directory = make_snapshot(tmp_path, side_tables=False, rows=[])
    data = collect_report_data(directory)
    assert (data.images, data.projects, data.releases, data.projects_eol) == (0, 0, (), ())
    page = render_report(data)
    assert "The snapshot holds no images." in page
    assert "<svg" not in page


def test_snapshot_without_images_or_os_columns_is_an_error(full: Path) -> None:
    table = pq.read_table(full / "images.parquet").drop_columns(["os_is_eol"])
    pq.write_table(table, full / "images.parquet")
    with pytest.raises(SnapshotError, match="no column os_is_eol"):
        collect_report_data(full)
    for name in ("images.parquet", "images.csv"):
        (full / name).unlink()
    with pytest.raises(SnapshotError, match="no images table"):
        collect_report_data(full)


@pytest.mark.slow
def test_large_snapshot_is_aggregated_without_python_rows(tmp_path: Path) -> None:
    """A million images: the Python heap stays small because rows never become objects."""
    n = 1_000_000
    index = np.arange(n)
    distros = pa.array(["ubuntu", "centos", "rhel", "windows", "debian"])
    releases = pa.array(["16.04", "7.6", "8.4", "2019", "12", "22.04", "9"])
    columns = {field.name: pa.nulls(n, field.type) for field in IMAGES_SCHEMA if field.nullable} | {
        "project_id": pc.cast(pa.array(index % 997), pa.string()),
        "image_id": pc.cast(pa.array(index), pa.string()),
        "os_family": pa.array(np.full(n, "linux")),
        "os_distro": distros.take(pa.array(index % 5)),
        "os_release": releases.take(pa.array(index % 7)),
        "os_is_eol": pa.array(index % 3 == 0).cast(pa.bool_()),
        "metadata_json": pa.array(np.full(n, "{}")),
        "source_api": pa.array(np.full(n, "nova-proxy")),
        "fetched_at": pa.array(np.full(n, 0), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
    }
    table = pa.table([columns[name] for name in IMAGES_SCHEMA.names], schema=IMAGES_SCHEMA)
    directory = tmp_path / "big"
    directory.mkdir()
    (directory / "manifest.json").write_text(json.dumps({"counts": {}}), encoding="utf-8")
    pq.write_table(table, directory / "images.parquet", row_group_size=128 * 1024)
    del table, columns
    tracemalloc.start()
    started = time.perf_counter()
    try:
        data = collect_report_data(directory)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert (data.images, data.projects, data.eol) == (n, 997, (n + 2) // 3)
    assert len(data.releases) == 20
    assert peak < 16 * 2**20, f"Python heap peaked at {peak / 2**20:.1f} MiB"
    assert elapsed < 30


# --- rendering -----------------------------------------------------------------------------


def test_html_shows_totals_and_labels(full: Path) -> None:
    page = render_report(collect_report_data(full))
    tiles = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", page))
    assert tiles["Snapshot date"] == str(DAY)
    assert f'<dt>Run id</dt><dd><code class="id">{RUN}</code></dd>' in page
    assert (tiles["Images"], tiles["Not found"], tiles["Failed"]) == ("30", "3", "2")
    assert (tiles["Invalid input lines"], tiles["Projects"]) == ("4", "4")
    assert tiles["On an EOL OS"] == "50.0%"
    for label in ("centos 7.6", "ubuntu 16.04", "windows 2012 R2", "debian 12", "rhel 8.4"):
        assert f">{label}</text>" in page
    assert "unknown (no release)" in page
    assert "Compared with 2026-11-26, run 20261126T010000000Z-def456." in page
    assert "The first 50 of 60 changed fields" in page
    assert re.search(r'<td class="num">15</td>', page)  # the eol-os rule's count


def test_data_from_the_snapshot_is_escaped(full: Path) -> None:
    page = render_report(collect_report_data(full))
    outline = Outline(page)
    assert "script" not in outline.names()
    assert "img" not in outline.names()
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the changed name, as text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page  # the release, as a label
    assert "proj-&lt;img src=x onerror=alert(2)&gt;" in page


def test_html_is_self_contained(full: Path) -> None:
    page = render_report(collect_report_data(full))
    assert "http://" not in page
    assert "https://" not in page
    assert "@import" not in page
    assert not re.search(r"url\s*\(", page)
    fetching = {"src", "href", "xlink:href", "srcset", "action", "data", "poster", "background"}
    assert not [(tag, a) for tag, a, _ in Outline(page).tags if fetching & a.keys()]
    assert {tag for tag, _, _ in Outline(page).tags}.isdisjoint({"link", "script", "img", "iframe"})
    assert "default-src 'none'" in page  # and the browser is told to fetch nothing


def test_html_is_accessible(full: Path, bare: Path) -> None:
    for directory, charts in ((full, 4), (bare, 2)):
        page = render_report(collect_report_data(directory))
        outline = Outline(page)
        assert re.search(r"<title>Image inventory report: snapshot 2026-11-27, run ", page)
        assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
        svgs = [a for tag, a, _ in outline.tags if tag == "svg"]
        assert len(svgs) == charts
        assert all(a["role"] == "img" and a["aria-label"] for a in svgs)
        # Each chart's first child is its <title>, and a data table follows it.
        assert len(re.findall(r'<svg [^>]*role="img"[^>]*><title>[^<]+</title>', page)) == charts
        assert outline.names()["details"] == charts
        numbers = [a for tag, a, _ in outline.tags if tag == "td" and a.get("class") == "num"]
        assert numbers, "numbers are right-aligned cells"


def test_html_counts_bars(full: Path) -> None:
    outline = Outline(render_report(collect_report_data(full)))
    assert outline.charts() == ["chart-releases", "chart-eol", "chart-findings", "chart-changes"]
    assert outline.bars("chart-releases") == len(RELEASES)
    assert outline.bars("chart-eol") == eol_segments()
    assert outline.bars("chart-findings") == 3
    assert outline.bars("chart-changes") == 4


def test_notes_when_there_is_no_audit_or_diff(bare: Path) -> None:
    page = render_report(collect_report_data(bare))
    assert "No audit has been run for this snapshot (<code>crawler audit</code>)." in page
    assert "No comparison with an earlier snapshot has been made" in page
    assert Outline(page).charts() == ["chart-releases", "chart-eol"]


def test_render_is_pure() -> None:
    data = ReportData(
        snapshot_date="2026-01-01",
        run_id="r",
        images=0,
        not_found=None,
        failed=None,
        invalid=None,
        projects=0,
        eol=0,
        eol_unknown=0,
        releases=(),
        other_releases=(0, 0),
        projects_eol=(),
        other_projects=None,
    )
    assert render_report(data) == render_report(data)
    tiles = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", render_report(data)))
    assert tiles["Not found"] == "n/a"
    assert tiles["On an EOL OS"] == "n/a"


# --- writing and the command ---------------------------------------------------------------


def test_write_report_is_atomic(full: Path, tmp_path: Path) -> None:
    written = write_report(full)
    assert written == full / "report.html"
    assert written.read_text(encoding="utf-8") == render_report(collect_report_data(full))
    assert written.stat().st_mode & 0o777 == 0o644
    assert not [p for p in full.iterdir() if p.name.startswith(".report.html")]
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(SnapshotError, match="cannot write the report"):
        write_report(full, blocker / "report.html")


def test_command_defaults_to_the_snapshot_directory(full: Path) -> None:
    result = CliRunner().invoke(report, [str(full)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(full / "report.html")
    assert (full / "report.html").is_file()


def test_command_resolves_latest_and_writes_out(full: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "today.html"
    args = ["--output", str(full.parents[1]), "--out", str(out)]
    result = CliRunner().invoke(report, args)
    assert result.exit_code == 0, result.output
    assert "Image inventory report" in out.read_text(encoding="utf-8")
    result = CliRunner().invoke(report, [RUN, *args])
    assert result.exit_code == 0, result.output


def test_command_reports_errors(tmp_path: Path, full: Path) -> None:
    result = CliRunner().invoke(report, ["no-such-run", "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert "error: no committed snapshot 'no-such-run'" in result.output
    (full / "images.parquet").unlink()
    (full / "images.csv").unlink()
    result = CliRunner().invoke(report, [str(full)])
    assert result.exit_code == 3
    assert "has no images table" in result.output


# --- a real browser ------------------------------------------------------------------------


def read_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG into an (height, width, 3) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0), "only 8-bit, non-interlaced PNGs"
    assert colour in (2, 6), "only RGB or RGBA PNGs"
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(chunks))
    pixels = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]
        row = np.frombuffer(line, dtype=np.uint8)
        if kind == 0:
            out = row
        elif kind == 1:  # Sub: a running sum per channel, modulo 256
            out = row.reshape(width, bpp).cumsum(axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:  # Up
            out = row + previous
        else:  # Average or Paeth depend on the byte just decoded: one at a time
            out = _unfilter_slow(kind, line, previous.tobytes(), bpp)
        pixels[y] = out
        previous = pixels[y]
    return pixels.reshape(height, width, bpp)[:, :, :3]


def _unfilter_slow(kind: int, line: bytes, up: bytes, bpp: int) -> np.ndarray:
    """Undo Average (3) or Paeth (4); written for speed, it runs for about 2M bytes."""
    out = bytearray(line)
    for i in range(bpp):  # no left neighbour: Average adds up // 2, Paeth adds up
        out[i] = (out[i] + (up[i] >> 1 if kind == 3 else up[i])) & 0xFF
    if kind == 3:
        for i in range(bpp, len(out)):
            out[i] = (out[i] + ((out[i - bpp] + up[i]) >> 1)) & 0xFF
    else:
        for i in range(bpp, len(out)):
            a, b, c = out[i - bpp], up[i], up[i - bpp]
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - c - c)
            out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return np.frombuffer(bytes(out), dtype=np.uint8)


def test_png_reader_decodes_every_filter() -> None:
    """A 3x5 RGB image, each row stored with a different filter, round-trips."""
    image = np.arange(45, dtype=np.uint8).reshape(5, 3, 3) * 5
    lines = []
    previous = np.zeros(9, dtype=np.int16)
    for kind, row in enumerate(image.reshape(5, 9).astype(np.int16)):
        left = np.concatenate([[0, 0, 0], row[:-3]])
        up_left = np.concatenate([[0, 0, 0], previous[:-3]])
        if kind == 4:
            p = left + previous - up_left
            pa_, pb, pc_ = abs(p - left), abs(p - previous), abs(p - up_left)
            pred = np.where(
                (pa_ <= pb) & (pa_ <= pc_), left, np.where(pb <= pc_, previous, up_left)
            )
        else:
            pred = [np.zeros(9), left, previous, (left + previous) // 2][kind]
        lines.append(bytes([kind]) + ((row - pred) % 256).astype(np.uint8).tobytes())
        previous = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 5, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(lines)))
        + chunk(b"IEND", b"")
    )
    assert np.array_equal(read_png(png), image)


def chromium(*args: str, timeout: float = 60) -> str:
    """Run headless Chromium to completion; its stdout. A hang kills its whole process group."""
    binary = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if binary is None:
        pytest.fail(CHROMIUM_HINT)
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    flags += ["--no-first-run", "--force-color-profile=srgb", "--hide-scrollbars"]
    process = subprocess.Popen(
        [binary, *flags, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its renderer and zygote children share our group id
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish within {timeout} s")
    assert process.returncode == 0, f"chromium failed ({process.returncode}): {err[-2000:]}"
    return out


def colour_pixels(pixels: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return int((np.abs(pixels.astype(np.int16) - rgb).max(axis=2) <= 2).sum())


@pytest.mark.slow
def test_chromium_renders_the_charts(full: Path, tmp_path: Path) -> None:
    page = write_report(full)
    url = page.resolve().as_uri()
    png = tmp_path / "report.png"
    profile = f"--user-data-dir={tmp_path / 'chromium-profile'}"
    # One run does both: the DOM goes to stdout, the PNG to the file.
    dom = chromium(profile, "--window-size=1200,2400", f"--screenshot={png}", "--dump-dom", url)
    outline = Outline(dom)
    assert "script" not in outline.names(), "data became markup in the browser"
    assert outline.charts() == ["chart-releases", "chart-eol", "chart-findings", "chart-changes"]
    assert outline.bars("chart-releases") == len(RELEASES)
    assert outline.bars("chart-eol") == eol_segments()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom

    pixels = read_png(png.read_bytes())
    assert pixels.shape == (2400, 1200, 3)
    painted = int((pixels.min(axis=2) < 250).sum())
    assert painted > 0.02 * pixels.shape[0] * pixels.shape[1], f"only {painted} painted pixels"
    # The bars themselves, as solid areas of their colours: the EOL stacks and one colour
    # per distro (seven distros in the fixture).
    for name, colour in EOL_COLOURS.items():
        assert colour_pixels(pixels, colour) > 300, f"no {name} bars painted"
    for colour in PALETTE[:7]:
        assert colour_pixels(pixels, colour) > 300, f"no release bar painted in {colour}"
