"""Campaign progress for rules with dated targets (clean-up, phone calls): the value day by
day from the campaign's start to the period's end beside the straight path to the next
milestone, and the tasks to do and done per branch and channel ("各单位需清理失效保单件数")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl

from kpitool.measure.evaluate import evaluate
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.report.charts import trend_svg
from kpitool.report.format import Lang, format_value
from kpitool.report.labels import COLUMNS, LABELS, translate_value
from kpitool.rules.model import Rule, RuleSet

__all__ = ["Progress", "campaign_rules", "measure_progress", "progress_charts", "task_table"]

POINTS = 16
"""At most this many days are measured along a campaign (the last is the period's end)."""


def campaign_rules(ruleset: RuleSet) -> list[Rule]:
    """The rules judged against dated milestones (their value grows toward a deadline)."""
    return [r for r in ruleset if r.target is not None and r.target.milestone]


@dataclass
class Progress:
    """The campaign rules' results on the sampled days, and per channel at the period."""

    days: list[Period]
    results: pl.DataFrame
    channels: pl.DataFrame

    def __post_init__(self) -> None:
        self._index = {
            (r["rule_id"], r["period"], r["scope"], r["scope_id"]): r
            for r in self.results.iter_rows(named=True)
        }

    def row(self, rule_id: str, period: Period, scope: str, scope_id: str) -> dict[str, Any]:
        """A rule's result row on a sampled day for a scope ({} when there is none)."""
        return self._index.get((rule_id, str(period), scope, scope_id), {})


def _days(period: Period) -> list[Period]:
    """Days from 1 January of the period's year to its end, at most `POINTS`, evenly spaced
    and ending on the end; each day as of itself (every row up to it)."""
    start = dt.date(period.end.year, 1, 1)
    span = (period.end - start).days
    step = max(1, -(-span // (POINTS - 1)))
    days = sorted({period.end - dt.timedelta(days=k * step) for k in range(POINTS)})
    return [Period(d.replace(day=1), d, "day") for d in days if d >= start]


def measure_progress(engine: Engine, ruleset: RuleSet, period: Period) -> Progress | None:
    """The campaign rules measured along the campaign and per channel (None without any)."""
    ids = [r.id for r in campaign_rules(ruleset)]
    if not ids:
        return None
    days = _days(period)
    results = evaluate(engine, ruleset, days, rule_ids=ids)
    channels = evaluate(engine, ruleset, [period], rule_ids=ids, by=["channel"])
    return Progress(days, results, channels.filter(pl.col("scope") != "branch"))


def progress_charts(
    progress: Progress | None, ruleset: RuleSet, branch_id: str, lang: Lang
) -> list[dict[str, str]]:
    """A chart per campaign rule for a branch: its value, the company's and the path."""
    if progress is None:
        return []
    charts = []
    labels = [f"{d.end:%m-%d}" for d in progress.days]
    shown = {0, len(labels) - 1, *range(0, len(labels), max(1, len(labels) // 4))}
    axis = [label if i in shown else "" for i, label in enumerate(labels)]
    rule_ids = progress.results["rule_id"].unique(maintain_order=True).to_list()
    for rule_id in rule_ids:
        mine = [progress.row(rule_id, d, "branch", branch_id) for d in progress.days]
        company = [progress.row(rule_id, d, "company", "ALL") for d in progress.days]
        if not any(r.get("value") is not None for r in mine):
            continue
        svg = trend_svg(
            axis,
            [r.get("value") for r in mine],
            [r.get("value") for r in company],
            [r.get("target") for r in mine],
            percent=True,
        )
        charts.append({"title": getattr(ruleset.get(rule_id).title, lang), "svg": svg})
    return charts


def task_table(
    progress: Progress | None, ruleset: RuleSet, names: dict[str, str], lang: Lang
) -> list[dict[str, Any]]:
    """Per campaign rule: tasks, done and to do for the company, each branch and channel
    (`names`: branch id → name)."""
    if progress is None:
        return []
    L = LABELS[lang]
    last = progress.days[-1]
    tables = []
    for rule in campaign_rules(ruleset):
        rows = progress.results.filter(
            (pl.col("rule_id") == rule.id) & (pl.col("period") == str(last))
        )
        by_channel = progress.channels.filter(
            (pl.col("rule_id") == rule.id) & (pl.col("scope") == "channel")
        )
        lines = []
        for r in [*rows.iter_rows(named=True), *by_channel.iter_rows(named=True)]:
            if r["denominator"] is None:
                continue
            done, total = int(r["numerator"] or 0), int(r["denominator"])
            name = L["company"] if r["scope"] == "company" else names.get(r["scope_id"])
            if r["scope"] == "channel":
                channel = COLUMNS[lang].get("channel", "channel")
                name = f"{channel} {translate_value(r['scope_id'], lang)}"
            lines.append(
                {
                    "name": name,
                    "total": total,
                    "done": done,
                    "todo": total - done,
                    "value": format_value(r["value"], rule.unit, lang),
                    "target": format_value(r["target"], rule.unit, lang),
                    "css": r["status"].replace("n/a", "na"),
                }
            )
        tables.append({"title": getattr(rule.title, lang), "rows": lines})
    return tables
