"""How values, targets and statuses read to a person, in Chinese or English.

One place formats a rate as a percentage or minutes as minutes, so the terminal, the CSV and
the reports agree.
"""

from __future__ import annotations

from typing import Literal

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
        if compact:
            return f"{value * 100:.0f}"
        if near is not None and value != near and abs(value - near) < 0.0005:
            return f"{value * 100:.2f}%"  # 97.96% must not read as the 98.0% it misses
        return f"{value * 100:.1f}%"
    if compact:
        return f"{value:,.0f}" if unit == "count" else f"{value:.1f}"
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


def format_gap(diff: float, unit: str, lang: Lang = "zh") -> str:
    """A difference of two values in the unit's own terms, unsigned: 7.4pt, 0.8分钟, 31.27‱."""
    size = abs(diff)
    if unit in ("rate", "ratio"):
        return f"{size * 100:.1f}pt"
    return format_value(size, unit, lang)
