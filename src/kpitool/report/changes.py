"""The report's "本期变化 / What changed" section and its marks on exception rows, both read
from the history file in OUT; and the hook that records each report run there."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpitool import __version__
from kpitool.data.schema import DATASETS
from kpitool.history.compare import Outstanding, compare_results, earlier_results, outstanding
from kpitool.history.query import latest_runs, reported_results, results_of, run_of
from kpitool.history.store import Listed, Run, open_history, record_run
from kpitool.measure.evaluate import evaluate
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.report.format import Lang, format_value
from kpitool.report.labels import LABELS
from kpitool.rules.model import Rule, RuleSet

__all__ = [
    "LISTED_COLUMN",
    "Changes",
    "key_columns",
    "listed_keys",
    "read_changes",
    "record",
    "results_with_history",
    "with_first_listed",
]

LISTED_COLUMN = "listed_before"
"""The column added to every exception list: new this period, or listed since when."""
Scope = tuple[str, str]


@dataclass
class Changes:
    """What changed, per scope ("company", "ALL") or ("branch", id): lines for the page;
    and the exception lists with their `listed_before` column."""

    lines: dict[Scope, list[str]] = field(default_factory=dict)
    listed: dict[str, pl.DataFrame] = field(default_factory=dict)


def key_columns(rule: Rule, frame: pl.DataFrame) -> tuple[str, ...]:
    """The columns identifying a listed row: the group, the entity key or the dataset key
    (all the listed columns when the list holds none of them)."""
    spec = rule.exceptions
    if spec is not None and spec.group_by:
        wanted = list(spec.group_by)
    elif rule.entities is not None:
        wanted = [rule.entities.key]
    else:
        wanted = list(DATASETS[rule.dataset].key)
    found = [c for c in wanted if c in frame.columns]
    return tuple(found or [c for c in frame.columns if c not in ("branch_id", LISTED_COLUMN)])


def _keys(rule: Rule, frame: pl.DataFrame) -> list[tuple[str | None, str]]:
    columns = key_columns(rule, frame)
    branches = frame["branch_id"].to_list() if "branch_id" in frame.columns else [None] * len(frame)
    values = frame.select(columns).iter_rows()
    return [
        (None if b is None else str(b), json.dumps([str(v) for v in row], ensure_ascii=False))
        for b, row in zip(branches, values, strict=True)
    ]


def listed_keys(ruleset: RuleSet, listed: Mapping[str, pl.DataFrame]) -> list[Listed]:
    """Each exception list as the history keeps it."""
    return [
        Listed(
            rule_id, key_columns(ruleset.get(rule_id), frame), _keys(ruleset.get(rule_id), frame)
        )
        for rule_id, frame in listed.items()
    ]


def _marked(
    ruleset: RuleSet, listed: Mapping[str, pl.DataFrame], found: Outstanding, lang: Lang
) -> dict[str, pl.DataFrame]:
    L = LABELS[lang]
    marked = {}
    for rule_id, frame in listed.items():
        seen = found.first_listed.get(rule_id, {})
        texts = []
        for _, key in _keys(ruleset.get(rule_id), frame):
            first = seen.get(key)
            texts.append(
                L["listed_new"]
                if first is None
                else L["listed_before"].format(first=first[0], periods=first[1])
            )
        marked[rule_id] = frame.with_columns(pl.Series(LISTED_COLUMN, texts, pl.String))
    return marked


def _scopes(branches: Sequence[Mapping[str, str]]) -> list[Scope]:
    return [("company", "ALL"), *(("branch", b["id"]) for b in branches)]


def _status_lines(
    rows: list[dict[str, Any]], ruleset: RuleSet, scope: Scope, lang: Lang
) -> list[str]:
    L = LABELS[lang]
    mine = [r for r in rows if (r["scope"], r["scope_id"]) == scope]

    def titles(change: str) -> str:
        return "、".join(
            getattr(ruleset.get(r["rule_id"]).title, lang) for r in mine if r["change"] == change
        )

    lines = []
    for change in ("newly_failing", "recovered"):
        if text := titles(change):
            lines.append(f"{L['changed_' + change]}: {text}")
    running = [
        f"{getattr(ruleset.get(r['rule_id']).title, lang)} ({r['failing_periods']})"
        for r in mine
        if r["failing_periods"] >= 2
    ]
    if running:
        lines.append(f"{L['changed_running']}: {'、'.join(running)}")
    return lines


def _restated_lines(
    rows: list[dict[str, Any]], ruleset: RuleSet, scope: Scope, lang: Lang
) -> list[str]:
    lines = []
    for r in rows:
        if (r["scope"], r["scope_id"]) != scope or r["change"] in ("unchanged", "new", "gone"):
            continue
        if r["value_before"] == r["value_after"]:
            continue
        rule = ruleset.get(r["rule_id"])
        before = format_value(r["value_before"], rule.unit, lang)
        after = format_value(r["value_after"], rule.unit, lang)
        lines.append(f"{getattr(rule.title, lang)}: {before} → {after}")
    return lines


def _listed_lines(
    ruleset: RuleSet,
    marked: Mapping[str, pl.DataFrame],
    found: Outstanding,
    scope: Scope,
    lang: Lang,
) -> list[str]:
    L = LABELS[lang]
    lines = []
    for rule_id, frame in marked.items():
        if scope[0] == "branch" and "branch_id" in frame.columns:
            frame = frame.filter(pl.col("branch_id") == scope[1])
        old = frame.filter(pl.col(LISTED_COLUMN) != L["listed_new"]).height
        gone = sum(
            n
            for (r, b), n in found.gone.items()
            if r == rule_id and (scope[0] == "company" or b == scope[1])
        )
        if frame.height or gone:
            title = getattr(ruleset.get(rule_id).title, lang)
            lines.append(
                L["changed_listed"].format(title=title, new=frame.height - old, old=old, gone=gone)
            )
    return lines


def read_changes(
    out: Path | str,
    month: Period,
    ruleset: RuleSet,
    results: pl.DataFrame,
    listed: Mapping[str, pl.DataFrame],
    branches: Sequence[Mapping[str, str]],
    lang: Lang,
) -> Changes:
    """The month's changes against the reports recorded in `out`: status changes against
    the previous month (its report, else this run's own figures of it), failing streaks over
    the reported months, figures restated since the month's last report, and the exception
    rows listed in earlier months."""
    L = LABELS[lang]
    label = str(month)
    now = results.filter(pl.col("period") == label)
    with open_history(out) as conn:
        runs = latest_runs(conn, "report") if conn is not None else {}
        previous = str(month.previous())
        before = (
            results_of(conn, runs[previous])
            if conn is not None and previous in runs
            else results.filter(pl.col("period") == previous)
        )
        earlier = earlier_results(conn, label, "report") if conn is not None else []
        moved = compare_results(before, now, earlier)
        restated = (
            compare_results(results_of(conn, runs[label]), now) if conn and label in runs else []
        )
        last_run = run_of(conn, runs[label])["finished_at"] if conn and label in runs else None
        found = outstanding(
            conn,
            label,
            {r.rule_id: {k: b for b, k in r.keys} for r in listed_keys(ruleset, listed)},
        )
    marked = _marked(ruleset, listed, found, lang)
    lines: dict[Scope, list[str]] = {}
    for scope in _scopes(branches):
        mine = _status_lines(moved, ruleset, scope, lang)
        again = _restated_lines(restated, ruleset, scope, lang)
        if again:
            mine.append(L["changed_restated"].format(when=last_run) + "; ".join(again))
        mine += _listed_lines(ruleset, marked, found, scope, lang)
        lines[scope] = mine or [L["changed_nothing"]]
    return Changes(lines, marked)


def record(
    out: Path | str,
    month: Period,
    ruleset: RuleSet,
    engine: Engine,
    results: pl.DataFrame,
    listed: Mapping[str, pl.DataFrame],
    inputs: Sequence[dict[str, Any]],
    started_at: str,
) -> int:
    """Record a report run in `out`'s history (its results, listed keys, inputs)."""
    run = Run(
        period=str(month),
        command="report",
        started_at=started_at,
        tool_version=__version__,
        rules_version=ruleset.version,
        engine=engine.name,
        data=engine.root,
        results=results,
        inputs=inputs,
        listed=listed_keys(
            ruleset, {k: v.drop(LISTED_COLUMN, strict=False) for k, v in listed.items()}
        ),
    )
    return record_run(out, run)


def results_with_history(
    out: Path | str, month: Period, months: Sequence[Period], engine: Engine, ruleset: RuleSet
) -> pl.DataFrame:
    """The results of `months`: those earlier months whose report is recorded (same tool and
    rules version) read from the history, the others, and always `month`, evaluated."""
    earlier = [str(m) for m in months if m != month]
    recorded = reported_results(out, earlier, __version__, ruleset.version)
    missing = [m for m in months if str(m) not in recorded]
    fresh = evaluate(engine, ruleset, missing)
    return pl.concat([*recorded.values(), fresh], how="vertical_relaxed")


def with_first_listed(
    out: Path | str, month: Period, ruleset: RuleSet, rule_id: str, rows: pl.DataFrame
) -> pl.DataFrame:
    """Exception rows with `first_listed` (the earliest recorded month before `month` whose
    report listed the same row, else null) and `periods_listed` (months listing it, this
    one included)."""
    rule = ruleset.get(rule_id)
    keys = _keys(rule, rows)
    with open_history(out) as conn:
        found = outstanding(conn, str(month), {rule_id: {k: b for b, k in keys}})
    seen = found.first_listed.get(rule_id, {})
    first = [seen[k][0] if k in seen else None for _, k in keys]
    count = [seen[k][1] if k in seen else 1 for _, k in keys]
    return rows.with_columns(
        pl.Series("first_listed", first, pl.String), pl.Series("periods_listed", count, pl.Int64)
    )
