"""Targets and statuses: which target applies to a rule for a scope and month, and the verdict.

Precedence: a `targets` row for the rule (the branch's own rows, else rows with branch_id
null), then the provincial `benchmarks` (+ offset), then a prior-period value (× factor,
combined with the default by the stricter of the two), then the rule's default value.
Milestone targets are judged on the straight path from the year's start (or the previous
milestone) to the next milestone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from kpitool.plan.periods import Period
from kpitool.rules.model import Rule, Target

__all__ = ["ResolvedTarget", "TargetTables", "judge", "resolve_target"]

_EPS = 1e-9


@dataclass(frozen=True)
class TargetTables:
    """The small reference tables targets come from, read once per evaluation."""

    targets: pl.DataFrame | None
    benchmarks: pl.DataFrame | None

    def target_rows(self, rule_id: str, branch_id: str | None) -> list[tuple[dt.date, float]]:
        """(period_end, target) rows for the rule: the branch's own, else the default rows."""
        if self.targets is None:
            return []
        rows = self.targets.filter(pl.col("rule_id") == rule_id)
        own = rows.filter(pl.col("branch_id") == branch_id) if branch_id is not None else rows[:0]
        chosen = own if own.height else rows.filter(pl.col("branch_id").is_null())
        chosen = chosen.drop_nulls(["period_end", "target"]).sort("period_end")
        return list(zip(chosen["period_end"].to_list(), chosen["target"].to_list(), strict=True))

    def deadline(self, rule_id: str, branch_id: str | None) -> dt.date | None:
        """The latest period_end of a rule's targets rows for a branch (else the default)."""
        rows = self.target_rows(rule_id, branch_id)
        return rows[-1][0] if rows else None

    def deadline_frame(self, rule_id: str) -> pl.DataFrame:
        """branch_id → deadline for the branches with rows of their own."""
        schema: dict[str, pl.DataType] = {"branch_id": pl.String(), "deadline": pl.Date()}
        if self.targets is None:
            return pl.DataFrame(schema=schema)
        return (
            self.targets.filter((pl.col("rule_id") == rule_id) & pl.col("branch_id").is_not_null())
            .group_by("branch_id")
            .agg(pl.col("period_end").max().alias("deadline"))
            .cast(schema)  # type: ignore[arg-type]
        )

    def benchmark(self, rule_id: str, month: Period) -> float | None:
        """The benchmark of the period's label, else of its end's month ("2015-03"), else of
        its end's year ("2015")."""
        if self.benchmarks is None:
            return None
        rows = self.benchmarks.filter(pl.col("rule_id") == rule_id)
        for period in (str(month), f"{month.year:04d}-{month.month:02d}", str(month.year)):
            hit = rows.filter(pl.col("period") == period)["value"].drop_nulls()
            if len(hit):
                return float(hit[0])
        return None


@dataclass(frozen=True)
class ResolvedTarget:
    """The target in force, where it came from, and for milestones the milestone itself."""

    value: float | None
    source: str | None
    milestone: float | None = None
    milestone_date: dt.date | None = None
    reason: str | None = None


def _milestone(rows: list[tuple[dt.date, float]], as_of: dt.date) -> ResolvedTarget:
    upcoming = [(d, t) for d, t in rows if d >= as_of]
    if not upcoming:
        last_date, last_target = rows[-1]
        return ResolvedTarget(last_target, "milestone", last_target, last_date)
    next_date, next_target = upcoming[0]
    year_start = dt.date(as_of.year, 1, 1)
    earlier = [(d, t) for d, t in rows if year_start <= d < as_of]
    start, base = (
        (earlier[-1][0] + dt.timedelta(days=1), earlier[-1][1]) if earlier else (year_start, 0.0)
    )
    elapsed = (as_of - start).days + 1
    total = (next_date - start).days + 1
    path = base + (next_target - base) * elapsed / total
    return ResolvedTarget(path, "milestone", next_target, next_date)


def resolve_target(
    rule: Rule,
    month: Period,
    branch_id: str | None,
    tables: TargetTables,
    prior_value: float | None,
) -> ResolvedTarget:
    """The target for one rule, scope and month (branch_id None for non-branch scopes)."""
    spec: Target | None = rule.target
    if spec is None:
        return ResolvedTarget(None, None, reason="no target")
    rows = tables.target_rows(rule.id, branch_id)
    as_of = month.last_day
    if rows:
        if spec.milestone:
            return _milestone(rows, as_of)
        in_force = next(((d, t) for d, t in rows if d >= as_of), rows[-1])
        return ResolvedTarget(in_force[1], "targets")
    if spec.benchmark is not None:
        bench = tables.benchmark(rule.id, month)
        if bench is None:
            return ResolvedTarget(None, None, reason="no benchmark")
        return ResolvedTarget(bench + spec.benchmark.offset, "benchmark")
    if spec.prior is not None and prior_value is not None:
        from_prior = prior_value * spec.prior.factor
        if spec.value is None:
            return ResolvedTarget(from_prior, "prior")
        stricter = max if spec.op == ">=" else min
        combined = stricter(spec.value, from_prior)
        return ResolvedTarget(combined, "prior" if combined != spec.value else "default")
    if spec.value is not None:
        return ResolvedTarget(spec.value, "default")
    reason = "no prior-period value" if spec.prior is not None else "no target"
    return ResolvedTarget(None, None, reason=reason)


def judge(value: float, target: float, op: str, warn: float | None) -> str:
    """pass / warn / fail of a value against a target (floating noise tolerated)."""
    if op == ">=":
        gap = target - value
    elif op == "<=":
        gap = value - target
    else:
        gap = abs(value - target)
    if gap <= _EPS:
        return "pass"
    if warn is not None and gap <= warn + _EPS:
        return "warn"
    return "fail"
