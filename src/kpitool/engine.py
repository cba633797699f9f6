"""The Polars engine: evaluates rules over lazy scans, all scopes in one grouped pass per rule.

Each rule becomes a lazy population (scan → declared lookups → computed columns → period
window → filter → entities → window columns), aggregated per scope with group-bys (never a
loop over branches). Every rule's plan is collected together in one streaming `collect_all`,
so plans sharing a scan share it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpitool.catalogue import DataSource, open_data
from kpitool.errors import DataError, UsageError
from kpitool.expr import parse_expression, to_polars
from kpitool.log import logger
from kpitool.periods import Month, parse_month
from kpitool.rules import GRAIN_COLUMNS, Lookup, PeriodSpec, Rule, RuleSet, load_rules
from kpitool.schema import DATASETS
from kpitool.scoring import score
from kpitool.targets import TargetTables

__all__ = ["BUNDLED_DATA", "evaluate", "exceptions", "numerator_rows", "population"]

BUNDLED_DATA = Path(__file__).resolve().parents[2] / "sample_data"


class _Missing(Exception):
    """A dataset or column a rule needs is absent: the rule is n/a with this reason."""


@dataclass
class _Context:
    """One evaluation: the data, the month, and scans shared by every rule."""

    source: DataSource
    month: Month
    scans: dict[str, pl.LazyFrame] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        m = self.month
        return {
            "month": str(m),
            "year": str(m.year),
            "period_start": m.first_day,
            "period_end": m.last_day,
            "quarter_start": m.quarter_first_day,
            "year_start": m.year_first_day,
        }

    def scan(self, name: str) -> pl.LazyFrame:
        if name not in self.scans:
            if not self.source.has(name):
                raise _Missing(f"dataset missing: {name}")
            try:
                self.scans[name] = self.source.scan(name)
            except DataError as exc:
                raise _Missing(str(exc)) from None
        return self.scans[name]

    def at(self, month: Month) -> _Context:
        return _Context(self.source, month, self.scans)

    def compile(self, text: str, **extra: Any) -> pl.Expr:
        return to_polars(
            parse_expression(text), {**self.params, **extra.pop("params", {})}, **extra
        )


def _period_mask(spec: PeriodSpec, month: Month) -> pl.Expr:
    window = month.window(spec.window)
    day = pl.col(spec.date).cast(pl.Date)
    mask = day <= pl.lit(window.end)
    return mask & (day >= pl.lit(window.start)) if window.start else mask


def _rename_keys(frame: pl.LazyFrame, keys: dict[str, str]) -> list[pl.Expr]:
    return [pl.col(theirs).alias(mine) for mine, theirs in keys.items()]


def _apply_lookup(
    frame: pl.LazyFrame, lookup: Lookup, ctx: _Context, extra_filter: pl.Expr | None = None
) -> pl.LazyFrame:
    other = ctx.scan(lookup.dataset)
    if lookup.where:
        other = other.filter(ctx.compile(lookup.where))
    if extra_filter is not None:
        other = other.filter(extra_filter)
    keys = lookup.keys
    on = list(keys)
    if lookup.columns:
        wanted = _rename_keys(other, keys) + [
            pl.col(src).alias(new) for new, src in lookup.columns.items()
        ]
        table = other.select(wanted).unique(subset=on, keep="first", maintain_order=True)
        frame = frame.join(table, on=on, how="left")
    if lookup.exists and lookup.match:
        other_columns = other.collect_schema().names()
        qualified = {f"lookup.{c}": f"__lookup_{c}" for c in other_columns}
        candidates = other.select(
            _rename_keys(other, keys) + [pl.col(c).alias(f"__lookup_{c}") for c in other_columns]
        )
        indexed = frame.with_row_index("__row")
        matched = (
            indexed.join(candidates, on=on, how="inner")
            .filter(ctx.compile(lookup.match, qualified=qualified))
            .select("__row")
            .unique()
            .with_columns(pl.lit(True).alias(lookup.exists))
        )
        frame = (
            indexed.join(matched, on="__row", how="left")
            .with_columns(pl.col(lookup.exists).fill_null(False))
            .drop("__row")
        )
    elif lookup.exists:
        flags = (
            other.select(_rename_keys(other, keys))
            .unique()
            .with_columns(pl.lit(True).alias(lookup.exists))
        )
        frame = frame.join(flags, on=on, how="left").with_columns(
            pl.col(lookup.exists).fill_null(False)
        )
    return frame


def population(
    rule: Rule, ctx: _Context, tables: TargetTables, period: PeriodSpec | None = None
) -> pl.LazyFrame:
    """The lazy rows a rule measures, for the context's month (period overrides the rule's)."""
    frame = ctx.scan(rule.dataset)
    for lookup in rule.lookups:
        frame = _apply_lookup(frame, lookup, ctx)
    if rule.measure.kind == "coverage" and rule.measure.facts is not None:
        facts = rule.measure.facts
        key = facts.key or ""
        fact_lookup = Lookup(
            dataset=facts.dataset or rule.dataset, by=key, exists="covered", where=facts.where
        )
        mask = _period_mask(facts.period, ctx.month) if facts.period else None
        frame = _apply_lookup(frame, fact_lookup, ctx, mask)
    if rule.deadline is not None:
        own = tables.deadline_frame(rule.deadline.rule)
        default = tables.deadline(rule.deadline.rule, None)
        frame = frame.join(own.lazy(), on="branch_id", how="left").with_columns(
            pl.col("deadline").fill_null(pl.lit(default, dtype=pl.Date))
        )
    for name, text in rule.columns.items():
        frame = frame.with_columns(ctx.compile(text).alias(name))
    period = period or rule.period
    if period is not None:
        frame = frame.filter(_period_mask(period, ctx.month))
    if rule.where:
        frame = frame.filter(ctx.compile(rule.where))
    if rule.entities is not None:
        entities = rule.entities
        frame = frame.group_by(entities.key).agg(
            ctx.compile(text).alias(name) for name, text in entities.columns.items()
        )
        if entities.where:
            frame = frame.filter(ctx.compile(entities.where))
    for name, text in rule.window_columns.items():
        frame = frame.with_columns(ctx.compile(text).alias(name))
    return frame


def _aggregates(rule: Rule, ctx: _Context) -> list[pl.Expr]:
    """numerator and denominator (the population size, or the sum of a mean's values)."""
    m = rule.measure
    kind = m.kind
    condition = ctx.compile(m.condition).fill_null(False) if m.condition else None
    of = ctx.compile(m.of) if m.of else None
    if kind == "mean" and of is not None:
        num, den = of.sum(), of.count()
    elif kind == "sum" and of is not None:
        num, den = of.sum(), pl.len()
    elif kind == "count_distinct" and of is not None:
        num = (of.filter(condition) if condition is not None else of).drop_nulls().n_unique()
        den = pl.len()
    elif kind in ("ratio", "rate"):
        num, den = (of.sum() if of is not None else pl.len()), pl.len()
    elif kind == "coverage":
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
        return frame.select(aggs).with_columns(pl.lit("ALL").alias("scope_id"))
    column = GRAIN_COLUMNS[scope]
    return (
        frame.filter(pl.col(column).is_not_null())
        .group_by(column)
        .agg(aggs)
        .rename({column: "scope_id"})
        .with_columns(pl.col("scope_id").cast(pl.String))
    )


def _measure_plan(
    rule: Rule, ctx: _Context, tables: TargetTables, by: Sequence[str]
) -> pl.LazyFrame:
    """A lazy frame of (scope, scope_id, numerator, denominator) for one rule and month."""
    frame = population(rule, ctx, tables)
    columns = set(frame.collect_schema().names())
    aggs = _aggregates(rule, ctx)
    parts = []
    denominator = rule.measure.denominator
    den_frame = None
    if denominator is not None:
        den_rule = (
            rule
            if denominator.dataset is None
            else rule.model_copy(
                update={
                    "dataset": denominator.dataset,
                    "lookups": [],
                    "columns": {},
                    "entities": None,
                    "window_columns": {},
                    "where": denominator.where,
                    "deadline": None,
                    "period": denominator.period,
                }
            )
        )
        den_frame = population(den_rule, ctx, tables)
        den_of = ctx.compile(denominator.of) if denominator.of else None
        den_aggs = [
            (den_of.sum() if den_of is not None else pl.len()).cast(pl.Float64).alias("denominator")
        ]
    for scope in _scopes(rule, by, columns):
        plan = _grouped(frame, scope, aggs)
        if den_frame is not None:
            den_plan = _grouped(den_frame, scope, den_aggs)
            plan = (
                plan.drop("denominator")
                .join(den_plan, on="scope_id", how="full", coalesce=True)
                .with_columns(pl.col("numerator").fill_null(0.0))
            )
        parts.append(
            plan.with_columns(pl.lit(scope).alias("scope")).select(
                "scope", "scope_id", "numerator", "denominator"
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
            raise source.explain_failure(name, exc) from None

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


def _collect(
    plans: list[pl.LazyFrame], source: DataSource, datasets: list[set[str]]
) -> list[pl.DataFrame]:
    """Collect every plan in one streaming pass; a data error names file, row and column."""
    try:
        return pl.collect_all(plans, engine="streaming")
    except pl.exceptions.PolarsError as exc:
        for plan, names in zip(plans, datasets, strict=True):
            try:
                plan.collect(engine="streaming")
            except pl.exceptions.PolarsError as inner:
                for name in sorted(names):
                    error = source.explain_failure(name, inner)
                    if error is not None:
                        raise error from None
                raise DataError(f"cannot evaluate: {str(inner).splitlines()[0]}") from None
        raise DataError(f"cannot evaluate: {str(exc).splitlines()[0]}") from None


def _datasets_of(rule: Rule) -> set[str]:
    names = {rule.dataset, *(lk.dataset for lk in rule.lookups)}
    for part in (rule.measure.denominator, rule.measure.facts):
        if part is not None and part.dataset:
            names.add(part.dataset)
    return names


def evaluate(
    months: Month | str | Sequence[Month | str],
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    rule_ids: Sequence[str] | None = None,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Evaluate rules for one or more months; one row per rule, period, scope and scope id.

    Columns are `kpitool.results.RESULT_SCHEMA`. `branches` limits the branch rows (the
    company row always counts every branch); `rule_ids` takes ids or prefixes ending in '.';
    `by` adds grains (counter, channel, agent) to the rules whose population has them.
    """
    started = time.perf_counter()
    source, ruleset = _resolve_inputs(data, rules)
    chosen = ruleset.select(list(rule_ids) if rule_ids else None)
    tables = _read_tables(source)
    base = _Context(source, _months(months)[0])
    jobs: list[tuple[Rule, Month]] = []
    for month in _months(months):
        for rule in chosen:
            jobs.append((rule, month))
            if rule.target is not None and rule.target.prior is not None:
                prior = (
                    month.same_month_last_year()
                    if rule.target.prior.period == "same_month_last_year"
                    else month.previous()
                )
                jobs.append((rule, prior))
    plans: dict[tuple[str, Month], pl.LazyFrame] = {}
    missing: dict[tuple[str, Month], str] = {}
    for rule, month in jobs:
        try:
            plans[(rule.id, month)] = _measure_plan(rule, base.at(month), tables, by)
        except _Missing as exc:
            missing[(rule.id, month)] = str(exc)
    keys = list(plans)
    frames = _collect(
        [plans[k] for k in keys], source, [_datasets_of(ruleset.get(k[0])) for k in keys]
    )
    measured = dict(zip(keys, frames, strict=True))
    logger.info(
        "evaluated %d rules for %s from %s in %.2fs",
        len(chosen),
        ", ".join(str(m) for m in _months(months)),
        source.root,
        time.perf_counter() - started,
    )
    return score(chosen, _months(months), measured, missing, tables, _branch_ids(source), branches)


def exceptions(
    rule_id: str,
    month: Month | str,
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The exception rows of a detection rule for a month: `branch_id` first, then its columns."""
    source, ruleset = _resolve_inputs(data, rules)
    rule = ruleset.get(rule_id)
    if not rule.detection:
        raise UsageError(f"rule {rule_id} lists no exceptions (it is not a detection rule)")
    spec = rule.exceptions
    the_month = _months(month)[0]
    ctx = _Context(source, the_month)
    tables = _read_tables(source)
    period = rule.period
    if spec is not None and spec.window is not None and period is not None:
        period = period.model_copy(update={"window": spec.window})
    try:
        frame = population(rule, ctx, tables, period)
    except _Missing as exc:
        raise DataError(f"{rule_id}: {exc}") from None
    columns = frame.collect_schema().names()
    if spec is not None and spec.group_by:
        keys = spec.group_by
        aggs = [pl.len().cast(pl.Int64).alias("count")]
        if "branch_id" in columns and "branch_id" not in keys:
            aggs.append(pl.col("branch_id").min())
        if spec.having:
            aggs.append(ctx.compile(spec.having).alias("__keep"))
        frame = frame.group_by(keys).agg(aggs)
        if spec.having:
            frame = frame.filter(pl.col("__keep")).drop("__keep")
    else:
        condition = spec.where if spec is not None and spec.where else rule.measure.condition
        if condition:
            frame = frame.filter(ctx.compile(condition).fill_null(False))
    show = list(spec.show) if spec is not None and spec.show else []
    lead = ["branch_id"] if "branch_id" in frame.collect_schema().names() else []
    selected = lead + [c for c in show if c not in lead]
    frame = frame.select(selected)
    if branches and lead:
        frame = frame.filter(pl.col("branch_id").is_in(list(branches)))
    frame = frame.sort(selected, nulls_last=True)
    return _collect([frame], source, [_datasets_of(rule)])[0]


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
        *(rule.period.date for _ in [0] if rule.period),
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
    ctx = _Context(source, _months(month)[0])
    try:
        frame = population(rule, ctx, _read_tables(source))
    except _Missing as exc:
        raise DataError(f"{rule_id}: {exc}") from None
    if rule.measure.condition and rule.measure.kind in ("share", "detection", "count_distinct"):
        frame = frame.filter(ctx.compile(rule.measure.condition).fill_null(False))
    elif rule.measure.kind == "coverage":
        frame = frame.filter(pl.col("covered"))
    columns = frame.collect_schema().names()
    if branch is not None and "branch_id" in columns:
        frame = frame.filter(pl.col("branch_id") == branch)
    frame = frame.select(_shown_columns(rule, columns)).limit(limit)
    return _collect([frame], source, [_datasets_of(rule)])[0]
