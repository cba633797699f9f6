"""Charts: round axis ticks, one line per series, gaps for missing months, escaped labels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from kpitool.report.charts import bar_svg, nice_ticks, trend_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (94.2, 99.6, [94.0, 96.0, 98.0, 100.0]),
        (0.0, 7.0, [0.0, 2.5, 5.0, 7.5]),
        (8.1, 14.9, [7.5, 10.0, 12.5, 15.0]),
        (100.0, 100.0, [90.0, 100.0, 110.0]),  # a flat line gets room
        (0.012, 0.031, [0.01, 0.02, 0.03, 0.04]),
    ],
)
def test_ticks_are_round_and_span_the_values(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high) == ticks


def _trend(values: list[float | None]) -> ET.Element:
    svg = trend_svg(
        ["2015-01", "2015-02", "2015-03"],
        values,
        [0.97, 0.98, 0.99],
        [0.95, 0.95, 0.96],
        percent=True,
    )
    return ET.fromstring(svg)


def _dots(root: ET.Element) -> list[tuple[float, float]]:
    """The centres of the branch's dots: zero-length round-capped lines in one path."""
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke-linecap") == "round"]
    assert path.get("stroke") == "#1f4e79" and path.get("stroke-width") == "3.2"  # r = 1.6
    moves = re.findall(r"M([\d.]+) ([\d.]+)h0", path.get("d", ""))
    assert len(moves) == path.get("d", "").count("M")
    return [(float(x), float(y)) for x, y in moves]


def _grid_lines(root: ET.Element) -> list[float]:
    """The heights of the horizontal grid lines (one path, a move and a line for each)."""
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke") == "#e5e8eb"]
    return [float(y) for y in re.findall(r"M30 ([\d.]+)H230", path.get("d", ""))]


def test_trend_draws_branch_company_and_target() -> None:
    root = _trend([0.96, 0.99, 0.97])
    assert len(root.findall(f"{SVG}polyline")) == 3
    branch = next(p for p in root.iter(f"{SVG}polyline") if p.get("stroke") == "#1f4e79")
    points = [tuple(map(float, xy.split(","))) for xy in branch.get("points", "").split()]
    assert _dots(root) == points  # a dot per month of the branch, on its line
    assert _grid_lines(root) == [82.0, 56.67, 31.33, 6.0]  # a line per tick, 94% to 100%
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"01", "02", "03"} <= set(texts)
    assert "100%" in texts and "94%" in texts
    assert "2015" in texts  # the year, once, beside the months


def test_a_share_at_100_percent_never_gets_a_110_percent_axis() -> None:
    svg = trend_svg(["2015-01", "2015-02"], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], percent=True)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "110%" not in texts and "100%" in texts and "90%" in texts


def test_tick_labels_show_the_step_s_decimals() -> None:
    svg = trend_svg(["2015-01"], [8.1], [14.9], [None], percent=False)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert {"7.5", "10.0", "12.5", "15.0"} <= set(texts)


def test_a_month_without_a_value_breaks_the_branch_line() -> None:
    root = _trend([0.96, None, 0.97])
    branch = [p for p in root.findall(f"{SVG}polyline") if p.get("stroke") == "#1f4e79"]
    assert [len(p.get("points", "").split()) for p in branch] == [1, 1]
    assert [x for x, _ in _dots(root)] == [63.33, 196.67]  # January and March, not February


def test_empty_axis_labels_are_left_out() -> None:
    svg = trend_svg(["03-01", "", "03-03"], [0.5, 0.6, 0.7], [None] * 3, [None] * 3, percent=True)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "03-01" in texts and "03-03" in texts and "" not in texts and None not in texts


def test_labels_are_escaped() -> None:
    root = ET.fromstring(bar_svg(["2015-01"], [3], "<b>&"))
    assert "<b>&" in [t.text for t in root.iter(f"{SVG}text")]


def test_bars_carry_their_counts() -> None:
    root = ET.fromstring(bar_svg(["2015-01", "2015-02"], [30, 0], "未达标项目"))
    (bars,) = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "#c0392b"]
    heights = [float(h) for h in re.findall(r"v([\d.]+)h", bars.get("d", ""))]
    assert heights == [88.0, 0.0]  # the tallest bar takes the plot's height, 120 - 18 - 14
    assert {"30", "0", "未达标项目"} <= {t.text for t in root.iter(f"{SVG}text")}
