"""One snapshot as a self-contained HTML report: totals, OS releases, EOL exposure, audit
findings and changes, with charts drawn as inline SVG.

Two halves with one boundary: :func:`collect_report_data` reads the snapshot's files and
aggregates them with Arrow group-bys over the few columns it needs (a million images stay
columnar, never Python objects), and :func:`render_report` turns the small result into HTML
without touching the disk. The page loads nothing: no scripts, fonts or images from anywhere,
and a Content-Security-Policy forbids them in case an escaping bug ever lets markup through.
Every text from the data (project ids, releases, rule ids, changed values) goes through
:func:`html.escape`: image names and metadata are chosen by whoever uploads an image.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crawler import __version__
from crawler.errors import SnapshotError
from crawler.normalize.schema import ALL_SCHEMAS
from crawler.read import Table
from crawler.snapshot import MANIFEST

REPORT_NAME: Final = "report.html"
TOP_RELEASES: Final = 20
TOP_PROJECTS: Final = 25
FIRST_CHANGES: Final = 50
CHANGE_KINDS: Final = ("added", "removed", "changed", "unknown")
SEVERITIES: Final = ("critical", "high", "medium", "low")


# ---------------------------------------------------------------- the data a report shows


@dataclass(frozen=True, slots=True)
class ReleaseCount:
    """Images of one OS distro and release (``release`` None: not known)."""

    distro: str
    release: str | None
    images: int


@dataclass(frozen=True, slots=True)
class ProjectEol:
    """One project's images by ``os_is_eol``: true, false and null."""

    project: str
    eol: int
    supported: int
    unknown: int


@dataclass(frozen=True, slots=True)
class FindingCount:
    rule: str
    severity: str
    findings: int


@dataclass(frozen=True, slots=True)
class ChangedField:
    """One ``changed`` row of changes.parquet."""

    project_id: str
    image_id: str
    field: str | None
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """changes.parquet in brief: images per kind (``changed``: distinct images), the number
    of changed fields, the first changed fields, and the snapshot compared with, if known."""

    by_kind: tuple[tuple[str, int], ...]
    changed_fields: int
    first_changed: tuple[ChangedField, ...]
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything :func:`render_report` draws; small whatever the snapshot's size.

    ``not_found``, ``failed`` and ``invalid`` come from the manifest (None: not recorded);
    ``findings`` is None when no audit has run, ``changes`` None when no diff has.
    """

    snapshot_date: str
    run_id: str
    images: int
    not_found: int | None
    failed: int | None
    invalid: int | None
    projects: int
    eol: int
    eol_unknown: int
    releases: tuple[ReleaseCount, ...]
    other_releases: tuple[int, int]  # (release groups, images) beyond the top ones
    projects_eol: tuple[ProjectEol, ...]
    other_projects: ProjectEol | None  # the sum over the projects beyond the top ones
    findings: tuple[FindingCount, ...] | None = None
    changes: ChangeSummary | None = None


# ---------------------------------------------------------------- reading (the only I/O)


def _batches(directory: Path, table: Table, columns: list[str]) -> Iterator[pa.RecordBatch] | None:
    """The given columns of a snapshot table, batch by batch, from Parquet or else CSV;
    None if the snapshot has neither file."""
    schema = ALL_SCHEMAS[table]
    parquet, csv = directory / f"{table}.parquet", directory / f"{table}.csv"
    if parquet.is_file():
        missing = sorted(set(columns) - set(pq.read_schema(parquet).names))
        if missing:
            raise SnapshotError(
                f"{parquet} has no column {', '.join(missing)}: written by an older version"
                " (re-crawl, or run the newer command that writes it)"
            )
        batches: Iterator[pa.RecordBatch] = pq.ParquetFile(parquet).iter_batches(columns=columns)
        return batches
    if csv.is_file():
        options = pacsv.ConvertOptions(
            column_types={name: schema.field(name).type for name in columns},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=columns,
        )
        reader: Iterator[pa.RecordBatch] = pacsv.open_csv(csv, convert_options=options)
        return reader
    return None


def _read(directory: Path, table: Table, columns: list[str]) -> pa.Table | None:
    batches = _batches(directory, table, columns)
    if batches is None:
        return None
    schema = pa.schema([ALL_SCHEMAS[table].field(name) for name in columns])
    return pa.Table.from_batches([batch.cast(schema) for batch in batches], schema)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"cannot read {path}: {exc}") from exc
    return document if isinstance(document, dict) else None


def _count(value: object) -> int | None:
    return value if type(value) is int else None


def _releases(images: pa.Table, top: int) -> tuple[list[ReleaseCount], tuple[int, int]]:
    """The ``top`` biggest (distro, release) groups, grouped by distro, and what is left."""
    groups = images.group_by(["os_distro", "os_release"]).aggregate([([], "count_all")])
    groups = groups.sort_by(
        [("count_all", "descending"), ("os_distro", "ascending"), ("os_release", "ascending")]
    )
    shown = [
        ReleaseCount(row["os_distro"], row["os_release"], row["count_all"])
        for row in groups.slice(0, top).to_pylist()
    ]
    rest = groups.slice(top)
    by_distro: dict[str, int] = {}
    for release in shown:
        by_distro[release.distro] = by_distro.get(release.distro, 0) + release.images
    shown.sort(key=lambda r: (-by_distro[r.distro], r.distro, -r.images, r.release or ""))
    return shown, (rest.num_rows, pc.sum(rest["count_all"]).as_py() or 0)


def _projects_eol(images: pa.Table, top: int) -> tuple[list[ProjectEol], ProjectEol | None, int]:
    """Per project, images on an EOL release, a supported one, or unknown; the ``top``
    projects by EOL count, the sum of the others, and the number of projects."""
    is_eol = images["os_is_eol"]
    flags = pa.table(
        {
            "project_id": images["project_id"],
            "eol": pc.cast(pc.fill_null(is_eol, False), pa.int64()),
            "supported": pc.cast(pc.fill_null(pc.invert(is_eol), False), pa.int64()),
            "unknown": pc.cast(pc.is_null(is_eol), pa.int64()),
        }
    )
    sums = flags.group_by("project_id").aggregate(
        [("eol", "sum"), ("supported", "sum"), ("unknown", "sum"), ([], "count_all")]
    )
    sums = sums.sort_by(
        [("eol_sum", "descending"), ("count_all", "descending"), ("project_id", "ascending")]
    )
    rows = [
        ProjectEol(r["project_id"], r["eol_sum"], r["supported_sum"], r["unknown_sum"])
        for r in sums.slice(0, top).to_pylist()
    ]
    rest = sums.slice(top)
    others = None
    if rest.num_rows:
        others = ProjectEol(
            f"{rest.num_rows} other projects",
            *(pc.sum(rest[f"{name}_sum"]).as_py() for name in ("eol", "supported", "unknown")),
        )
    return rows, others, sums.num_rows


def _findings(directory: Path) -> tuple[FindingCount, ...] | None:
    findings = _read(directory, "findings", ["rule", "severity"])
    if findings is None:
        return None
    groups = findings.group_by(["rule", "severity"]).aggregate([([], "count_all")])
    return tuple(
        FindingCount(row["rule"], row["severity"], row["count_all"]) for row in groups.to_pylist()
    )


def _first_changed(directory: Path, limit: int) -> tuple[ChangedField, ...]:
    """The first ``limit`` changed fields, reading only as many batches as that takes."""
    columns = ["change", "project_id", "image_id", "field", "old", "new"]
    found: list[ChangedField] = []
    for batch in _batches(directory, "changes", columns) or ():
        changed = batch.filter(pc.equal(batch.column("change"), "changed"))
        for row in changed.slice(0, limit - len(found)).to_pylist():
            row.pop("change")
            found.append(ChangedField(**row))
        if len(found) >= limit:
            break
    return tuple(found)


def _changes(directory: Path) -> ChangeSummary | None:
    changes = _read(directory, "changes", ["change", "project_id", "image_id"])
    if changes is None:
        return None
    kinds = dict.fromkeys(CHANGE_KINDS, 0)
    for item in pc.value_counts(changes["change"]).to_pylist():
        kinds[item["values"]] = item["counts"]
    changed = changes.filter(pc.equal(changes["change"], "changed"))
    fields = kinds["changed"]
    kinds["changed"] = changed.group_by(["project_id", "image_id"]).aggregate([]).num_rows
    side = _read_json(directory / "changes.json") or {}
    old, previous = side.get("old"), None
    if isinstance(old, dict) and old.get("run_id"):
        previous = f"{old.get('snapshot_date') or '?'}, run {old['run_id']}"
    return ChangeSummary(
        tuple(kinds.items()), fields, _first_changed(directory, FIRST_CHANGES), previous
    )


def collect_report_data(
    snapshot_dir: Path, *, top_releases: int = TOP_RELEASES, top_projects: int = TOP_PROJECTS
) -> ReportData:
    """Read and aggregate what the report shows from one snapshot directory.

    Raises:
        SnapshotError: the manifest or a table cannot be read, or the images table is
            missing or lacks the OS columns (a snapshot written before schema version 2).
    """
    try:
        manifest = _read_json(snapshot_dir / MANIFEST) or {}
        columns = ["project_id", "os_distro", "os_release", "os_is_eol"]
        images = _read(snapshot_dir, "images", columns)
        if images is None:
            raise SnapshotError(f"{snapshot_dir} has no images table (images.parquet or .csv)")
        releases, other_releases = _releases(images, top_releases)
        projects_eol, other_projects, projects = _projects_eol(images, top_projects)
        eol = pc.sum(pc.cast(pc.fill_null(images["os_is_eol"], False), pa.int64())).as_py()
        findings, changes = _findings(snapshot_dir), _changes(snapshot_dir)
    except (OSError, pa.ArrowException) as exc:
        raise SnapshotError(f"cannot read the snapshot {snapshot_dir}: {exc}") from exc
    counts = manifest.get("counts")
    counts = counts if isinstance(counts, dict) else {}
    return ReportData(
        snapshot_date=str(manifest.get("snapshot_date") or snapshot_dir.parent.name.split("=")[-1]),
        run_id=str(manifest.get("run_id") or snapshot_dir.name.removeprefix("run_id=")),
        images=images.num_rows,
        not_found=_count(counts.get("not_found")),
        failed=_count(counts.get("failed")),
        invalid=_count(counts.get("invalid")),
        projects=projects,
        eol=eol or 0,
        eol_unknown=images["os_is_eol"].null_count,
        releases=tuple(releases),
        other_releases=other_releases,
        projects_eol=tuple(projects_eol),
        other_projects=other_projects,
        findings=findings,
        changes=changes,
    )


def write_report(snapshot_dir: Path, out_path: Path | None = None) -> Path:
    """Collect, render and write the report (default ``SNAPSHOT/report.html``) atomically:
    a temporary file in the same directory, fsynced, renamed over the target.

    Raises:
        SnapshotError: the snapshot cannot be read or the report cannot be written.
    """
    html = render_report(collect_report_data(snapshot_dir))
    target = out_path or snapshot_dir / REPORT_NAME
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(html)
                handle.flush()
                os.fsync(handle.fileno())
            Path(scratch).chmod(0o644)  # mkstemp makes it 0600; a report is meant to be shared
            Path(scratch).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(scratch).unlink()
            raise
    except OSError as exc:
        raise SnapshotError(f"cannot write the report {target}: {exc.strerror or exc}") from exc
    return target


# ---------------------------------------------------------------- rendering (pure)

# Tableau 10: tells neighbouring distros apart.
PALETTE: Final = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#e15759",
    "#8cd17d",
)
_OTHER_COLOUR: Final = "#bab0ac"
EOL_COLOURS: Final = {"EOL": "#c0392b", "supported": "#2e8b57", "unknown": "#b0b0b0"}
_SEVERITY_COLOURS: Final = {
    "critical": "#7f0000",
    "high": "#d7301f",
    "medium": "#fc8d59",
    "low": "#fdcc8a",
}
_CHANGE_COLOURS: Final = {
    "added": "#59a14f",
    "removed": "#e15759",
    "changed": "#4e79a7",
    "unknown": "#bab0ac",
}

_EOL_FILL: Final = tuple(EOL_COLOURS.values())
_EOL_NOTE: Final = (
    "Images per project on an end-of-life OS release, a supported one, or one whose support"
    " dates are unknown; most EOL images first."
)
_NO_AUDIT: Final = "No audit has been run for this snapshot (<code>crawler audit</code>)."
_NO_DIFF: Final = (
    "No comparison with an earlier snapshot has been made for this one"
    " (<code>crawler diff previous latest</code>)."
)

# Chart geometry, in SVG user units.
_WIDTH, _LABEL_W, _VALUE_W, _ROW, _BAR, _GAP, _LEGEND = 840, 250, 70, 24, 16, 10, 30
# Labels longer than this are cut (in full in the tooltip and the data table): at 12px a
# digit is about 7.3 units wide, so a 32-digit project id would overrun the label column.
_LABEL_CHARS: Final = 30


def _e(value: object) -> str:
    """Escape any value for HTML text and quoted attributes (SVG included)."""
    return escape(str(value), quote=True)


def _n(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class _Bar:
    """One row of a horizontal bar chart: segments of (series name, value, colour)."""

    label: str
    segments: tuple[tuple[str, int, str], ...]
    group_start: bool = False  # a little space above: the first bar of a new group


def _legend(series: Sequence[tuple[str, str]]) -> list[str]:
    parts, x = [], _LABEL_W
    for name, colour in series:
        parts.append(
            f'<rect class="swatch" x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 17}" y="18">{_e(name)}</text>'
        )
        x += 32 + 7 * len(name)  # the swatch, a gap, and the name at ~7 units a letter
    return parts


def _chart(
    chart_id: str, title: str, bars: Sequence[_Bar], legend: Sequence[tuple[str, str]] = ()
) -> str:
    """A horizontal (optionally stacked) bar chart as an accessible inline SVG element.

    Every bar segment is a ``<rect class="bar">`` with its own tooltip; labels are cut to
    fit, the full text stays in the tooltip and the data table.
    """
    top = _LEGEND if legend else 4
    scale_max = max((sum(v for _, v, _ in bar.segments) for bar in bars), default=0) or 1
    span = _WIDTH - _LABEL_W - _VALUE_W
    parts, y = _legend(legend), top
    for bar in bars:
        y += _GAP if bar.group_start and y > top else 0
        total = sum(value for _, value, _ in bar.segments)
        text_y = y + _BAR - 4
        parts.append(
            f'<text class="label" x="{_LABEL_W - 8}" y="{text_y}" text-anchor="end">'
            f"{_e(_short(bar.label))}</text>"
        )
        x = float(_LABEL_W)
        for name, value, colour in bar.segments:
            if value <= 0:
                continue
            width = max(value / scale_max * span, 1.0)
            tip = (
                f"{bar.label}: {value:,}"
                if len(bar.segments) == 1
                else f"{bar.label}, {name}: {value:,}"
            )
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_BAR}"'
                f' fill="{colour}"><title>{_e(tip)}</title></rect>'
            )
            x += width
        parts.append(f'<text class="value" x="{x + 6:.1f}" y="{text_y}">{total:,}</text>')
        y += _ROW
    height = y + 6
    return (
        f'<svg id="{_e(chart_id)}" class="chart" role="img" aria-label="{_e(title)}"'
        f' width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">'
        f"<title>{_e(title)}</title>{''.join(parts)}</svg>"
    )


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain table; ints are formatted and right-aligned, everything is escaped."""
    cells = "".join(f'<th scope="col"{_num(i, rows)}>{_e(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_n(v)}</td>' if isinstance(v, int) else f"<td>{_e(_text(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<table><caption>{_e(caption)}</caption><thead><tr>{cells}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _num(column: int, rows: Sequence[Sequence[object]]) -> str:
    return ' class="num"' if rows and isinstance(rows[0][column], int) else ""


def _text(value: object) -> str:
    return "(null)" if value is None else _short(str(value), 200)


def _details(table: str) -> str:
    return f"<details><summary>Data table</summary>{table}</details>"


def _section(section_id: str, heading: str, body: str) -> str:
    return (
        f'<section aria-labelledby="{section_id}"><h2 id="{section_id}">{_e(heading)}</h2>'
        f"{body}</section>"
    )


def _note(markup: str) -> str:
    """A paragraph of ``markup``: HTML, so whatever comes from the data must be escaped."""
    return f'<p class="note">{markup}</p>'


def _release_label(release: ReleaseCount) -> str:
    return f"{release.distro} {release.release or '(no release)'}"


def _totals(data: ReportData) -> str:
    share = "n/a" if not data.images else f"{data.eol / data.images:.1%}"
    tiles = [
        ("Snapshot date", _e(data.snapshot_date), ""),
        ("Run id", f'<code class="id">{_e(data.run_id)}</code>', ""),
        ("Images", _n(data.images), ""),
        ("Not found", _n(data.not_found), ""),
        ("Failed", _n(data.failed), ""),
        ("Invalid input lines", _n(data.invalid), ""),
        ("Projects", _n(data.projects), ""),
        ("On an EOL OS", share, f"{data.eol:,} images; {data.eol_unknown:,} unknown"),
    ]
    items = "".join(
        f'<div class="tile"><dt>{name}</dt><dd>{value}</dd>'
        + (f'<dd class="sub">{sub}</dd>' if sub else "")
        + "</div>"
        for name, value, sub in tiles
    )
    return _section("totals", "Totals", f'<dl class="tiles">{items}</dl>')


def _releases_section(data: ReportData) -> str:
    title = "Images by OS distro and release"
    if not data.releases:
        return _section("releases", title, _note("The snapshot holds no images."))
    colours: dict[str, str] = {}
    bars, previous = [], None
    for release in data.releases:
        colour = colours.setdefault(release.distro, PALETTE[len(colours) % len(PALETTE)])
        segments = (("images", release.images, colour),)
        bars.append(_Bar(_release_label(release), segments, release.distro != previous))
        previous = release.distro
    groups, images = data.other_releases
    if groups:
        bars.append(_Bar(f"{groups} other releases", (("images", images, _OTHER_COLOUR),), True))
    rows: list[Sequence[object]] = [
        (r.distro, r.release or "(no release)", r.images) for r in data.releases
    ]
    if groups:
        rows.append(("(others)", f"{groups} releases", images))
    body = _chart(
        "chart-releases", f"{title}: the {len(data.releases)} largest releases", bars
    ) + _details(_table(title, ("Distro", "Release", "Images"), rows))
    return _section("releases", title, body)


def _eol_section(data: ReportData) -> str:
    title = "EOL exposure by project"
    projects = list(data.projects_eol) + ([data.other_projects] if data.other_projects else [])
    if not projects:
        return _section("eol", title, _note("The snapshot holds no images."))
    series = list(EOL_COLOURS.items())
    bars = [
        _Bar(
            p.project,
            tuple(zip(EOL_COLOURS, (p.eol, p.supported, p.unknown), _EOL_FILL, strict=True)),
            p is data.other_projects,
        )
        for p in projects
    ]
    rows = [
        (p.project, p.eol, p.supported, p.unknown, p.eol + p.supported + p.unknown)
        for p in projects
    ]
    body = (
        _note(_EOL_NOTE)
        + _chart("chart-eol", f"{title}, top {len(data.projects_eol)} projects", bars, series)
        + _details(_table(title, ("Project", "EOL", "Supported", "Unknown", "Images"), rows))
    )
    return _section("eol", title, body)


def _findings_section(data: ReportData) -> str:
    title = "Audit findings by rule"
    if data.findings is None:
        return _section("findings", title, _note(_NO_AUDIT))
    if not data.findings:
        return _section("findings", title, _note("The audit found nothing."))
    severities = [s for s in SEVERITIES if any(f.severity == s for f in data.findings)]
    severities += sorted({f.severity for f in data.findings} - set(severities))
    by_rule: dict[str, dict[str, int]] = {}
    for finding in data.findings:
        by_rule.setdefault(finding.rule, {})[finding.severity] = finding.findings
    rules = sorted(by_rule, key=lambda rule: (-sum(by_rule[rule].values()), rule))
    colour = {s: _SEVERITY_COLOURS.get(s, _OTHER_COLOUR) for s in severities}
    bars = [_Bar(r, tuple((s, by_rule[r].get(s, 0), colour[s]) for s in severities)) for r in rules]
    rows = [
        (r, *(by_rule[r].get(s, 0) for s in severities), sum(by_rule[r].values())) for r in rules
    ]
    body = _chart("chart-findings", f"{title} and severity", bars, list(colour.items())) + _details(
        _table(title, ("Rule", *severities, "Total"), rows)
    )
    return _section("findings", title, body)


def _changes_section(data: ReportData) -> str:
    title = "Changes since the previous snapshot"
    changes = data.changes
    if changes is None:
        return _section("changes", title, _note(_NO_DIFF))
    against = f" Compared with {_e(changes.previous)}." if changes.previous else ""
    bars = [
        _Bar(kind, ((kind, n, _CHANGE_COLOURS.get(kind, _OTHER_COLOUR)),))
        for kind, n in changes.by_kind
    ]
    kinds = _table("Images by change", ("Change", "Images"), changes.by_kind)
    first = [(c.project_id, c.image_id, c.field, c.old, c.new) for c in changes.first_changed]
    shown = f"The first {len(first):,} of {changes.changed_fields:,} changed fields"
    fields = (
        _table(shown, ("Project", "Image", "Field", "Old", "New"), first)
        if first
        else _note("No field changed.")
    )
    body = (
        _note(f"Images added, removed, changed or of unknown state.{against}")
        + _chart("chart-changes", "Images by change kind", bars)
        + _details(kinds)
        + fields
    )
    return _section("changes", title, body)


_CSS: Final = """
:root { color-scheme: light; --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 900px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 36px 0 8px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
.lead, .note, footer { color: var(--muted); }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr));
  gap: 10px; margin: 0; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.tile dt { color: var(--muted); font-size: .85rem; }
.tile dd { margin: 0; font-size: 1.3rem; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.tile dd.sub { font-size: .8rem; color: var(--muted); }
.tile code.id { font-size: .95rem; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  fill: var(--ink); }
svg.chart text.value { fill: var(--muted); }
table { border-collapse: collapse; margin: 8px 0; font-size: .9rem; width: 100%; }
caption { text-align: left; color: var(--muted); padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
details summary { cursor: pointer; color: var(--muted); }
code { font-size: .9em; }
"""
_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def render_report(data: ReportData) -> str:
    """The report as one HTML document: inline CSS and SVG, no scripts, nothing to fetch."""
    title = f"Image inventory report: snapshot {data.snapshot_date}, run {data.run_id}"
    sections = (
        _totals(data),
        _releases_section(data),
        _eol_section(data),
        _findings_section(data),
        _changes_section(data),
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f'<header><h1>Image inventory report</h1><p class="lead">Snapshot'
        f" {_e(data.snapshot_date)}, run <code>{_e(data.run_id)}</code></p></header>\n"
        + "\n".join(sections)
        + f"\n<footer><p>Written by imagecrawler {_e(__version__)} (<code>crawler report"
        "</code>).</p></footer>\n</main>\n</body>\n</html>\n"
    )
