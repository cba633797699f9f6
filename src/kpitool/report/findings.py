"""What lies behind the figures that miss: the counters and agents that pull a branch's
figure down, and the rows that make it miss, gathered once for a report's month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from kpitool.data.privacy import mask_frame
from kpitool.errors import DataError
from kpitool.measure.evaluate import broken_down, evaluate
from kpitool.measure.listing import drill_rows
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.plan.steps import BRANCH_ROWS
from kpitool.rules.model import RuleSet

__all__ = ["DRILL_ROWS", "Cause", "Findings", "find"]

DRILL_ROWS = 10
"""Rows of a drill-down shown on a page: enough to act on, the count says how many more."""

_GRAINS = (
    ("counter", "counters", "counter_id", "counter_name"),
    ("agent", "agents", "agent_id", ""),
)


@dataclass(frozen=True)
class Cause:
    """A counter or agent of a branch whose own figure misses; `weight` is how much it moves
    the branch's figure: its gap to the target times its population (minutes of waiting
    above target, rows short of a rate)."""

    scope: str
    scope_id: str
    name: str
    value: float
    status: str
    weight: float = 0.0


@dataclass
class Findings:
    """Per (rule id, branch id): its missing counters or agents, and its drill-down rows
    (with how many there are in all)."""

    causes: dict[tuple[str, str], list[Cause]] = field(default_factory=dict)
    drills: dict[tuple[str, str], tuple[pl.DataFrame, int]] = field(default_factory=dict)


def _owners(engine: Engine) -> dict[tuple[str, str], tuple[str, str]]:
    """(grain, id) -> (branch id, name) of counters and agents."""
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for grain, dataset, key, name in _GRAINS:
        frame = engine.reference(dataset)
        if frame is None:
            continue
        names = frame[name].to_list() if name and name in frame.columns else [""] * frame.height
        for k, branch, label in zip(frame[key], frame["branch_id"], names, strict=True):
            owners[(grain, k)] = (branch, label or "")
    return owners


def _causes(
    engine: Engine, ruleset: RuleSet, month: Period, missing: list[tuple[str, str]]
) -> dict[tuple[str, str], list[Cause]]:
    grains = ("counter", "agent")
    rule_ids = broken_down(engine, ruleset, sorted({r for r, _ in missing}), grains, month)
    if not rule_ids:
        return {}
    by_grain = evaluate(engine, ruleset, [month], rule_ids=rule_ids, by=grains)
    owners = _owners(engine)
    wanted = set(missing)
    causes: dict[tuple[str, str], list[Cause]] = {}
    rows = by_grain.filter(
        pl.col("scope").is_in(["counter", "agent"]) & pl.col("status").is_in(["fail", "warn"])
    )
    for row in rows.iter_rows(named=True):
        branch, name = owners.get((row["scope"], row["scope_id"]), ("", ""))
        if (row["rule_id"], branch) in wanted and row["value"] is not None:
            sign = -1 if ruleset.get(row["rule_id"]).better == "higher" else 1
            gap = 0.0 if row["target"] is None else sign * (row["value"] - row["target"])
            weight = max(gap, 0.0) * (row["denominator"] or 0)
            cause = Cause(row["scope"], row["scope_id"], name, row["value"], row["status"], weight)
            causes.setdefault((row["rule_id"], branch), []).append(cause)
    for (rule_id, _), found in causes.items():
        sign = -1 if ruleset.get(rule_id).better == "higher" else 1
        # the counters that move the figure most first, then the worst values
        found.sort(key=lambda c: (c.status != "fail", -c.weight, -sign * c.value, c.scope_id))
    return causes


def find(
    engine: Engine,
    ruleset: RuleSet,
    month: Period,
    results: pl.DataFrame,
    *,
    unmask: bool,
    listed: Mapping[str, pl.DataFrame] | None = None,
) -> Findings:
    """The causes and drill-downs of every branch figure of `month` that fails or warns; a
    branch with rows in its rule's detection list (`listed`) needs no drill-down: the page
    shows the list (three lists of callbacks took as long again as drills)."""
    bad = results.filter(
        (pl.col("period") == str(month))
        & (pl.col("scope") == "branch")
        & pl.col("status").is_in(["fail", "warn"])
    )
    missing = list(bad.select("rule_id", "scope_id").iter_rows())
    if not missing:
        return Findings()
    findings = Findings(causes=_causes(engine, ruleset, month, missing))
    by_rule: dict[str, list[str]] = {}
    for rule_id, branch in missing:
        if branch not in _listed_branches((listed or {}).get(rule_id)):
            by_rule.setdefault(rule_id, []).append(branch)
    for rule_id, branches in by_rule.items():
        try:
            rows = drill_rows(
                engine,
                ruleset,
                rule_id,
                month,
                branches=branches,
                limit=None,
                per_branch=DRILL_ROWS,
            )
        except DataError:
            continue
        if rows is not None:
            findings.drills.update(_per_branch(rule_id, branches, rows, unmask=unmask))
    return findings


def _listed_branches(rows: pl.DataFrame | None) -> set[str]:
    """The branches with rows in a detection list."""
    if rows is None or "branch_id" not in rows.columns:
        return set()
    return set(rows["branch_id"].unique().to_list())


def _per_branch(
    rule_id: str, branches: list[str], rows: pl.DataFrame, *, unmask: bool
) -> dict[tuple[str, str], tuple[pl.DataFrame, int]]:
    """One rule's drill-down rows split by branch: (shown rows, how many in all)."""
    drills: dict[tuple[str, str], tuple[pl.DataFrame, int]] = {}
    for branch in branches:
        if BRANCH_ROWS in rows.columns:
            own = rows.filter(pl.col("branch_id") == branch)
            total = int(own[BRANCH_ROWS][0]) if own.height else 0
            own = own.drop(BRANCH_ROWS)
        else:  # rows without a branch column: the same list for every branch
            own, total = rows.head(DRILL_ROWS), rows.height
        if total:
            drills[(rule_id, branch)] = (own if unmask else mask_frame(own), total)
    return drills
