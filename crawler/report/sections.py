"""The report's sections, one function each, from :class:`ReportData` to HTML. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from crawler.report.markup import _details, _e, _n, _note, _section, _table
from crawler.report.model import ReleaseCount, ReportData
from crawler.report.svg import _Bar, _chart

SEVERITIES: Final = ("critical", "high", "medium", "low")

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
