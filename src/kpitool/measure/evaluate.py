"""Evaluating rules on any engine: plans built once, run by the engine, scored here.

The rules' plans (`kpitool.plan`) are the same for Polars and Spark; the engine runs them and
brings back small frames of sums, which are rolled up per scope, matched with their
denominators and scored against targets (`kpitool.measure.scoring`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import polars as pl

from kpitool.data.schema import GRAIN_COLUMNS
from kpitool.errors import DataError
from kpitool.log import logger
from kpitool.measure import cached
from kpitool.measure.scoring import prior_month, score
from kpitool.measure.targets import TargetTables
from kpitool.plan.analysis import denominator_rule, pair_unit, scopes
from kpitool.plan.engine import Engine
from kpitool.plan.measures import MEASURED, Grouping, scoped, summable, with_denominator
from kpitool.plan.periods import Period
from kpitool.plan.population import Missing, Source, population
from kpitool.plan.steps import PERIOD, Inline, Part, Plan, Scoped, Term
from kpitool.rules.model import Rule, RuleSet

__all__ = ["branch_ids", "broken_down", "evaluate", "read_tables", "scoped_plans", "source_of"]


def read_tables(engine: Engine) -> TargetTables:
    """The targets and benchmarks, read once; a target for an unknown branch is an error."""
    targets = engine.reference("targets")
    known = set(branch_ids(engine))
    if targets is not None and engine.columns("branches") is not None:
        for index, branch in enumerate(targets["branch_id"].to_list()):
            if branch is not None and branch not in known:
                raise DataError(
                    f"{engine.where('targets')}: row {index + 1}: branch_id {branch!r} is not "
                    "a branch in branches"
                )
    return TargetTables(targets, engine.reference("benchmarks"))


def branch_ids(engine: Engine) -> list[str]:
    branches = engine.reference("branches")
    return [] if branches is None else branches["branch_id"].to_list()


def _owners(engine: Engine) -> dict[tuple[str, str], str]:
    """(scope, id) -> branch_id for counters and agents, to limit their rows by branch."""
    owners: dict[tuple[str, str], str] = {}
    pairs = (("counter", "counters", "counter_id"), ("agent", "agents", "agent_id"))
    for scope, name, key in pairs:
        frame = engine.reference(name)
        if frame is not None:
            owners.update({(scope, k): b for k, b in frame.select(key, "branch_id").iter_rows()})
    return owners


def source_of(engine: Engine, tables: TargetTables) -> Source:
    """What the plans need of the engine's data: datasets' columns and rules' deadlines."""

    def deadlines(rule_id: str) -> tuple[Inline, dt.date | None]:
        own = tables.deadline_frame(rule_id)
        rows = tuple(own.select("branch_id", "deadline").iter_rows())
        table = Inline((("branch_id", "str"), ("deadline", "date")), rows)
        return table, tables.deadline(rule_id, None)

    return Source(engine.columns, deadlines)


def _needed(rule: Rule, asked: Sequence[Period]) -> list[Period]:
    """The asked periods and those the rule's prior-period target reads."""
    return sorted(set(asked) | {p for m in asked if (p := prior_month(rule, m)) is not None})


def _split(rule: Rule, periods: Sequence[Period]) -> dict[Period, list[Period]]:
    """The periods that count (entity, quarter) or (entity, month) pairs, with their parts:
    a long period adds up its parts' numerators and denominators (periods.md)."""
    unit = pair_unit(rule)
    if unit is None:
        return {}
    found = {p: p.parts(unit) for p in periods}  # type: ignore[arg-type]
    return {p: parts for p, parts in found.items() if len(parts) > 1}


def _measured_periods(rule: Rule, asked: Sequence[Period]) -> list[Period]:
    """What a rule is measured for: the needed periods, long ones by their parts."""
    needed = _needed(rule, asked)
    split = _split(rule, needed)
    return sorted({part for p in needed for part in split.get(p, [p])})


def _joined(
    rule: Rule, asked: Sequence[Period], measured: dict[tuple[str, Period], pl.DataFrame]
) -> None:
    """Each long period's rows as the sums of its parts' (per scope)."""
    for period, parts in _split(rule, _needed(rule, asked)).items():
        frames = [measured[(rule.id, part)] for part in parts if (rule.id, part) in measured]
        if not frames:
            continue
        rows = pl.concat(frames, how="vertical_relaxed")
        summed = rows.group_by("scope", "scope_id", maintain_order=True).agg(
            pl.col("numerator").sum(), pl.col("denominator").sum()
        )
        measured[(rule.id, period)] = summed.select(rows.columns)


def scoped_plans(rule: Rule, source: Source, months: list[Period], found: list[str]) -> list[Plan]:
    """A distinct count measured per scope, and its denominator when it has one."""
    plans: list[Plan] = [scoped(rule, population(rule, source, months), found)]
    denominator = rule.measure.denominator
    if denominator is not None:
        den = denominator_rule(rule)
        pop = population(den, source, months)
        term = Term("sum", denominator.of) if denominator.of else Term("rows")
        part = Part(f"{rule.id}/", {"numerator": term, "denominator": Term("rows")})
        plans.append(Scoped(pop, part, scoped(den, pop, _held(found, pop.columns)).scopes))
    return plans


def _held(found: Sequence[str], columns: frozenset[str]) -> list[str]:
    """The scopes whose grain column a population has."""
    return [s for s in found if s == "company" or GRAIN_COLUMNS[s] in columns]


def evaluate(
    engine: Engine,
    ruleset: RuleSet,
    months: Sequence[Period],
    *,
    branches: Sequence[str] | None = None,
    rule_ids: Sequence[str] | None = None,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Evaluate rules for one or more months on an engine; one row per rule, period, scope
    and scope id (`kpitool.measure.results.RESULT_SCHEMA`)."""
    started = time.perf_counter()
    chosen = ruleset.select(list(rule_ids) if rule_ids else None)
    tables = read_tables(engine)
    source = source_of(engine, tables)
    grouping = Grouping(source, buckets=engine.buckets, month_by_month=engine.month_by_month)
    alone: dict[str, list[Plan]] = {}
    missing: dict[tuple[str, Period], str] = {}
    for rule in chosen:
        needed = _measured_periods(rule, months)
        try:
            found = scopes(rule, by, population(rule, source, needed).columns)
            if not summable(rule):
                alone[rule.id] = scoped_plans(rule, source, needed, found)
                continue
            den_columns = population(denominator_rule(rule), source, needed).columns
            grouping.add(rule, needed, found, _held(found, den_columns))
        except Missing as exc:
            every = {*needed, *_needed(rule, months)}
            missing.update({(rule.id, m): str(exc) for m in every})
    groups = grouping.build()
    flat = [plan for group in groups for plan in group] + [p for ps in alone.values() for p in ps]
    frames = iter(cached.collect(engine, flat))
    results = grouping.measured([[next(frames) for _ in group] for group in groups])
    for rule_id, plans in alone.items():
        rows = next(frames)
        if len(plans) > 1:
            rows = with_denominator(rows, next(frames))
        wanted = [str(m) for m in _measured_periods(ruleset.get(rule_id), months)]
        results[rule_id] = rows.filter(pl.col(PERIOD).is_in(wanted)).select(MEASURED)
    measured = _by_month(results, months, ruleset)
    for rule in chosen:
        _joined(rule, months, measured)
    logger.info(
        "evaluated %d rules for %s from %s on %s in %.2fs",
        len(chosen),
        ", ".join(str(m) for m in months),
        engine.root,
        engine.name,
        time.perf_counter() - started,
    )
    owners = _owners(engine) if branches else {}
    return score(chosen, months, measured, missing, tables, branch_ids(engine), branches, owners)


def broken_down(
    engine: Engine, ruleset: RuleSet, rule_ids: Sequence[str], by: Sequence[str], month: Period
) -> list[str]:
    """The rules among `rule_ids` whose rows carry one of the `by` grains: the others have
    no finer figure to give (an old customer has no counter), so need no evaluation by it."""
    source = source_of(engine, read_tables(engine))
    kept = []
    for rule_id in rule_ids:
        rule = ruleset.get(rule_id)
        try:
            found = scopes(rule, by, population(rule, source, [month]).columns)
        except Missing:
            continue
        if set(by) & set(found):
            kept.append(rule_id)
    return kept


def _by_month(
    results: dict[str, pl.DataFrame], asked: Sequence[Period], rules: RuleSet
) -> dict[tuple[str, Period], pl.DataFrame]:
    measured: dict[tuple[str, Period], pl.DataFrame] = {}
    for rule_id, frame in results.items():
        periods = {str(p): p for p in _measured_periods(rules.get(rule_id), asked)}
        for (label,), part in frame.partition_by(PERIOD, as_dict=True).items():
            measured[(rule_id, periods[str(label)])] = part.drop(PERIOD)
        for period in asked:
            measured.setdefault((rule_id, period), frame.clear().drop(PERIOD))
    return measured
