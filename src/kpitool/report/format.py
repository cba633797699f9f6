"""How values, targets and statuses read to a person, in Chinese or English.

One place formats a rate as a percentage or minutes as minutes, so the terminal, the CSV and
the reports agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from kpitool.plan.periods import Period
from kpitool.rules.model import Rule

__all__ = [
    "STATUS_LABELS",
    "STATUS_STYLES",
    "STATUS_SYMBOLS",
    "UNIT_NOTE",
    "Lang",
    "describe_target",
    "format_gap",
    "format_target",
    "format_value",
    "period_title",
    "short_label",
]

Lang = Literal["zh", "en"]
STATUS_SYMBOLS = {"pass": "✓", "warn": "!", "fail": "✗", "n/a": "–"}
STATUS_LABELS = {
    "zh": {"pass": "达标", "warn": "预警", "fail": "未达标", "n/a": "不适用"},
    "en": {"pass": "pass", "warn": "warn", "fail": "fail", "n/a": "n/a"},
}
STATUS_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "n/a": "dim"}
_UNITS = {
    "zh": {"minutes": "分钟", "per_10k": "‱", "count": "件"},
    "en": {"minutes": " min", "per_10k": " per 10k", "count": ""},
}
_OPS = {"<=": "≤", ">=": "≥", "=": "="}
UNIT_NOTE = {
    "zh": {"rate": "%", "ratio": "%", "minutes": "分钟", "count": "件", "per_10k": "每万件"},
    "en": {
        "rate": "%",
        "ratio": "%",
        "minutes": "minutes",
        "count": "count",
        "per_10k": "per 10,000",
    },
}


def format_value(
    value: float | None,
    unit: str,
    lang: Lang = "zh",
    *,
    compact: bool = False,
    near: float | None = None,
) -> str:
    """A value as a reader expects it: 98.5%, 12.3 分钟, 4 件; `compact` for narrow cells."""
    if value is None:
        return "—"
    if unit in ("rate", "ratio"):
        if compact and near is not None and f"{value * 100:.0f}" == f"{near * 100:.0f}":
            return f"{value * 100:.2f}" if value != near else f"{value * 100:.0f}"
        if compact:
            return f"{value * 100:.0f}"
        if near is not None and value != near and abs(value - near) < 0.0005:
            return f"{value * 100:.2f}%"  # 97.96% must not read as the 98.0% it misses
        return f"{value * 100:.1f}%"
    if compact:
        text = f"{value:,.0f}" if unit == "count" else f"{value:.1f}"
        if near is not None and value != near and text == format_value(near, unit, compact=True):
            return f"{value:.2f}"  # the decimals that decide the status
        return text
    if unit == "count":
        return f"{value:,.0f}{_UNITS[lang]['count']}"
    if unit == "per_10k":
        return f"{value:.2f}{_UNITS[lang]['per_10k']}"
    return f"{value:.1f}{_UNITS[lang].get(unit, '')}"


def format_target(rule: Rule, target: float | None, lang: Lang = "zh") -> str:
    """The target with its direction (≥ 95.0%), or a dash when there is none."""
    if target is None or rule.target is None:
        return "—"
    return f"{_OPS[rule.target.op]} {format_value(target, rule.unit, lang)}"


def describe_target(rule: Rule, lang: Lang = "zh") -> str:
    """Where a rule's target comes from, in words."""
    spec = rule.target
    if spec is None:
        return "无" if lang == "zh" else "none"
    op = _OPS[spec.op]
    if spec.milestone:
        return f"{op} 里程碑(目标文件)" if lang == "zh" else f"{op} milestone (targets file)"
    if spec.benchmark is not None:
        offset = spec.benchmark.offset
        shift = f" {'+' if offset >= 0 else '−'} {abs(offset) * 100:g}pt" if offset else ""
        return f"{op} 全省基准{shift}" if lang == "zh" else f"{op} benchmark{shift}"
    parts = []
    if spec.value is not None:
        parts.append(format_value(spec.value, rule.unit, lang))
    if spec.prior is not None:
        when = {
            "same_month_last_year": "去年同期" if lang == "zh" else "same month last year",
            "previous_month": "上月" if lang == "zh" else "previous month",
        }[spec.prior.period]
        factor = f"{spec.prior.factor:g} × " if spec.prior.factor != 1 else ""
        parts.append(f"{factor}{when}")
    if not parts:
        return f"{op} 目标文件" if lang == "zh" else f"{op} targets file"
    joiner = " 与 " if lang == "zh" else " and "
    return f"{op} {joiner.join(parts)}"


_QUARTERS = {1: "一", 2: "二", 3: "三", 4: "四"}


def period_title(period: Period, lang: Lang) -> str:
    """The period as a report title says it (periods.md): 2015年3月, 截至2015年4月17日,
    2015年第16周, 2015年第一季度, 2015年度; in English March 2015, as of 17 April 2015 …"""
    s, e = period.start, period.end
    if lang == "zh":
        if period.kind == "day":
            return f"截至{e.year}年{e.month}月{e.day}日"
        if period.kind == "week":
            year, week, _ = s.isocalendar()
            return f"{year}年第{week}周"
        if period.kind == "month":
            return f"{e.year}年{e.month}月"
        if period.kind == "quarter":
            return f"{e.year}年第{_QUARTERS[(e.month - 1) // 3 + 1]}季度"
        if period.kind == "year":
            return f"{e.year}年度"
        return f"{s.year}年{s.month}月{s.day}日至{e.year}年{e.month}月{e.day}日"
    if period.kind == "day":
        return f"as of {e.day} {e:%B} {e.year}"
    if period.kind == "week":
        year, week, _ = s.isocalendar()
        return f"week {week} of {year}"
    if period.kind == "month":
        return f"{e:%B} {e.year}"
    if period.kind == "quarter":
        return f"Q{(e.month - 1) // 3 + 1} {e.year}"
    if period.kind == "year":
        return f"the year {e.year}"
    return f"{s.day} {s:%B} {s.year} to {e.day} {e:%B} {e.year}"


def short_label(start: dt.date, end: dt.date, one_year: bool = True) -> str:
    """A trend column's or chart axis's name for the days start..end: 03 (a calendar month),
    04-17 (a day), W16 (an ISO week), 04-13..04-15; with the year unless every column is of
    one year."""
    if start == end:
        return f"{end:%m-%d}" if one_year else end.isoformat()
    if start.day == 1 and (end + dt.timedelta(days=1)).day == 1 and start.month == end.month:
        return f"{end:%m}" if one_year else f"{end:%Y-%m}"
    if start.weekday() == 0 and (end - start).days == 6:
        year, week, _ = start.isocalendar()
        return f"W{week:02d}" if one_year else f"{year}-W{week:02d}"
    return f"{start:%m-%d}..{end:%m-%d}" if one_year else f"{start}..{end}"


def format_gap(diff: float, unit: str, lang: Lang = "zh") -> str:
    """A difference of two values in the unit's own terms, unsigned: 7.4pt, 0.8分钟, 31.27‱."""
    size = abs(diff)
    if unit in ("rate", "ratio"):
        return f"{size * 100:.1f}pt"
    return format_value(size, unit, lang)
