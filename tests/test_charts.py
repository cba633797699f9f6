"""Charts: round axis ticks, one line per series, gaps for missing months, escaped labels."""

from __future__ import annotations

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


def test_trend_draws_branch_company_and_target() -> None:
    root = _trend([0.96, 0.99, 0.97])
    assert len(root.findall(f"{SVG}polyline")) == 3
    assert len(root.findall(f"{SVG}circle")) == 3  # a dot per month of the branch
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
    assert len(root.findall(f"{SVG}circle")) == 2


def test_labels_are_escaped() -> None:
    root = ET.fromstring(bar_svg(["2015-01"], [3], "<b>&"))
    assert "<b>&" in [t.text for t in root.iter(f"{SVG}text")]


def test_bars_carry_their_counts() -> None:
    root = ET.fromstring(bar_svg(["2015-01", "2015-02"], [30, 0], "未达标项目"))
    heights = [float(r.get("height", "")) for r in root.findall(f"{SVG}rect")]
    assert heights[0] > 0 and heights[1] == 0
    assert {"30", "0", "未达标项目"} <= {t.text for t in root.iter(f"{SVG}text")}
