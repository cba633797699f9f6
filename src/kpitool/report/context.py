"""What a report page shows, computed from evaluation results: scorecards, ranks, changes,
trend charts, exception tables, the company heat map and league tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kpitool.plan.periods import Period, trend_periods
from kpitool.report.cells import listed_cell, overdue_days
from kpitool.report.charts import bar_svg, trend_svg
from kpitool.report.findings import Findings
from kpitool.report.format import UNIT_NOTE, Lang, format_target, format_value, short_label
from kpitool.report.labels import COLUMNS, LABELS, STATUS_MARKS, reason_text, vs_previous
from kpitool.report.progress import Progress, progress_charts, task_table
from kpitool.rules.model import Rule, RuleSet

__all__ = ["ReportData", "branch_context", "company_context", "delta"]

_CSS = {"pass": "pass", "warn": "warn", "fail": "fail", "n/a": "na"}
EXCEPTION_ROWS = 30
HEAT_COLUMNS = 10
"""Branches per heat-map table: a provincial company's 100 branches become ten readable
tables rather than one table too wide for the page."""


@dataclass
class ReportData:
    """Everything the pages of one month are made from."""

    month: Period
    rules: RuleSet
    results: pl.DataFrame
    exceptions: dict[str, pl.DataFrame]
    branches: list[dict[str, str]]
    quality: list[str]
    lang: Lang
    progress: Progress | None = None
    changes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """The "what changed" lines per scope, read from the history (report.changes)."""
    findings: Findings = field(default_factory=Findings)

    def value(
        self, rule_id: str, month: Period, scope: str, scope_id: str
    ) -> dict[str, Any] | None:
        """The result row of a rule, month and scope (None when there is none)."""
        return self._index.get((rule_id, str(month), scope, scope_id))

    def __post_init__(self) -> None:
        self._index = {
            (r["rule_id"], r["period"], r["scope"], r["scope_id"]): r
            for r in self.results.iter_rows(named=True)
        }


def delta(rule: Rule, now: float | None, before: float | None) -> tuple[str, str]:
    """The change as text in the rule's unit (+1.2pt, −0.4分钟, +3.20‱) and its CSS class
    (good or bad direction); a change that rounds to nothing reads 0."""
    if now is None or before is None:
        return "—", "muted"
    diff = now - before
    if rule.unit in ("rate", "ratio"):
        text = f"{diff * 100:+.1f}pt"
    elif rule.unit == "per_10k":
        text = f"{diff:+.2f}‱"
    elif rule.unit == "count":
        text = f"{diff:+,.0f}"
    else:
        text = f"{diff:+.1f}"
    if not any(ch in "123456789" for ch in text):
        return "0", "muted"
    text = text.replace("-", "−")
    better = rule.better
    good = better is not None and ((diff > 0) == (better == "higher"))
    arrow = "▲" if diff > 0 else "▼"
    return f"{arrow} {text}", ("up" if diff > 0 else "down") + ("-good" if good else "-bad")


def _rank(data: ReportData, rule: Rule, branch_id: str) -> str:
    if rule.better is None:
        return "—"
    values = {}
    for b in data.branches:
        row = data.value(rule.id, data.month, "branch", b["id"])
        if row is not None and row["value"] is not None:
            values[b["id"]] = row["value"]
    if branch_id not in values:
        return "—"
    mine = values[branch_id]
    sign = -1 if rule.better == "higher" else 1
    better_count = sum(1 for v in values.values() if sign * v < sign * mine - 1e-12)
    return f"{better_count + 1}/{len(values)}"


def _scorecard(data: ReportData, scope: str, scope_id: str) -> list[dict[str, Any]]:
    L, lang = LABELS[data.lang], data.lang
    rows, section = [], None
    for rule in data.rules:
        row = data.value(rule.id, data.month, scope, scope_id)
        if row is None:
            continue
        last_month = data.value(rule.id, data.month.previous(), scope, scope_id)
        last_year = data.value(rule.id, data.month.same_period_last_year(), scope, scope_id)
        d_month = delta(rule, row["value"], last_month["value"] if last_month else None)
        d_year = delta(rule, row["value"], last_year["value"] if last_year else None)
        status = row["status"]
        note = ""
        if row["pace_needed"] is not None and row["milestone"] is not None:
            note = (
                f"{L['milestone']} {format_value(row['milestone'], rule.unit, lang)} "
                f"@ {row['milestone_date']} · {L['pace']} "
                f"{row['pace_needed'] * 100:.1f}pt"
            )
        elif row["reason"] and status == "n/a":
            note = reason_text(row["reason"], lang)
        key = data.rules.section_of.get(rule.id, "")
        title = data.rules.sections.get(key)
        rows.append(
            {
                "section_title": getattr(title, lang) if title and key != section else None,
                "rule_id": rule.id,
                "title": getattr(rule.title, lang),
                "note": note,
                "value": format_value(row["value"], rule.unit, lang, near=row["target"]),
                "target": format_target(rule, row["target"], lang),
                "status": status,
                "css": _CSS[status],
                "mark": STATUS_MARKS[status],
                "status_label": L[status],
                "d_month": d_month[0],
                "d_month_css": d_month[1],
                "d_year": d_year[0],
                "d_year_css": d_year[1],
                "rank": _rank(data, rule, scope_id) if scope == "branch" else "",
            }
        )
        section = key
    return rows


def _labels(periods: list[Period]) -> list[str]:
    one_year = len({p.start.year for p in periods} | {p.end.year for p in periods}) == 1
    return [short_label(p.start, p.end, one_year) for p in periods]


def _year_of(periods: list[Period], lang: Lang) -> str:
    """The year the trend's axis labels leave out (01, 02, 03 of 2015): named once beside the
    heading; empty when the labels carry their years."""
    years = {p.start.year for p in periods} | {p.end.year for p in periods}
    if len(years) != 1:
        return ""
    (year,) = years
    return f"{year}年" if lang == "zh" else str(year)


def _charts(data: ReportData, branch_id: str) -> list[dict[str, str]]:
    L, lang = LABELS[data.lang], data.lang
    months = trend_periods(data.month)
    charts = []
    for rule in data.rules:
        mine = [data.value(rule.id, m, "branch", branch_id) for m in months]
        if not any(r is not None and r["value"] is not None for r in mine):
            continue
        company = [data.value(rule.id, m, "company", "ALL") for m in months]
        svg = trend_svg(
            _labels(months),
            [r["value"] if r else None for r in mine],
            [r["value"] if r else None for r in company],
            [r["target"] if r else None for r in mine],
            percent=rule.unit in ("rate", "ratio"),
        )
        last = mine[-1]
        note = ""
        if last is not None and last["pace_needed"] is not None:
            note = f"{L['pace']}: {last['pace_needed'] * 100:.1f}pt"
        unit = UNIT_NOTE[lang][rule.unit]
        title = f"{getattr(rule.title, lang)} ({unit})"
        charts.append({"title": title, "svg": svg, "note": note})
    return charts


def _exception_blocks(data: ReportData, branch_id: str | None) -> dict[str, Any]:
    """The detection lists of a page: a block per list with rows (a row already shown in an
    earlier list of the page is not shown again) and the titles of the empty ones, which
    read as one line."""
    L = LABELS[data.lang]
    blocks, empty = [], []
    seen: set[tuple[str, ...]] = set()
    for rule_id, frame in data.exceptions.items():
        rule = data.rules.get(rule_id)
        if branch_id is not None and "branch_id" in frame.columns:
            frame = frame.filter(pl.col("branch_id") == branch_id)
        elif branch_id is not None:
            continue
        title = getattr(rule.title, data.lang)
        if frame.height == 0:
            empty.append(title)
            continue
        columns = [c for c in frame.columns if c != "branch_id" or branch_id is None]
        end = data.month.last_day
        texts = [
            tuple(listed_cell(c, v, data.lang, end) for c, v in zip(columns, r, strict=True))
            for r in frame.select(columns).iter_rows()
        ]
        overdue = overdue_days(frame, end)
        if overdue is not None:
            texts = [(*r, d) for r, d in zip(texts, overdue, strict=True)]
        keys = [(columns[0], r[0]) for r in texts]  # a row is its first column's id
        fresh = [r for r, k in zip(texts, keys, strict=True) if k not in seen]
        seen.update(keys)
        shown = fresh[:EXCEPTION_ROWS]
        repeated = len(texts) - len(fresh)
        more = len(fresh) - len(shown)
        notes = [L["more_rows"].format(n=more)] if more > 0 else []
        if repeated:
            notes.append(L["repeated_rows"].format(n=repeated))
        blocks.append(
            {
                "title": title,
                "columns": [COLUMNS[data.lang].get(c, c) for c in columns]
                + ([L["days_overdue"]] if overdue is not None else []),
                "rows": [list(r) for r in shown],
                "count_text": L["count_rows"].format(n=frame.height),
                "more": " · ".join(notes),
            }
        )
    return {"blocks": blocks, "empty": "、".join(empty) if data.lang == "zh" else ", ".join(empty)}


def branch_context(data: ReportData, branch: dict[str, str]) -> dict[str, Any]:
    """The template variables of one branch's report."""
    return {
        "branch": branch,
        "rows": _scorecard(data, "branch", branch["id"]),
        "charts": _charts(data, branch["id"]),
        "trend_year": _year_of(trend_periods(data.month), data.lang),
        "exceptions": _exception_blocks(data, branch["id"]),
        "changes": data.changes.get(("branch", branch["id"]), []),
        "quality": data.quality,
        "progress_charts": progress_charts(data.progress, data.rules, branch["id"], data.lang),
        "vs_previous": _vs_previous(data),
    }


def _vs_previous(data: ReportData) -> str:
    """The change column's header: against the previous period of the same kind."""
    return vs_previous(data.lang, data.month.kind)


def _heat_tables(
    heat: list[dict[str, Any]], branches: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The heat map cut into tables of HEAT_COLUMNS branches, each led by the company."""
    tables = []
    for start in range(0, max(len(branches), 1), HEAT_COLUMNS):
        stop = start + HEAT_COLUMNS
        rows = [
            {"title": row["title"], "cells": [row["cells"][0], *row["cells"][1:][start:stop]]}
            for row in heat
        ]
        tables.append({"branches": branches[start:stop], "rows": rows})
    return tables


def company_context(data: ReportData) -> dict[str, Any]:
    """The template variables of the company report (and index.html)."""
    L, lang = LABELS[data.lang], data.lang
    heat, league, benchmarks = [], [], []
    for rule in data.rules:
        cells = []
        for scope, scope_id in [("company", "ALL"), *(("branch", b["id"]) for b in data.branches)]:
            row = data.value(rule.id, data.month, scope, scope_id)
            status = row["status"] if row else "n/a"
            cells.append(
                {
                    "css": _CSS[status],
                    "mark": STATUS_MARKS[status],
                    "value": format_value(row["value"] if row else None, rule.unit, lang),
                }
            )
        heat.append({"title": getattr(rule.title, lang), "cells": cells})
        ranked = sorted(
            (
                (b["name"], r["value"])
                for b in data.branches
                if (r := data.value(rule.id, data.month, "branch", b["id"]))
                and r["value"] is not None
            ),
            key=lambda item: -item[1] if rule.better == "higher" else item[1],
        )
        if rule.better is not None and len(ranked) >= 2:
            tied = abs(ranked[0][1] - ranked[-1][1]) < 1e-12  # all equal: nobody is last
            league.append(
                {
                    "title": getattr(rule.title, lang),
                    "first": L["all_tied"]
                    if tied
                    else f"{ranked[0][0]} {format_value(ranked[0][1], rule.unit, lang)}",
                    "last": "—"
                    if tied
                    else f"{ranked[-1][0]} {format_value(ranked[-1][1], rule.unit, lang)}",
                }
            )
        company = data.value(rule.id, data.month, "company", "ALL")
        if rule.target is not None and rule.target.benchmark is not None and company:
            offset = rule.target.benchmark.offset
            target = company["target"]
            status = company["status"]
            benchmarks.append(
                {
                    "title": getattr(rule.title, lang),
                    "value": format_value(company["value"], rule.unit, lang),
                    "benchmark": format_value(
                        None if target is None else target - offset, rule.unit, lang
                    ),
                    "target": format_target(rule, target, lang),
                    "css": _CSS[status],
                    "mark": STATUS_MARKS[status],
                    "status_label": L[status],
                }
            )
    months = trend_periods(data.month)
    failures = [
        data.results.filter(
            (pl.col("period") == str(m))
            & (pl.col("scope") == "branch")
            & (pl.col("status") == "fail")
        ).height
        for m in months
    ]
    return {
        "heat_tables": _heat_tables(heat, data.branches),
        "league": league,
        "benchmarks": benchmarks,
        "rows": _scorecard(data, "company", "ALL"),
        "failures_chart": bar_svg(_labels(months), failures, L["failures"]),
        "trend_year": _year_of(months, data.lang),
        "exceptions": _exception_blocks(data, None),
        "changes": data.changes.get(("company", "ALL"), []),
        "quality": data.quality,
        "tasks": task_table(
            data.progress, data.rules, {b["id"]: b["name"] for b in data.branches}, data.lang
        ),
        "vs_previous": _vs_previous(data),
    }
