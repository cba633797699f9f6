"""Charts as small inline SVG written directly: a trend line per KPI and monthly bars.

Reports carry dozens of charts per branch and a hundred branches a month, so each chart is
a dozen elements rather than a plotting library's hundreds: WeasyPrint's PDF time and the
HTML's weight follow the element count, so lines of one colour share a `<path>` (the grid,
the dots) and labels of one alignment a group. Text stays text, in the report's CJK font;
identical inputs give identical SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_svg", "nice_ticks", "trend_svg"]

_FONT = "font-family=\"'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif\""
_INK, _GRID, _MUTED = "#333333", "#e5e8eb", "#6b7785"
_BRANCH, _COMPANY, _TARGET, _BAR = "#1f4e79", "#9aa5b1", "#c0392b", "#c0392b"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round axis ticks (steps of 1, 2 or 5 × 10^k) spanning low..high, about `count` of them."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low < 1e-12:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _tick_label(value: float, percent: bool, step: float) -> str:
    """A tick with as many decimals as the step needs (2.5 → one, 0.25 → two)."""
    decimals = next((d for d in range(4) if abs(step * 10**d - round(step * 10**d)) < 1e-6), 4)
    text = f"{value:.{decimals}f}"
    return f"{text}%" if percent else text


def _is_month(label: str) -> bool:
    return len(label) == 7 and label[4] == "-"


def _axis(label: str) -> str:
    """An x-axis label: a month of the year as 03 (YYYY-MM), anything else as given."""
    return label[5:] if _is_month(label) else label


def _svg(width: float, height: float, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_number(width)}pt" '
        f'height="{_number(height)}pt" viewBox="0 0 {_number(width)} {_number(height)}" '
        f'{_FONT} font-size="7" fill="{_INK}">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, extra: str = "") -> str:
    return f'<text x="{_number(x)}" y="{_number(y)}"{extra}>{escape(text)}</text>'


def _texts(anchor: str, labels: Sequence[tuple[float, float, str, str]], extra: str = "") -> str:
    """Labels (x, y, text, extra attributes) in one group that gives them their anchor; an
    empty label is left out (WeasyPrint styles and lays out every element, text by letter)."""
    inner = "".join(_text(x, y, text, extra) for x, y, text, extra in labels if text)
    return f'<g text-anchor="{anchor}"{extra}>{inner}</g>' if inner else ""


def _rules(ys: Sequence[float], x1: float, x2: float, colour: str, stroke_width: str) -> str:
    """Horizontal lines at `ys`, one path for all (grid lines or the axis)."""
    d = "".join(f"M{_number(x1)} {_number(y)}H{_number(x2)}" for y in ys)
    return f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{stroke_width}"/>'


def _dots(centres: Sequence[tuple[float, float]], r: float, colour: str) -> str:
    """Filled dots of radius `r`, one path for all: each a zero-length line with round caps
    (SVG and PDF draw those as discs; cheaper to parse and draw than arcs or circles)."""
    if not centres:
        return ""
    d = "".join(f"M{_number(x)} {_number(y)}h0" for x, y in centres)
    return (
        f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{_number(2 * r)}" '
        'stroke-linecap="round"/>'
    )


def _runs(points: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Consecutive points with values; a missing month breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _polyline(run: list[tuple[float, float]], style: str) -> str:
    points = " ".join(f"{_number(x)},{_number(y)}" for x, y in run)
    return f'<polyline points="{points}" fill="none" {style}/>'


def trend_svg(
    months: Sequence[str],
    values: Sequence[float | None],
    company: Sequence[float | None],
    targets: Sequence[float | None],
    *,
    percent: bool,
) -> str:
    """A small line chart: the branch's values (solid, dots), the company's (dashed) and the
    target (dotted, held flat across each month). The legend is the page's, once for all."""
    width, height = 238.0, 96.0
    left, right, top, bottom = 30.0, 8.0, 6.0, 14.0
    scale = 100.0 if percent else 1.0
    series = [[None if v is None else v * scale for v in s] for s in (values, company, targets)]
    present = [v for s in series for v in s if v is not None]
    ticks = nice_ticks(min(present, default=0.0), max(present, default=1.0))
    if percent and max(present, default=0.0) <= 100.0:
        capped = [t for t in ticks if t <= 100.0 + 1e-9]  # a share never passes 100%
        ticks = capped if len(capped) >= 2 else [ticks[0], 100.0]
        if len(ticks) == 2 and ticks[0] == ticks[1]:
            ticks = [ticks[0] - 10.0, ticks[0]]
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(months), 1)

    def x_of(i: float) -> float:
        return left + slot * (i + 0.5)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    step = ticks[1] - ticks[0]
    y_labels = [(left - 3, y_of(t) + 2.3, _tick_label(t, percent, step), "") for t in ticks]
    if months and _is_month(months[0]):  # the year, once, where the months begin
        y_labels.append((left - 3, height - 4, months[0][:4], f' fill="{_MUTED}"'))
    body = [
        _rules([y_of(t) for t in ticks], left, width - right, _GRID, "0.5"),
        _rules([top + plot_h], left, width - right, _INK, "0.6"),
        _texts("end", y_labels),
        _texts("middle", [(x_of(i), height - 4, _axis(m), "") for i, m in enumerate(months)]),
    ]
    steps = [(x_of(i + dx), v) for i, v in enumerate(series[2]) for dx in (-0.5, 0.5)]
    styles = (
        (steps, f'stroke="{_TARGET}" stroke-dasharray="1 1.5"'),
        (
            [(x_of(i), v) for i, v in enumerate(series[1])],
            f'stroke="{_COMPANY}" stroke-dasharray="3 2"',
        ),
        ([(x_of(i), v) for i, v in enumerate(series[0])], f'stroke="{_BRANCH}" stroke-width="1.6"'),
    )
    for points, style in styles:
        for run in _runs([(x, None if v is None else y_of(v)) for x, v in points]):
            body.append(_polyline(run, style))
    dots = [(x_of(i), y_of(v)) for i, v in enumerate(series[0]) if v is not None]
    body.append(_dots(dots, 1.6, _BRANCH))
    return _svg(width, height, body)


def bar_svg(months: Sequence[str], counts: Sequence[int], label: str) -> str:
    """Bars of counts per month with their numbers on top (the company's failed KPIs)."""
    width, height = 468.0, 120.0
    left, right, top, bottom = 8.0, 8.0, 18.0, 14.0
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(months), 1)
    highest = max([*counts, 1])
    bar_w = min(slot * 0.6, 24.0)
    bars, numbers, axis = [], [], []
    for i, (month, count) in enumerate(zip(months, counts, strict=True)):
        bar_h, middle = plot_h * count / highest, left + slot * (i + 0.5)
        y = top + plot_h - bar_h
        bars.append(
            f"M{_number(middle - bar_w / 2)} {_number(y)}h{_number(bar_w)}v{_number(bar_h)}"
            f"h-{_number(bar_w)}z"
        )
        numbers.append((middle, y - 2, str(count), ""))
        axis.append((middle, height - 4, month if i == 0 else _axis(month), ""))
    body = [
        _text(left, 9, label, f' fill="{_MUTED}"'),
        f'<path d="{"".join(bars)}" fill="{_BAR}"/>' if bars else "",
        _texts("middle", numbers, ' font-size="6.5"'),
        _texts("middle", axis),
        _rules([top + plot_h], left, width - right, _INK, "0.6"),
    ]
    return _svg(width, height, body)
