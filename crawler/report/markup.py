"""HTML building blocks for the report: escaping, numbers, tables, sections. Pure.

Everything that comes from the data is escaped here, in attribute-safe form, because image
names and metadata are chosen by whoever uploads an image.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

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
