"""The Polars engine: every rule evaluated for every asked month in one grouped pass.

A rule's population (see `kpitool.polars.population`) carries the month each row counts in, so one
lazy plan per rule aggregates all months and all scopes with group-bys (never a loop over
branches or months); rules reading the same rows share one plan (`kpitool.polars.shared`). The plans
are collected one after another on the streaming engine (`kpitool.polars.streaming`).
Scoring against targets is engine-neutral (`kpitool.measure.scoring`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from kpitool.data.catalogue import DataSource, open_data
from kpitool.data.schema import DATASETS, GRAIN_COLUMNS
from kpitool.errors import DataError, UsageError
from kpitool.log import logger
from kpitool.measure.periods import Month, parse_month
from kpitool.measure.scoring import prior_month, score
from kpitool.measure.targets import TargetTables
from kpitool.polars.population import (
    PERIOD,
    Context,
    Missing,
    denominator_rule,
    entities_by_year,
    period_columns,
    population,
)
from kpitool.polars.shared import SharedPlans, shareable
from kpitool.polars.streaming import collect, diagnose
from kpitool.resources import BUNDLED_DATA
from kpitool.rules.model import Rule, RuleSet, load_rules

__all__ = ["denominator_rule", "evaluate", "exceptions", "numerator_rows"]

# Entities (19.5 M old customers in a provincial year) are grouped in this many disjoint sets
# of keys, one after another: a quarter of the hash table each, and faster (cache-sized).
ENTITY_BUCKETS = 4


def _aggregates(rule: Rule, ctx: Context) -> list[pl.Expr]:
    """numerator and denominator (the population size, or the count of a mean's values)."""
    m = rule.measure
    condition = ctx.compile(m.condition).fill_null(False) if m.condition else None
    of = ctx.compile(m.of) if m.of else None
    if m.kind == "mean" and of is not None:
        num, den = of.sum(), of.count()
    elif m.kind == "sum" and of is not None:
        num, den = of.sum(), pl.len()
    elif m.kind == "count_distinct" and of is not None:
        num = (of.filter(condition) if condition is not None else of).drop_nulls().n_unique()
        den = pl.len()
    elif m.kind in ("ratio", "rate"):
        num, den = (of.sum() if of is not None else pl.len()), pl.len()
    elif m.kind == "coverage":
        num, den = pl.col("covered").sum(), pl.len()
    elif condition is not None:  # share, detection
        num, den = condition.sum(), pl.len()
    else:  # count
        num, den = pl.len(), pl.len()
    return [num.cast(pl.Float64).alias("numerator"), den.cast(pl.Float64).alias("denominator")]


def _scopes(rule: Rule, by: Sequence[str], columns: set[str]) -> list[str]:
    scopes: list[str] = list(rule.scopes)
    if "company" not in scopes:
        return scopes
    for grain in [*rule.grains, *by]:
        if grain not in scopes and GRAIN_COLUMNS.get(grain, "") in columns:
            scopes.append(grain)
    return scopes


def _grouped(frame: pl.LazyFrame, scope: str, aggs: list[pl.Expr]) -> pl.LazyFrame:
    if scope == "company":
        return frame.group_by(PERIOD).agg(aggs).with_columns(pl.lit("ALL").alias("scope_id"))
    column = GRAIN_COLUMNS[scope]
    return (
        frame.filter(pl.col(column).is_not_null())
        .group_by(PERIOD, column)
        .agg(aggs)
        .rename({column: "scope_id"})
        .with_columns(pl.col("scope_id").cast(pl.String))
    )


def _measure_plan(rule: Rule, ctx: Context, by: Sequence[str]) -> pl.LazyFrame:
    """(__period, scope, scope_id, numerator, denominator) of one rule for the context's months."""
    frame = population(rule, ctx)
    aggs = _aggregates(rule, ctx)
    denominator = rule.measure.denominator
    den_frame = None
    den_aggs: list[pl.Expr] = []
    if denominator is not None:
        den_frame = population(denominator_rule(rule), ctx)
        den_of = ctx.compile(denominator.of) if denominator.of else None
        den_aggs = [
            (den_of.sum() if den_of is not None else pl.len()).cast(pl.Float64).alias("denominator")
        ]
    parts = []
    for scope in _scopes(rule, by, set(frame.collect_schema().names())):
        plan = _grouped(frame, scope, aggs)
        if den_frame is not None:
            den_plan = _grouped(den_frame, scope, den_aggs)
            plan = (
                plan.drop("denominator")
                .join(den_plan, on=[PERIOD, "scope_id"], how="full", coalesce=True)
                .with_columns(pl.col("numerator").fill_null(0.0))
            )
        parts.append(
            plan.with_columns(pl.lit(scope).alias("scope")).select(
                PERIOD, "scope", "scope_id", "numerator", "denominator"
            )
        )
    return pl.concat(parts, how="vertical_relaxed")


def _read_tables(source: DataSource) -> TargetTables:
    """The targets and benchmarks, read once; a target for an unknown branch is an error."""

    def read(name: str) -> pl.DataFrame | None:
        if not source.has(name):
            return None
        try:
            return source.scan(name).collect()
        except pl.exceptions.PolarsError as exc:
            raise diagnose(source, {name}, exc) from None

    targets = read("targets")
    if targets is not None and source.has("branches"):
        known = set(_branch_ids(source))
        for index, branch in enumerate(targets["branch_id"].to_list()):
            if branch is not None and branch not in known:
                files = source.files("targets")
                where = files[0] if len(files) == 1 else source.root / "targets"
                raise DataError(
                    f"{where}: row {index + 1}: branch_id {branch!r} is not a branch in branches"
                )
    return TargetTables(targets, read("benchmarks"))


def _branch_ids(source: DataSource) -> list[str]:
    if not source.has("branches"):
        return []
    return source.scan("branches").select("branch_id").collect()["branch_id"].to_list()


def _owners(source: DataSource) -> dict[tuple[str, str], str]:
    """(scope, id) -> branch_id for counters and agents, to limit their rows by branch."""
    owners: dict[tuple[str, str], str] = {}
    for scope, name, key in (
        ("counter", "counters", "counter_id"),
        ("agent", "agents", "agent_id"),
    ):
        if source.has(name):
            frame = source.scan(name).select(key, "branch_id").collect()
            owners.update({(scope, k): b for k, b in frame.iter_rows()})
    return owners


def _resolve_inputs(
    data: DataSource | Path | str | None, rules: RuleSet | Path | str | None
) -> tuple[DataSource, RuleSet]:
    source = data if isinstance(data, DataSource) else open_data(data or BUNDLED_DATA)
    ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
    return source, ruleset


def _months(months: Month | str | Sequence[Month | str]) -> list[Month]:
    items = [months] if isinstance(months, Month | str) else list(months)
    if not items:
        raise UsageError("no month to evaluate")
    return [m if isinstance(m, Month) else parse_month(m) for m in items]


def _engine(name: str) -> str:
    if name not in ("polars", "spark"):
        raise UsageError(f"engine {name!r}: expected polars or spark")
    return name


def _datasets_of(rule: Rule) -> set[str]:
    names = {rule.dataset, *(lk.dataset for lk in rule.lookups)}
    for part in (rule.measure.denominator, rule.measure.facts):
        if part is not None and part.dataset:
            names.add(part.dataset)
    return names


def _month_by_month(rule: Rule, months: set[Month]) -> bool:
    """Whether a rule's months are measured one after another: entities grouped anew for
    each month hold one month's groups in memory at a time, not every month's."""
    return rule.entities is not None and len(months) > 1 and not entities_by_year(rule)


def evaluate(
    months: Month | str | Sequence[Month | str],
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    rule_ids: Sequence[str] | None = None,
    by: Sequence[str] = (),
    engine: str = "polars",
) -> pl.DataFrame:
    """Evaluate rules for one or more months; one row per rule, period, scope and scope id.

    Columns are `kpitool.results.RESULT_SCHEMA`. `branches` limits the branch rows (the
    company row always counts every branch); `rule_ids` takes ids or prefixes ending in '.';
    `by` adds grains (counter, channel, agent) to the rules whose population has them.
    `engine="spark"` runs the same rules in Spark (`kpitool.spark.engine`, the active session).
    """
    if _engine(engine) == "spark":
        from kpitool.spark import engine as spark

        return spark.evaluate(months, data, rules, branches=branches, rule_ids=rule_ids, by=by)
    started = time.perf_counter()
    source, ruleset = _resolve_inputs(data, rules)
    chosen = ruleset.select(list(rule_ids) if rule_ids else None)
    asked = _months(months)
    ctx = Context(source, asked, _read_tables(source))
    plans: dict[str, pl.LazyFrame] = {}
    missing: dict[tuple[str, Month], str] = {}
    shared = SharedPlans(ctx, lambda rule, columns: _scopes(rule, by, columns), ENTITY_BUCKETS)
    alone = []
    for rule in chosen:
        needed = set(asked) | {p for m in asked if (p := prior_month(rule, m)) is not None}
        if shareable(rule) and not _month_by_month(rule, needed):
            shared.add(rule, sorted(needed))
        else:
            alone.append(rule)
    shared_plans, shared_rules, failed = shared.build()
    monthly: dict[str, list[pl.LazyFrame]] = {}
    for rule in [*alone, *failed]:
        needed = set(asked) | {p for m in asked if (p := prior_month(rule, m)) is not None}
        try:
            if _month_by_month(rule, needed):
                monthly[rule.id] = [_measure_plan(rule, ctx.with_months([m]), by) for m in needed]
            else:
                plans[rule.id] = _measure_plan(rule, ctx.with_months(sorted(needed)), by)
        except Missing as exc:
            missing.update({(rule.id, m): str(exc) for m in needed})
    datasets = [_datasets_of(ruleset.get(rule_id)) for rule_id in plans]
    results = dict(zip(plans, collect(list(plans.values()), source, datasets), strict=True))
    for rule_id, parts in monthly.items():
        names = [_datasets_of(ruleset.get(rule_id))] * len(parts)
        results[rule_id] = pl.concat(collect(parts, source, names))
    shared_frames = []
    for group, members in zip(shared_plans, shared_rules, strict=True):
        read = set().union(*(_datasets_of(r) for r in members))
        shared_frames.append(collect(group, source, [read] * len(group)))
    results |= shared.measured([r for rules in shared_rules for r in rules], shared_frames)
    measured: dict[tuple[str, Month], pl.DataFrame] = {}
    for rule_id, frame in results.items():
        for (period,), part in frame.partition_by(PERIOD, as_dict=True).items():
            measured[(rule_id, parse_month(str(period)))] = part.drop(PERIOD)
        for month in asked:
            measured.setdefault((rule_id, month), frame.clear().drop(PERIOD))
    logger.info(
        "evaluated %d rules for %s from %s in %.2fs",
        len(chosen),
        ", ".join(str(m) for m in asked),
        source.root,
        time.perf_counter() - started,
    )
    owners = _owners(source) if branches else {}
    return score(
        chosen, asked, measured, missing, ctx.tables, _branch_ids(source), branches, owners
    )


def _detail_frame(
    rule: Rule, month: Month | str, source: DataSource, window_override: bool
) -> tuple[pl.LazyFrame, Context]:
    """The population of one month, for listing rows (exceptions, explain)."""
    ctx = Context(source, _months(month)[:1], _read_tables(source))
    period = rule.period
    spec = rule.exceptions
    if window_override and spec is not None and spec.window is not None and period is not None:
        period = period.model_copy(update={"window": spec.window})
    try:
        return population(rule, ctx, period), ctx
    except Missing as exc:
        raise DataError(f"{rule.id}: {exc}") from None


def exceptions(
    rule_id: str,
    month: Month | str,
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    engine: str = "polars",
) -> pl.DataFrame:
    """The exception rows of a detection rule for a month: `branch_id` first, then its columns."""
    if _engine(engine) == "spark":
        from kpitool.spark import engine as spark

        return spark.exceptions(rule_id, month, data, rules, branches=branches)
    source, ruleset = _resolve_inputs(data, rules)
    rule = ruleset.get(rule_id)
    if not rule.detection:
        raise UsageError(f"rule {rule_id} lists no exceptions (it is not a detection rule)")
    spec = rule.exceptions
    frame, ctx = _detail_frame(rule, month, source, window_override=True)
    columns = frame.collect_schema().names()
    if spec is not None and spec.group_by:
        aggs = [pl.len().cast(pl.Int64).alias("count")]
        if "branch_id" in columns and "branch_id" not in spec.group_by:
            aggs.append(pl.col("branch_id").min())
        if spec.having:
            aggs.append(ctx.compile(spec.having).alias("__keep"))
        frame = frame.group_by(spec.group_by).agg(aggs)
        if spec.having:
            frame = frame.filter(pl.col("__keep")).drop("__keep")
    else:
        condition = spec.where if spec is not None and spec.where else rule.measure.condition
        if condition:
            frame = frame.filter(ctx.compile(condition).fill_null(False))
    show = list(spec.show) if spec is not None else []
    lead = ["branch_id"] if "branch_id" in frame.collect_schema().names() else []
    selected = lead + [c for c in show if c not in lead]
    frame = frame.select(selected)
    if branches and lead:
        frame = frame.filter(pl.col("branch_id").is_in(list(branches)))
    frame = frame.sort(selected, nulls_last=True)
    return collect([frame], source, [_datasets_of(rule)])[0]


def _shown_columns(rule: Rule, columns: list[str]) -> list[str]:
    """The columns that let a person check a rule's figure by hand, in the frame's order."""
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
    rule_id: str,
    month: Month | str,
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branch: str | None = None,
    limit: int = 10,
) -> pl.DataFrame:
    """The first rows behind a rule's numerator (its population, for means and ratios)."""
    source, ruleset = _resolve_inputs(data, rules)
    rule = ruleset.get(rule_id)
    frame, ctx = _detail_frame(rule, month, source, window_override=False)
    if rule.measure.condition and rule.measure.kind in ("share", "detection", "count_distinct"):
        frame = frame.filter(ctx.compile(rule.measure.condition).fill_null(False))
    elif rule.measure.kind == "coverage":
        frame = frame.filter(pl.col("covered"))
    columns = frame.collect_schema().names()
    if branch is not None and "branch_id" in columns:
        frame = frame.filter(pl.col("branch_id") == branch)
    shown = [c for c in _shown_columns(rule, columns) if c not in period_columns()]
    frame = frame.select(shown).sort(shown, nulls_last=True).limit(limit)
    return collect([frame], source, [_datasets_of(rule)])[0]
