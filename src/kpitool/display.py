"""How values, targets and statuses read to a person, in Chinese or English, and terminal tables.

One place formats a rate as a percentage or minutes as minutes, so the terminal, the CSV and
the reports agree.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from rich.table import Table

from kpitool.rules import Rule, RuleSet

__all__ = [
    "STATUS_LABELS",
    "STATUS_SYMBOLS",
    "Lang",
    "describe_target",
    "format_target",
    "format_value",
    "frame_table",
    "mask_frame",
    "mask_text",
    "results_table",
    "rules_table",
]

Lang = Literal["zh", "en"]
STATUS_SYMBOLS = {"pass": "✓", "warn": "!", "fail": "✗", "n/a": "–"}
STATUS_LABELS = {
    "zh": {"pass": "达标", "warn": "预警", "fail": "未达标", "n/a": "不适用"},
    "en": {"pass": "pass", "warn": "warn", "fail": "fail", "n/a": "n/a"},
}
_STATUS_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red", "n/a": "dim"}
_UNITS = {
    "zh": {"minutes": "分钟", "per_10k": "‱", "count": "件"},
    "en": {"minutes": " min", "per_10k": " per 10k", "count": ""},
}
_OPS = {"<=": "≤", ">=": "≥", "=": "="}


def format_value(value: float | None, unit: str, lang: Lang = "zh") -> str:
    """A value as a reader expects it: 98.5%, 12.3 分钟, 4 件, 0.62 (ratio)."""
    if value is None:
        return "—"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
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


def results_table(results: pl.DataFrame, rules: RuleSet, lang: Lang = "zh") -> Table:
    """A rich table of evaluation results, one row per rule, period and scope."""
    title = "KPI 评估结果" if lang == "zh" else "KPI results"
    table = Table(title=title, header_style="bold")
    headers = (
        ["指标", "期间", "范围", "值", "目标", "状态", "说明"]
        if lang == "zh"
        else ["Rule", "Period", "Scope", "Value", "Target", "Status", "Note"]
    )
    for header in headers:
        table.add_column(header, justify="right" if header in ("值", "Value") else "left")
    for row in results.iter_rows(named=True):
        rule = rules.get(row["rule_id"])
        status = row["status"]
        scope = "ALL" if row["scope"] == "company" else f"{row['scope']}:{row['scope_id']}"
        table.add_row(
            f"{rule.id}\n{getattr(rule.title, lang)}",
            row["period"],
            scope,
            format_value(row["value"], rule.unit, lang),
            format_target(rule, row["target"], lang),
            f"[{_STATUS_STYLES[status]}]{STATUS_SYMBOLS[status]} {STATUS_LABELS[lang][status]}[/]",
            row["reason"] or "",
        )
    return table


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


_PHONE = r"^(\d{3})\d{4}(\d{4})$"
_SENSITIVE = {
    "phone": "phone",
    "name": "name",
    "person_id": "id",
    "policyholder_id": "id",
    "agent_name": "name",
}


def mask_text(value: str | None, kind: str) -> str | None:
    """Mask personal data: phone 138****5678, name 张*, ID numbers keep 3 + last 4."""
    if value is None:
        return None
    if kind == "phone":
        return (value[:3] + "****" + value[-4:]) if len(value) >= 8 else "****"
    if kind == "name":
        return value[:1] + "*" * max(len(value) - 1, 1)
    return value[:3] + "*" * max(len(value) - 7, 1) + value[-4:] if len(value) > 7 else "****"


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its personal-data columns (phone, name, person ids) masked."""
    return frame.with_columns(
        pl.col(column).map_elements(lambda v, k=kind: mask_text(v, k), return_dtype=pl.String)
        for column, kind in _SENSITIVE.items()
        if column in frame.columns
    )


def frame_table(frame: pl.DataFrame, title: str = "") -> Table:
    """Any small frame as a rich table (exception rows, query results)."""
    table = Table(title=f"{title} ({frame.height} rows)" if title else None, header_style="bold")
    for column in frame.columns:
        table.add_column(column)
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def rules_table(rules: RuleSet, lang: Lang = "zh") -> Table:
    """A rich table listing every rule: id, section, title, unit, default target."""
    table = Table(title=f"{len(rules)} rules · version {rules.version}", header_style="bold")
    table.add_column("id", no_wrap=True)
    for header in ("section", "title", "unit", "target"):
        table.add_column(header)
    for rule in rules:
        table.add_row(
            rule.id, rule.section, getattr(rule.title, lang), rule.unit, describe_target(rule, lang)
        )
    return table
