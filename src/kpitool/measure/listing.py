"""Rows behind a figure, on any engine: a detection rule's exceptions, a figure's numerator.

Each is a `Listing` plan over the rule's population for one month; the engine runs it and
only the listed rows come back.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kpitool.data.schema import DATASETS
from kpitool.errors import DataError, UsageError
from kpitool.measure import cached
from kpitool.measure.evaluate import branch_ids, read_tables, source_of
from kpitool.plan.analysis import branch_of_a_row, bucketable
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.plan.population import PERIOD_COLUMNS, Missing, population
from kpitool.plan.steps import BRANCH_ROWS, Listing, Plan, Population
from kpitool.rules.model import Rule, RuleSet

__all__ = ["drill_rows", "exception_plan", "exceptions", "numerator_rows"]


def _population(
    rule: Rule,
    month: Period,
    engine: Engine,
    window_override: bool,
    bucket: tuple[int, int] | None = None,
    branches: Sequence[str] = (),
) -> Population:
    """The population of one month, for listing rows (of `branches`, when given)."""
    period = rule.period
    spec = rule.exceptions
    if window_override and spec is not None and spec.window is not None and period is not None:
        period = period.model_copy(update={"window": spec.window})
    source = source_of(engine, read_tables(engine))
    try:
        return population(rule, source, [month], period=period, bucket=bucket, branches=branches)
    except Missing as exc:
        raise DataError(f"{rule.id}: {exc}") from None


def exceptions(
    engine: Engine,
    ruleset: RuleSet,
    rule_id: str,
    month: Period,
    *,
    branches: tuple[str, ...] = (),
) -> pl.DataFrame:
    """The exception rows of a detection rule for a month: `branch_id` first, then its columns."""
    plan = exception_plan(engine, ruleset, rule_id, month, branches=branches)
    return cached.collect(engine, [plan])[0]


def exception_plan(
    engine: Engine,
    ruleset: RuleSet,
    rule_id: str,
    month: Period,
    *,
    branches: tuple[str, ...] = (),
) -> Listing:
    """The plan of `exceptions` (to collect several lists in one call: lists over the same
    rows are then built together)."""
    rule = ruleset.get(rule_id)
    if not rule.detection:
        listed = ", ".join(r.id for r in ruleset if r.detection)
        raise UsageError(
            f"rule {rule_id} lists no exceptions (it is not a detection rule; those are: {listed})"
        )
    spec = rule.exceptions
    pop = _population(rule, month, engine, window_override=True)
    grouped = spec is not None and bool(spec.group_by)
    if grouped:
        assert spec is not None and spec.group_by is not None
        held = {*spec.group_by, "count", *(["branch_id"] if "branch_id" in pop.columns else [])}
    else:
        held = set(pop.columns)
    show = list(spec.show) if spec is not None else []
    lead = ["branch_id"] if "branch_id" in held else []
    return Listing(
        pop,
        tuple(lead + [c for c in show if c not in lead]),
        where=None if grouped else (spec.where if spec and spec.where else rule.measure.condition),
        group_by=tuple(spec.group_by or ()) if spec is not None else (),
        having=spec.having if spec is not None else None,
        branches=branches if lead else (),
    )


def _shown_columns(rule: Rule, columns: list[str]) -> list[str]:
    """The columns that let a person check a rule's figure by hand."""
    texts = [
        rule.where or "",
        rule.measure.of or "",
        rule.measure.condition or "",
        *rule.columns.values(),
        *rule.window_columns.values(),
    ]
    wanted = {
        "branch_id",
        *([rule.period.date] if rule.period else []),
        *rule.columns,
        *rule.window_columns,
        *(lk.exists or "" for lk in rule.lookups),
    }
    for lookup in rule.lookups:
        wanted |= set(lookup.columns)
    key = DATASETS[rule.dataset].key[:1] if rule.entities is None else (rule.entities.key,)
    wanted |= set(key)
    if rule.entities is not None:
        wanted |= set(rule.entities.columns)
    if rule.measure.kind == "coverage":
        wanted.add("covered")
    wanted |= {c for c in columns if any(c in text for text in texts)}
    return [c for c in columns if c in wanted]


def numerator_rows(
    engine: Engine,
    ruleset: RuleSet,
    rule_id: str,
    month: Period,
    *,
    branch: str | None = None,
    limit: int = 10,
) -> pl.DataFrame:
    """The first rows behind a rule's numerator (its population, for means and ratios)."""
    rule = ruleset.get(rule_id)
    pop = _population(rule, month, engine, window_override=False)
    where = None
    if rule.measure.condition and rule.measure.kind in ("share", "detection", "count_distinct"):
        where = rule.measure.condition
    elif rule.measure.kind == "coverage":
        where = "covered"
    shown = [c for c in _shown_columns(rule, sorted(pop.columns)) if c not in PERIOD_COLUMNS]
    plan = Listing(
        pop,
        tuple(shown),
        in_frame_order=True,
        where=where,
        branches=(branch,) if branch is not None and "branch_id" in pop.columns else (),
        limit=limit,
    )
    return cached.collect(engine, [plan])[0]


def drill_rows(
    engine: Engine,
    ruleset: RuleSet,
    rule_id: str,
    month: Period,
    *,
    branch: str | None = None,
    branches: Sequence[str] = (),
    limit: int | None = 10,
    per_branch: int | None = None,
) -> pl.DataFrame | None:
    """The rows that make a share, coverage, rate or detection figure miss its target: the
    rows meeting the condition when lower is better, those failing it when higher is better
    (staff not appraised, tasks not completed). None for means and ratios, whose cause is a
    grain (a counter, an agent) rather than rows. `branches` with `per_branch`: the first
    rows of each of those branches, with each branch's count (`BRANCH_ROWS`), in one plan."""
    rule = ruleset.get(rule_id)
    kind = rule.measure.kind
    condition: str | None
    if kind == "coverage":
        condition = "covered"
    elif kind in ("share", "detection", "count_distinct"):
        condition = rule.measure.condition
    elif kind == "rate":
        condition = None
    else:
        return None
    if condition is not None and rule.better == "higher":
        condition = f"NOT ({condition})"
    wanted = [branch] if branch is not None else list(branches)
    pop = _population(rule, month, engine, window_override=False, branches=wanted)
    shown = [c for c in _shown_columns(rule, sorted(pop.columns)) if c not in PERIOD_COLUMNS]
    if rule.drill is not None:
        condition = rule.drill.where or condition
        lead = ["branch_id"] if "branch_id" in pop.columns else []
        shown = lead + [c for c in rule.drill.show if c in pop.columns and c not in lead] or shown
    # a few branches' entities (keys with a row there) fit in one table, as one bucket does
    few = branch_of_a_row(rule) and 0 < len(wanted) * engine.buckets <= len(branch_ids(engine))
    split = per_branch is not None and limit is None and bucketable(rule) and not few
    count = engine.buckets if split else 1
    pops = (
        [pop]
        if count == 1
        else [
            _population(
                rule, month, engine, window_override=False, bucket=(i, count), branches=wanted
            )
            for i in range(count)
        ]
    )
    order = _drill_order(rule, shown)
    plans: list[Plan] = [
        Listing(
            one,
            tuple(shown),
            in_frame_order=True,
            where=condition,
            branches=tuple(wanted) if "branch_id" in pop.columns else (),
            limit=limit,
            per_branch=per_branch,
            first_by=order,
        )
        for one in pops
    ]
    frames = cached.collect(engine, plans)
    return frames[0] if len(frames) == 1 else _merged(frames, per_branch, order)


def _drill_order(rule: Rule, shown: Sequence[str]) -> tuple[tuple[str, bool], ...]:
    """What comes first in a drill-down: the rule's `drill.order`, else the largest amount
    (a sum's `of` column), else the oldest row by the period's date (outstanding longest)."""
    if rule.drill is not None and rule.drill.order:
        wanted = [(name.lstrip("-"), name.startswith("-")) for name in rule.drill.order]
    elif rule.measure.of and rule.measure.of in shown:
        wanted = [(rule.measure.of, True)]
    elif rule.period is not None:
        wanted = [(rule.period.date, False)]
    else:
        wanted = []
    return tuple((c, d) for c, d in wanted if c in shown)


def _merged(
    frames: list[pl.DataFrame], per_branch: int | None, first_by: tuple[tuple[str, bool], ...]
) -> pl.DataFrame:
    """Per-branch listings of disjoint sets of entities as one: each branch's first rows in
    the columns' order and its count summed (the same rows one plan would have listed)."""
    rows = pl.concat(frames)
    first = [c for c, _ in first_by]
    shown = [c for c in rows.columns if c != BRANCH_ROWS]
    descending = [d for _, d in first_by] + [False] * len(shown)
    if BRANCH_ROWS not in rows.columns or per_branch is None:
        return rows.sort([*first, *shown], descending=descending, nulls_last=True)
    # each bucket's own count (the same on each of its rows of a branch), summed
    per_bucket = [f.group_by("branch_id").agg(pl.col(BRANCH_ROWS).first()) for f in frames]
    totals = pl.concat(per_bucket).group_by("branch_id").agg(pl.col(BRANCH_ROWS).sum())
    kept = (
        rows.drop(BRANCH_ROWS)
        .sort([*first, *shown], descending=descending, nulls_last=True)
        .filter(pl.int_range(pl.len()).over("branch_id") < per_branch)
    )
    return kept.join(totals, on="branch_id", how="left").select(*shown, BRANCH_ROWS)
