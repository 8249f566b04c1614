"""Horizontal bar charts as inline, accessible SVG: no scripts, nothing to fetch. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crawler.report.markup import _e, _short

# Chart geometry, in SVG user units.
_WIDTH, _LABEL_W, _VALUE_W, _ROW, _BAR, _GAP, _LEGEND = 840, 250, 70, 24, 16, 10, 30


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
