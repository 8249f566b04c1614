"""The report page around its sections: inline CSS, a Content-Security-Policy that forbids
loading anything, header and footer. Pure: it never touches the disk.
"""

from __future__ import annotations

from typing import Final

from crawler import __version__
from crawler.report.markup import _e
from crawler.report.model import ReportData
from crawler.report.sections import (
    _changes_section,
    _eol_section,
    _findings_section,
    _releases_section,
    _totals,
)

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
