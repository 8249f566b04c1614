"""One snapshot as a self-contained HTML report: totals, OS releases, EOL exposure, audit
findings and changes, with charts drawn as inline SVG.

Two halves with one boundary: :func:`collect_report_data` reads the snapshot's files and
aggregates them with Arrow group-bys over the few columns it needs (a million images stay
columnar, never Python objects), and :func:`render_report` turns the small result into HTML
without touching the disk. The page loads nothing: no scripts, fonts or images from anywhere,
and a Content-Security-Policy forbids them in case an escaping bug ever lets markup through.
Every text from the data (project ids, releases, rule ids, changed values) goes through
:func:`html.escape`: image names and metadata are chosen by whoever uploads an image.

Modules, in the order data flows:

- ``model``: the frozen values a report shows (:class:`ReportData` and its parts); pure.
- ``data``: reading the manifest and tables, Arrow aggregation; the only reading I/O.
- ``markup``, ``svg``: escaping, tables, sections; bar charts as inline SVG. Pure.
- ``sections``: one function per section of the page, and its colours. Pure.
- ``render``: the page around the sections (CSS, CSP, header, footer). Pure.
- ``write``: collect, render and write the file atomically.

Names with a leading underscore are private to this package, shared between its modules.
"""

from crawler.report.data import (
    CHANGE_KINDS,
    FIRST_CHANGES,
    TOP_PROJECTS,
    TOP_RELEASES,
    collect_report_data,
)
from crawler.report.model import (
    ChangedField,
    ChangeSummary,
    FindingCount,
    ProjectEol,
    ReleaseCount,
    ReportData,
)
from crawler.report.render import render_report
from crawler.report.sections import EOL_COLOURS, PALETTE, SEVERITIES
from crawler.report.write import REPORT_NAME, write_report

__all__ = [
    "CHANGE_KINDS",
    "EOL_COLOURS",
    "FIRST_CHANGES",
    "PALETTE",
    "REPORT_NAME",
    "SEVERITIES",
    "TOP_PROJECTS",
    "TOP_RELEASES",
    "ChangeSummary",
    "ChangedField",
    "FindingCount",
    "ProjectEol",
    "ReleaseCount",
    "ReportData",
    "collect_report_data",
    "render_report",
    "write_report",
]
