"""A horizontal bar chart of counts as inline SVG, readable without colour (as ``chart.trend``).

Every bar has its label written before it and its count written after it, so nothing depends on
colour or on reading a scale; ``<title>``/``<desc>`` name the chart and summarise it for screen
readers, each bar has its own ``<title>``, and the table beside the chart is the full text
alternative. No inline style: the look is the stylesheet's (``svg.bars``), as the pages' Content
Security Policy requires.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 480
LABEL_W, VALUE_W, TOP, ROW_H, BOTTOM = 216, 40, 8, 30, 8
MAX_LABEL = 24


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bars(rows: Sequence[tuple[str, int]], chart_id: str, title: str, unit: str = "") -> Markup | None:
    """The chart of ``(label, count)`` rows in the order given, or None when there is no row."""
    if not rows:
        return None
    height = TOP + ROW_H * len(rows) + BOTTOM
    largest = max(value for _, value in rows) or 1
    plot_w = WIDTH - LABEL_W - VALUE_W
    total = sum(value for _, value in rows)
    suffix = f" {unit}" if unit else ""
    desc = f"{len(rows)} søjler, i alt {total}{suffix}: " + "; ".join(f"{label} {value}" for label, value in rows)
    parts = [
        f'<svg class="bars" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}.</desc>',
        f'<line class="axis" x1="{LABEL_W}" y1="{TOP}" x2="{LABEL_W}" y2="{height - BOTTOM}"/>',
    ]
    for index, (label, value) in enumerate(rows):
        y = TOP + index * ROW_H
        width = round(value / largest * plot_w, 1)
        parts.append(
            f'<g><title>{escape(label)}: {value}{escape(suffix)}</title>'
            f'<text class="label" x="{LABEL_W - 8}" y="{y + 20}" text-anchor="end">{escape(_short(label))}</text>'
            f'<rect class="bar" x="{LABEL_W}" y="{y + 5}" width="{width}" height="{ROW_H - 10}"/>'
            f'<text class="value" x="{LABEL_W + width + 6}" y="{y + 20}">{value}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
