"""How values, targets and statuses read to a person, in Chinese or English, and terminal tables.

One place formats a rate as a percentage or minutes as minutes, so the terminal, the CSV and
the reports agree.
"""

from __future__ import annotations

import polars as pl
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from kpitool.api.explanation import Explanation
from kpitool.data.check import CheckReport
from kpitool.report.format import (
    STATUS_LABELS,
    STATUS_STYLES,
    STATUS_SYMBOLS,
    UNIT_NOTE,
    Lang,
    describe_target,
    format_target,
    format_value,
    short_label,
)
from kpitool.report.labels import COLUMNS, reason_text, translate_value
from kpitool.rules.model import RuleSet

__all__ = [
    "STATUS_LABELS",
    "STATUS_SYMBOLS",
    "Lang",
    "check_tables",
    "describe_target",
    "explanation_text",
    "format_target",
    "format_value",
    "frame_table",
    "results_table",
    "rows_title",
    "rules_table",
    "scope_name",
    "status_counts",
    "trend_table",
]


def scope_name(scope: str, scope_id: str, lang: Lang = "zh") -> str:
    """A result's scope as a reader says it: 全市, B03, 柜面 C0301, 渠道 个险."""
    if scope == "company":
        return "全市" if lang == "zh" else "company"
    if scope == "branch":
        return scope_id
    word = COLUMNS[lang].get(f"{scope}_id", scope) if lang == "zh" else scope
    shown = translate_value(scope_id, lang)
    return f"{_SCOPE_WORDS.get(scope, word) if lang == 'zh' else word} {shown}"


_SCOPE_WORDS = {"counter": "柜面", "channel": "渠道", "agent": "业务员", "investigator": "调查员"}


def results_table(
    results: pl.DataFrame, rules: RuleSet, lang: Lang = "zh", *, ids: bool = False
) -> Group:
    """Evaluation results, one line a rule and scope (title, scope, value, target, status),
    ids with `ids`, a note column only when a row has a note, then a count by status; cells
    never wrap, so it fits 80 columns and ids and dates stay whole."""
    zh = lang == "zh"
    periods = sorted(results["period"].unique().to_list()) if results.height else []
    one_period = len(periods) == 1
    title = ("KPI 评估结果" if zh else "KPI results") + (f" · {periods[0]}" if one_period else "")
    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("指标" if zh else "Rule", overflow="ellipsis")
    if ids:
        table.add_column("id", no_wrap=True)
    if not one_period:
        table.add_column("期间" if zh else "Period", no_wrap=True)
    table.add_column("范围" if zh else "Scope", no_wrap=True)
    table.add_column("值" if zh else "Value", justify="right", no_wrap=True)
    table.add_column("目标" if zh else "Target", no_wrap=True)
    table.add_column("状态" if zh else "Status", no_wrap=True)
    with_notes = results.height and results["reason"].drop_nulls().len() > 0
    if with_notes:
        table.add_column("说明" if zh else "Note", no_wrap=True)
    counts: dict[str, int] = {}
    for row in results.iter_rows(named=True):
        rule = rules.get(row["rule_id"])
        status = row["status"]
        counts[status] = counts.get(status, 0) + 1
        cells = [getattr(rule.title, lang)]
        if ids:
            cells.append(f"[dim]{rule.id}[/]")
        if not one_period:
            cells.append(row["period"])
        cells += [
            scope_name(row["scope"], row["scope_id"], lang),
            format_value(row["value"], rule.unit, lang, near=row["target"]),
            format_target(rule, row["target"], lang),
            f"[{STATUS_STYLES[status]}]{STATUS_SYMBOLS[status]} {STATUS_LABELS[lang][status]}[/]",
        ]
        if with_notes:
            reason = row["reason"] or ""
            cells.append(reason_text(reason, lang))
        table.add_row(*cells)
    _keep_whole(table)
    return Group(table, status_counts(counts, lang))


def _keep_whole(table: Table) -> None:
    """Every column but the first (the title, which wraps) as wide as its widest cell, so a
    narrow terminal shortens titles rather than cutting ids, values or dates."""
    for column in table.columns[1:]:
        cells = [Text.from_markup(str(c)).cell_len for c in column.cells]
        column.min_width = max([Text.from_markup(str(column.header)).cell_len, *cells])


def status_counts(counts: dict[str, int], lang: Lang = "zh") -> str:
    """The closing line of a results table: how many rows at each status."""
    total = sum(counts.values())
    parts = [
        f"[{STATUS_STYLES[s]}]{STATUS_SYMBOLS[s]} {STATUS_LABELS[lang][s]} {counts[s]}[/]"
        for s in ("fail", "warn", "pass", "n/a")
        if counts.get(s)
    ]
    head = f"共 {total} 行: " if lang == "zh" else f"{total} rows: "
    return head + " · ".join(parts)


def trend_table(results: pl.DataFrame, rules: RuleSet, lang: Lang = "zh") -> Group:
    """Sub-periods side by side: a small table per rule, its company target per column, a
    row per scope, failures marked (with the decimals that decide a status)."""
    spans = results.select("period", "period_start", "period_end").unique().sort("period_start")
    periods = spans["period"].to_list()
    one_year = spans["period_start"].dt.year().n_unique() == 1 and (
        spans["period_end"].dt.year().n_unique() == 1
    )
    headers = {
        row["period"]: short_label(row["period_start"], row["period_end"], one_year)
        for row in spans.iter_rows(named=True)
    }
    cells: dict[str, dict[str, dict[str, str]]] = {}
    for row in results.iter_rows(named=True):
        rule = rules.get(row["rule_id"])
        scope = "ALL" if row["scope"] == "company" else row["scope_id"]
        by_scope = cells.setdefault(row["rule_id"], {})
        if row["scope"] == "company" and row["target"] is not None:
            target = format_value(row["target"], rule.unit, lang, compact=True)
            by_scope.setdefault(_TARGET[lang], {})[row["period"]] = target + " "
        status = row["status"]
        bad = status in ("warn", "fail")
        mark = f"[{STATUS_STYLES[status]}]{STATUS_SYMBOLS[status]}[/]" if bad else " "
        value = format_value(row["value"], rule.unit, lang, compact=True, near=row["target"])
        by_scope.setdefault(scope, {})[row["period"]] = value + mark
    tables = []
    for rule_id, by_scope in cells.items():
        rule = rules.get(rule_id)
        unit = UNIT_NOTE[lang][rule.unit]
        table = Table(
            title=f"{rule_id} · {getattr(rule.title, lang)} ({unit})",
            title_justify="left",
            header_style="bold",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, 0, 0, 1),
        )
        table.add_column("范围" if lang == "zh" else "Scope", no_wrap=True, min_width=5)
        for period in periods:
            table.add_column(headers[period], justify="right", no_wrap=True)
        for scope, by_period in by_scope.items():
            table.add_row(scope, *(by_period.get(p, "") for p in periods))
        tables.append(table)
    return Group(*tables)


_TARGET = {"zh": "目标", "en": "target"}


def frame_table(frame: pl.DataFrame, title: str = "", width: int | None = None) -> Table:
    """Any small frame as a rich table (exception rows, query results): ids, dates and codes
    (values without spaces) never wrap, free text folds. When `width` is too narrow for the
    whole values, columns holding one value on every row go to the caption instead."""
    count = f"{frame.height} row{'s' if frame.height != 1 else ''}"
    cells = {c: ["" if v is None else str(v) for v in frame[c]] for c in frame.columns}
    whole = {c: _token_width(values, c) for c, values in cells.items()}
    shown = list(frame.columns)
    same: list[str] = []
    if width is not None and frame.height > 1 and _needed(shown, whole) > width:
        for column in frame.columns:
            if len(set(cells[column])) == 1 and _needed(shown, whole) > width:
                shown.remove(column)
                same.append(f"{column}={cells[column][0]}")
    caption = ", ".join(same) if same else None
    table = Table(
        title=f"{title} ({count})" if title else None,
        caption=caption,
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=0,
    )
    for column in shown:
        width_ = whole[column] or None  # the header folds inside a kept-whole column
        table.add_column(column, min_width=width_, max_width=width_, overflow="fold")
    for row in zip(*(cells[c] for c in shown), strict=True):
        table.add_row(*(Text(v, no_wrap=bool(whole[c])) for c, v in zip(shown, row, strict=True)))
    return table


_TOKEN = 24
_HEADER = 7
"""A kept-whole column is at least this wide, so its header folds in a few lines."""
"""Values up to this many cells without a space are ids, dates or codes: kept whole."""


def _token_width(values: list[str], header: str) -> int:
    """The width that keeps every value of a column whole (and a few cells of its header),
    0 for a free-text column."""
    widths = [Text(v).cell_len for v in values]
    if (
        any(" " in v.strip() and not _is_datetime(v) for v in values)
        or max(widths, default=0) > _TOKEN
    ):
        return 0
    return max([*widths, min(len(header), _HEADER)])


def _is_datetime(value: str) -> bool:
    return len(value) == 19 and value[4] == "-" and value[10] == " "


def _needed(columns: list[str], whole: dict[str, int]) -> int:
    """Cells a table of these columns needs to keep its whole values (1 a column between)."""
    return sum(max(whole[c], 1) for c in columns) + len(columns) - 1


_SOURCE_WORDS = {
    "zh": {
        "default": "规则默认值",
        "targets": "目标文件",
        "benchmark": "全省基准",
        "milestone": "里程碑直线进度",
        "prior": "以往期间数值",
    },
    "en": {
        "default": "the rule's default",
        "targets": "the targets file",
        "benchmark": "the provincial benchmark",
        "milestone": "the milestone's straight path",
        "prior": "an earlier period's value",
    },
}


def explanation_text(found: Explanation, lang: Lang = "zh") -> str:
    """The rule in words and its figure: population, numerator, value, target and its source."""
    rule, r = found.rule, found.result
    zh = lang == "zh"
    description = getattr(rule.description, lang) if rule.description else ""
    status = r["status"]
    source = _SOURCE_WORDS[lang].get(r.get("target_source") or "", "—")
    count = "{:,.0f}"
    lines = [
        f"[bold]{rule.id}[/] · {getattr(rule.title, lang)}",
        description,
        ("口径: " if zh else "Default target: ") + describe_target(rule, lang),
        ("总体(分母): " if zh else "Population (denominator): ")
        + ("—" if r["denominator"] is None else count.format(r["denominator"])),
        ("分子: " if zh else "Numerator: ")
        + ("—" if r["numerator"] is None else f"{r['numerator']:,.2f}".rstrip("0").rstrip(".")),
        ("数值: " if zh else "Value: ") + format_value(r["value"], rule.unit, lang),
        ("目标: " if zh else "Target in force: ")
        + format_target(rule, r["target"], lang)
        + (f" ({'来源' if zh else 'from'}: {source})" if r["target"] is not None else ""),
        ("状态: " if zh else "Status: ")
        + f"[{STATUS_STYLES[status]}]{STATUS_SYMBOLS[status]} {STATUS_LABELS[lang][status]}[/]"
        + (f" — {r['reason']}" if r.get("reason") else ""),
    ]
    return "\n".join(line for line in lines if line)


def rows_title(found: Explanation, lang: Lang = "zh") -> str:
    """Caption of the rows an explanation shows."""
    behind = found.rule.measure.kind in ("share", "detection", "count_distinct", "coverage")
    if lang == "zh":
        return "计入分子的前几行" if behind else "总体的前几行"
    return "First rows counted in the numerator" if behind else "First rows of the population"


def check_tables(report: CheckReport, shown_per_kind: int = 5) -> Group:
    """The data check as a person reads it: a summary per dataset, then the problems, a few
    rows per kind and column with how many more there are."""
    summary = Table(title="kpitool data check", header_style="bold")
    for header in ("dataset", "files", "rows", "columns", "errors", "warnings"):
        summary.add_column(header, justify="left" if header == "dataset" else "right")
    for d in report.datasets:
        errors = f"[bold red]{d.errors}[/]" if d.errors else "0"
        summary.add_row(
            d.dataset, str(d.files), f"{d.rows:,}", str(d.columns), errors, str(d.warnings)
        )
    problems = Table(title="problems", header_style="bold")
    for header in ("", "file", "row", "column", "problem"):
        problems.add_column(header, overflow="fold")
    seen: dict[tuple[str, str, str | None], int] = {}
    for p in report.problems:
        group = (p.dataset, p.kind, p.column)
        seen[group] = seen.get(group, 0) + 1
        total = report.counts.get((p.dataset, p.kind, p.column or ""), seen[group])
        if seen[group] <= shown_per_kind:
            mark = "[bold red]✗[/]" if p.severity == "error" else "[yellow]![/]"
            problems.add_row(
                mark,
                p.file or p.dataset,
                "" if p.row is None else str(p.row),
                p.column or "",
                p.message,
            )
        elif seen[group] == shown_per_kind + 1:
            problems.add_row(
                "",
                "",
                "",
                p.column or "",
                f"… and {total - shown_per_kind:,} more {p.kind} problems",
            )
    verdict = (
        "[green]✓ no errors[/]"
        if report.ok
        else f"[bold red]✗ {sum(d.errors for d in report.datasets):,} errors[/]"
    )
    return Group(summary, problems, verdict) if report.problems else Group(summary, verdict)


def rules_table(rules: RuleSet, lang: Lang = "zh") -> Table:
    """A rich table listing every rule: id, section, title, unit, default target. Ids,
    sections and units never break; titles and targets wrap (fold, for Chinese)."""
    table = Table(
        title=f"{len(rules)} rules · version {rules.version}",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("id", no_wrap=True, min_width=max((len(r.id) for r in rules), default=2))
    table.add_column("section", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=3)
    table.add_column("unit", no_wrap=True)
    table.add_column("target", overflow="fold", ratio=2)
    for rule in rules:
        table.add_row(
            rule.id, rule.section, getattr(rule.title, lang), rule.unit, describe_target(rule, lang)
        )
    return table
