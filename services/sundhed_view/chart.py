"""A trend chart of one analysis as inline SVG, readable without colour.

Every measurement is a marker with its value written beside it; corrected results (``R``) are
squares labelled "R", others circles; the line is drawn dashed; axes carry the lowest and highest
value and the first and last date. ``<title>``/``<desc>`` name the chart and summarise it for
screen readers; each marker has its own ``<title>``. The results table next to the chart is the
full text alternative.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from services.sundhed_view import formatting
from services.sundhed_view.hco import Analysis

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 34, 44


def trend(analysis: Analysis, chart_id: str) -> Markup | None:
    """The chart, or None when fewer than two numeric results exist."""
    points = sorted(((formatting.sort_key(r.sampled), r) for r in analysis.results if r.numeric is not None),
                    key=lambda p: p[0])
    if len(points) < 2:
        return None
    times = [t for t, _ in points]
    values = [r.numeric for _, r in points if r.numeric is not None]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    span_t = (times[-1] - times[0]) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + (t - times[0]) / span_t * plot_w, 1)

    def y(v: float) -> float:
        return round(TOP + (high - v) / (high - low) * plot_h, 1)

    unit = f" {analysis.unit}" if analysis.unit else ""
    first, last = points[0][1], points[-1][1]
    title = f"Udvikling: {analysis.name}"
    desc = (f"{len(points)} målinger fra {formatting.date_time(first.sampled)} til "
            f"{formatting.date_time(last.sampled)}; laveste {formatting.number(min(values))}{unit}, "
            f"højeste {formatting.number(max(values))}{unit}, seneste {last.value}{unit}.")
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" focusable="false">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"/>',
    ]
    for value in (low, high):
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y(value)}" x2="{WIDTH - RIGHT}" y2="{y(value)}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4}" text-anchor="end">'
                     f'{escape(formatting.number(value))}</text>')
    for anchor, (t, r) in (("start", points[0]), ("end", points[-1])):
        parts.append(f'<text class="tick" x="{x(t)}" y="{HEIGHT - BOTTOM + 18}" text-anchor="{anchor}">'
                     f'{escape(formatting.date_only(r.sampled))}</text>')
    if analysis.unit:
        parts.append(f'<text class="tick unit" x="{LEFT - 6}" y="14" text-anchor="end">'
                     f'{escape(analysis.unit)}</text>')
    line = " ".join(f"{x(t)},{y(r.numeric)}" for t, r in points if r.numeric is not None)
    parts.append(f'<polyline class="line" points="{line}"/>')
    for t, r in points:
        if r.numeric is None:
            continue
        cx, cy = x(t), y(r.numeric)
        label = f"{formatting.date_time(r.sampled)}: {r.value}{unit}" + (" (rettet, R)" if r.corrected else "")
        shape = (f'<rect class="point corrected" x="{cx - 5}" y="{cy - 5}" width="10" height="10"/>' if r.corrected
                 else f'<circle class="point" cx="{cx}" cy="{cy}" r="5"/>')
        text = escape(r.value + (" R" if r.corrected else ""))
        parts.append(f'<g><title>{escape(label)}</title>{shape}'
                     f'<text class="value" x="{cx}" y="{cy - 9}" text-anchor="middle">{text}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
