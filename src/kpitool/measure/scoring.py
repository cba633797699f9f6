"""Scoring: turn measured numerators and denominators into values, targets and statuses.

Engine-neutral: it takes the small per-scope frames any engine measured and applies the rules
of kpis.md (empty population → n/a, no target → n/a, min_population, deadlines, milestones).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kpitool.measure.results import RESULT_SCHEMA
from kpitool.measure.targets import TargetTables, judge, resolve_target
from kpitool.plan.periods import Month, Period
from kpitool.rules.model import Rule

__all__ = ["measure_value", "prior_month", "score"]

_SCOPE_ORDER = {
    "company": 0,
    "branch": 1,
    "counter": 2,
    "channel": 3,
    "agent": 4,
    "investigator": 5,
}


@dataclass(frozen=True)
class _RememberedTables(TargetTables):
    """The target tables, each answer looked up once: scoring asks the same rule and branch
    for every scope row and month, and each lookup in the small frames costs ~0.5 ms."""

    owners: frozenset[tuple[str, str | None]] = frozenset()
    """(rule_id, branch_id) of every targets row (branch_id None for the default rows)."""
    rows: dict[tuple[str, str | None], list[tuple[dt.date, float]]] = field(default_factory=dict)
    marks: dict[tuple[str, str], float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, tables: TargetTables) -> _RememberedTables:
        owners = (
            tables.targets.select("rule_id", "branch_id").rows()
            if tables.targets is not None
            else []
        )
        return cls(tables.targets, tables.benchmarks, frozenset(owners))

    def target_rows(self, rule_id: str, branch_id: str | None) -> list[tuple[dt.date, float]]:
        # A branch without rows of its own gets the rule's default rows, as branch None does.
        own = branch_id if (rule_id, branch_id) in self.owners else None
        if (rule_id, own) not in self.rows:
            known = any(r == rule_id for r, _ in self.owners)
            self.rows[(rule_id, own)] = super().target_rows(rule_id, own) if known else []
        return self.rows[(rule_id, own)]

    def benchmark(self, rule_id: str, month: Period) -> float | None:
        if (rule_id, str(month)) not in self.marks:
            self.marks[(rule_id, str(month))] = super().benchmark(rule_id, month)
        return self.marks[(rule_id, str(month))]


def measure_value(rule: Rule, numerator: float | None, denominator: float | None) -> float | None:
    """A rule's value from its numerator and denominator; None for an empty population."""
    if denominator is None or denominator == 0 or numerator is None:
        return None
    kind = rule.measure.kind
    if kind in ("mean", "share", "coverage", "ratio"):
        return numerator / denominator
    if kind == "rate":
        return numerator / denominator * rule.measure.per
    return numerator


def prior_month(rule: Rule, month: Period) -> Period | None:
    """The earlier month a rule's prior-period target reads, if it has one."""
    if rule.target is None or rule.target.prior is None:
        return None
    if rule.target.prior.period == "same_month_last_year":
        return month.same_month_last_year()
    return month.previous()


def _months_between(start: Period, end: Period) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _score_row(
    rule: Rule,
    month: Period,
    scope: str,
    scope_id: str,
    numerator: float | None,
    denominator: float | None,
    prior: dict[tuple[str, str], float | None],
    tables: TargetTables,
) -> dict[str, Any]:
    value = measure_value(rule, numerator, denominator)
    branch_id = scope_id if scope == "branch" else None
    reason: str | None = None
    if rule.deadline is not None:
        deadline = tables.deadline(rule.deadline.rule, branch_id)
        if deadline is None:
            value, reason = None, "no deadline"
        elif month.end < deadline.replace(day=1):
            value, reason = None, "before the deadline's month"
    prior_value = None
    if rule.target is not None and rule.target.prior is not None:
        wanted = ("company", "ALL") if rule.target.prior.scope == "company" else (scope, scope_id)
        prior_value = prior.get(wanted)
    resolved = resolve_target(rule, month, branch_id, tables, prior_value)
    status = "n/a"
    if reason is None and value is None:
        reason = "no population"
    elif reason is None and rule.min_population and (denominator or 0) < rule.min_population:
        reason = "insufficient population"
    elif reason is None and resolved.value is None:
        reason = resolved.reason or "no target"
    elif reason is None and value is not None and resolved.value is not None and rule.target:
        status = judge(value, resolved.value, rule.target.op, rule.target.warn)
    pace = None
    if resolved.milestone is not None and resolved.milestone_date is not None and value is not None:
        remaining = _months_between(
            month, Month(resolved.milestone_date.year, resolved.milestone_date.month)
        )
        if remaining > 0:
            pace = max(resolved.milestone - value, 0.0) / remaining
    return {
        "rule_id": rule.id,
        "period": str(month),
        "period_start": month.start,
        "period_end": month.end,
        "scope": scope,
        "scope_id": scope_id,
        "value": value,
        "numerator": numerator,
        "denominator": denominator,
        "target": resolved.value,
        "status": status,
        "reason": reason,
        "target_source": resolved.source,
        "milestone": resolved.milestone,
        "milestone_date": str(resolved.milestone_date) if resolved.milestone_date else None,
        "pace_needed": pace,
    }


def score(
    rules: Sequence[Rule],
    months: Sequence[Period],
    measured: dict[tuple[str, Period], pl.DataFrame],
    missing: dict[tuple[str, Period], str],
    tables: TargetTables,
    all_branches: Sequence[str],
    branches: Sequence[str] | None,
    owners: dict[tuple[str, str], str] | None = None,
) -> pl.DataFrame:
    """The results frame (RESULT_SCHEMA) for every rule and month.

    With `branches`, branch rows are limited to them, and so are counter and agent rows whose
    owning branch `owners` knows ((scope, id) -> branch_id).
    """
    remembered = _RememberedTables.of(tables)
    wanted = list(branches) if branches else list(all_branches)
    rows: list[dict[str, Any]] = []
    for month in months:
        for rule in rules:
            key = (rule.id, month)
            if key in missing:
                for scope, scope_id in _expected(rule, wanted):
                    row = _score_row(rule, month, scope, scope_id, None, None, {}, remembered)
                    rows.append({**row, "status": "n/a", "reason": missing[key]})
                continue
            prior = _prior_values(rule, month, measured)
            seen: set[tuple[str, str]] = set()
            for r in measured[key].iter_rows(named=True):
                scope, scope_id = r["scope"], r["scope_id"]
                owner = scope_id if scope == "branch" else (owners or {}).get((scope, scope_id))
                if branches and owner is not None and owner not in branches:
                    continue
                seen.add((scope, scope_id))
                figures = (r["numerator"], r["denominator"])
                rows.append(_score_row(rule, month, scope, scope_id, *figures, prior, remembered))
            # A scope with no row at all in the period is n/a, not left out.
            for scope, scope_id in _expected(rule, wanted):
                if (scope, scope_id) not in seen:
                    row = _score_row(rule, month, scope, scope_id, None, None, prior, remembered)
                    rows.append(row)
    order = {rule.id: i for i, rule in enumerate(rules)}
    rows.sort(
        key=lambda r: (
            r["period"],
            order[r["rule_id"]],
            _SCOPE_ORDER.get(r["scope"], 9),
            r["scope_id"],
        )
    )
    return (
        pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=RESULT_SCHEMA)
    )


def _expected(rule: Rule, branches: Sequence[str]) -> list[tuple[str, str]]:
    """The company and branch rows a rule always has, measured or not."""
    scopes = [("company", "ALL")] if "company" in rule.scopes else []
    if "branch" in rule.scopes:
        scopes += [("branch", b) for b in branches]
    return scopes


def _prior_values(
    rule: Rule, month: Period, measured: dict[tuple[str, Period], pl.DataFrame]
) -> dict[tuple[str, str], float | None]:
    """The values of the earlier period a prior-period target compares with, per scope."""
    earlier = prior_month(rule, month)
    if earlier is None or (rule.id, earlier) not in measured:
        return {}
    return {
        (p["scope"], p["scope_id"]): measure_value(rule, p["numerator"], p["denominator"])
        for p in measured[(rule.id, earlier)].iter_rows(named=True)
    }
