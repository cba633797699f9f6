"""Print column widths of listed tables: worked out from the text as the automatic layout
would, so `table-layout: fixed` keeps the PDF's look (issue 18)."""

from __future__ import annotations

from kpitool.report.columns import colgroup, column_widths


def test_widths_follow_the_widest_text_when_all_fit() -> None:
    # "AB" 1.4 em, "abcd" 2.24 em, "中文" 2 em (headers ×1.05 are narrower here), + 1.25 padding:
    # 2.65, 3.49, 3.25 em of 9.39 → 28.22 %, 37.17 %, 34.61 %
    widths = column_widths(["a", "b", "c"], [("AB", "abcd", "中文")])
    assert widths == [28.22, 37.17, 34.61]


def test_a_long_column_gives_way_down_to_its_longest_word() -> None:
    long_text = " ".join(["abcd"] * 40)  # far wider than the page's 72 em
    widths = column_widths(["x", "y"], [("中文", long_text)])
    # least: 中 1 em (CJK breaks anywhere) + 1.25 = 2.25; "abcd" 2.24 + 1.25 = 3.49
    # most: 3.25 and 40 × 2.24 + 39 × 0.3 + 1.25 = 102.55; 72 em shared between them:
    # share = (72 − 5.74) / (105.8 − 5.74) = 0.66220; x = 2.25 + 1.0 × share = 2.91220
    assert widths == [round(100 * 2.91220 / 72, 2), round(100 * (72 - 2.91220) / 72, 2)]


def test_colgroup_sets_print_widths_as_a_variable() -> None:
    html = str(colgroup(["a", "b"], [("x", "x")]))
    assert html == '<colgroup><col style="--w: 50.0%"><col style="--w: 50.0%"></colgroup>'
