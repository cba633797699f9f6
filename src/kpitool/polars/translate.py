"""The neutral plan (`kpitool.plan.steps`) as Polars lazy frames: one handler per step kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from kpitool.data.catalogue import DataSource
from kpitool.plan.analysis import parsed
from kpitool.plan.population import PARAM_COLUMNS, PERIOD_DATES
from kpitool.plan.steps import (
    BRANCH_ROWS,
    MONTH_INDEX,
    PERIOD,
    ApplyLookup,
    Covered,
    Derive,
    Entities,
    Filter,
    InBucket,
    Inline,
    InPeriods,
    InYears,
    JoinTable,
    KeepDates,
    KeysWith,
    Listing,
    MonthIndex,
    PeriodDates,
    Population,
    Scan,
    Scoped,
    Step,
    Summed,
    Term,
)
from kpitool.polars.entities import KEY_CHECK, MIXED, checked, hashable_key, hashed
from kpitool.polars.expressions import WORKDAY_INDEX, to_polars
from kpitool.polars.periods import (
    KINDS,
    constants,
    group_by,
    in_periods,
    inline,
    join_months,
    month_index,
    one_row,
    single,
    within,
)

__all__ = ["Translator"]

_PARAMS: dict[str, pl.Expr] = {name: pl.col(c) for name, c in PARAM_COLUMNS.items()}


class Translator:
    """Translate populations and plans over one data source; scans are shared across plans."""

    def __init__(self, source: DataSource, workdays: Callable[[], dict[Any, int]]) -> None:
        self.source = source
        self.workdays = workdays
        self.scans: dict[str, pl.LazyFrame] = {}

    def compile(
        self, text: str, qualified: Mapping[str, str] | None = None, periods: Inline | None = None
    ) -> pl.Expr:
        """A rule expression; period parameters read the row's period columns, or are
        constants where `periods` has one value for them (a filter on a constant reaches
        the scan: `issued_at < :year_start` skips the year's row groups)."""
        params: dict[str, Any] = dict(_PARAMS)
        if periods is not None:
            constant = constants(periods, PARAM_COLUMNS.values())
            for name, column in PARAM_COLUMNS.items():
                if column in constant:
                    params[name] = constant[column].meta.undo_aliases()
        if "working_days_between" in text.lower():
            params[WORKDAY_INDEX] = self.workdays()
        return to_polars(parsed(text), params, qualified=qualified, partition=[PERIOD])

    def scan(self, name: str) -> pl.LazyFrame:
        if name not in self.scans:
            self.scans[name] = self.source.scan(name)
        return self.scans[name]

    def population(self, pop: Population, hashed_key: str | None = None) -> pl.LazyFrame:
        """The population's rows; with `hashed_key` (`entities.hashable_key`), entities are
        grouped by its hash and carry `entities.MIXED`."""
        frame: pl.LazyFrame | None = None
        base: pl.LazyFrame | None = None
        for step in pop.steps:
            if isinstance(step, Scan):
                frame = self.scan(step.dataset)
                continue
            assert frame is not None
            if isinstance(step, ApplyLookup) and base is None:
                base = frame
            frame = self._step(frame, step, pop, base, hashed_key)
        assert frame is not None
        return frame

    def _step(
        self,
        frame: pl.LazyFrame,
        step: Step,
        pop: Population,
        base: pl.LazyFrame | None,
        hashed_key: str | None = None,
    ) -> pl.LazyFrame:
        if isinstance(step, KeepDates):
            return frame.filter(within(frame, step))
        if isinstance(step, ApplyLookup):
            assert base is not None
            return self._lookup(frame, step, base)
        if isinstance(step, JoinTable):
            joined = frame.join(inline(step.table), on=step.on, how="left")
            kinds = dict(step.table.schema)
            return joined.with_columns(
                pl.col(name).fill_null(pl.lit(value, dtype=KINDS[kinds[name]]))
                for name, value in step.fill.items()
            )
        if isinstance(step, Derive):
            return frame.with_columns(self.compile(step.expr, periods=pop.periods).alias(step.name))
        if isinstance(step, Filter):
            return frame.filter(self.compile(step.expr, periods=pop.periods))
        if isinstance(step, InBucket):
            return frame.filter(pl.col(step.key).hash(seed=0) % step.count == step.index)
        if isinstance(step, InPeriods):
            return in_periods(frame, step, pop.periods)
        if isinstance(step, InYears):
            if one := one_row(pop.periods, ("__year", "__year_start")):
                return frame.with_columns(one)
            years = inline(pop.periods).select("__year", "__year_start").unique()
            return frame.join(years, how="cross")
        if isinstance(step, MonthIndex):
            return frame.with_columns(month_index(pl.col(step.date)).alias(MONTH_INDEX))
        if isinstance(step, Covered):
            return self._covered(frame, step, pop, hashed_key)
        if isinstance(step, KeysWith):
            there = frame.filter(pl.col(step.column).is_in(list(step.values)))
            return frame.join(there.select(step.key).unique(), on=step.key, how="semi")
        if isinstance(step, Entities):
            aggs = [self.compile(text).alias(name) for name, text in step.columns]
            if hashed_key is not None:
                frame, aggs = hashed(frame, hashed_key), [*aggs, *checked()]
            return group_by(frame, [step.key, step.by], aggs, pop.periods)
        if isinstance(step, PeriodDates):
            if one := one_row(pop.periods, PERIOD_DATES):
                by = next(e for e in one if e.meta.output_name() == step.by)
                rest = [e for e in one if e.meta.output_name() != step.by]
                return frame.filter(pl.col(step.by) == by).with_columns(rest)
            dates = inline(pop.periods).select(PERIOD_DATES)
            return frame.join(dates, on=step.by)
        raise TypeError(f"unknown step {step!r}")

    def _lookup(self, frame: pl.LazyFrame, step: ApplyLookup, base: pl.LazyFrame) -> pl.LazyFrame:
        """Copy a lookup's columns or flags; with `narrow`, the other dataset is first cut to
        the keys the rows hold (a month of callbacks needs a month's policies, not every
        policy ever sold, made unique)."""
        lookup = step.lookup
        other = self.scan(lookup.dataset)
        if lookup.where:
            other = other.filter(self.compile(lookup.where))
        keys = lookup.keys
        if step.narrow:
            held = base.select(list(keys)).unique()
            other = other.join(
                held,
                left_on=list(keys.values()),
                right_on=list(keys),
                how="semi",
                maintain_order="left",
            )
        on = list(keys)
        keyed = [pl.col(theirs).alias(mine) for mine, theirs in keys.items()]
        if lookup.columns:
            copied = [pl.col(src).alias(new) for new, src in lookup.columns.items()]
            table = other.select(keyed + copied)
            table = table.unique(subset=on, keep="first", maintain_order=True)
            frame = frame.join(table, on=on, how="left")
        if lookup.exists and lookup.match:
            names = other.collect_schema().names()
            qualified = {f"lookup.{c}": f"__lookup_{c}" for c in names}
            candidates = other.select(keyed + [pl.col(c).alias(f"__lookup_{c}") for c in names])
            indexed = frame.with_row_index("__row")
            matched = (
                indexed.join(candidates, on=on, how="inner")
                .filter(self.compile(lookup.match, qualified))
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
            flags = other.select(keyed).unique().with_columns(pl.lit(True).alias(lookup.exists))
            frame = frame.join(flags, on=on, how="left").with_columns(
                pl.col(lookup.exists).fill_null(False)
            )
        return frame

    def _covered(
        self, frame: pl.LazyFrame, step: Covered, pop: Population, hashed_key: str | None
    ) -> pl.LazyFrame:
        rows = self.population(step.facts)
        keys = [step.key]
        if hashed_key is not None:
            rows, keys = hashed(rows, hashed_key), [step.key, KEY_CHECK]
        one = single(pop.periods, (PERIOD,))
        constant = one is not None and one == single(step.facts.periods, (PERIOD,))
        on = keys if constant else [*keys, PERIOD]  # one period: no constant key
        flags = rows.select(on).unique().with_columns(pl.lit(True).alias("covered"))
        return frame.join(flags, on=on, how="left").with_columns(pl.col("covered").fill_null(False))

    # plans

    def summed(self, plan: Summed, hash_keys: bool = False) -> pl.LazyFrame:
        """The parts' sums per period and finest grain: one scan and one group-by; with
        `hash_keys`, entities by their key's hash where they can be (`entities`), and the
        sums' `entities.MIXED` says whether that was exact."""
        key = hashable_key(plan.population) if hash_keys else None
        frame = self.population(plan.population, key)
        periods = plan.population.periods
        sums = [
            s
            for part in plan.parts
            for s in self._sums(part.name, part.figures, part.mask, periods)
        ]
        if key is not None:
            sums.append(pl.col(MIXED).sum())
        if plan.monthly is None:
            return group_by(frame, [PERIOD, *plan.grains], sums, periods)
        names = [str(s.meta.output_name()) for s in sums]
        partial = frame.group_by(MONTH_INDEX, *plan.grains).agg(sums)
        step = InPeriods(MONTH_INDEX, plan.monthly)
        joined = join_months(partial, step, plan.population.periods)
        return joined.group_by(PERIOD, *plan.grains).agg(pl.col(names).sum())

    def _sums(
        self, name: str, figures: Mapping[str, Term], mask: str | None, periods: Inline
    ) -> list[pl.Expr]:
        where = self.compile(mask, periods=periods).fill_null(False) if mask else None
        sums = []
        for figure, term in {**figures, "__rows": Term("rows")}.items():
            if term.expr is None:
                summed = where.sum() if where is not None else pl.len()
            else:
                value = self.compile(term.expr, periods=periods)
                if term.how == "true":
                    value = value.fill_null(False)
                elif term.how == "known":
                    value = value.is_not_null()
                summed = (pl.when(where).then(value) if where is not None else value).sum()
            sums.append(summed.alias(f"{name}:{figure}"))
        return sums

    def scoped(self, plan: Scoped) -> pl.LazyFrame:
        """(__period, scope, scope_id, numerator, denominator) per scope."""
        frame = self.population(plan.population)
        aggs = [
            self._aggregate(term).cast(pl.Float64).alias(name)
            for name, term in plan.part.figures.items()
        ]
        parts = []
        for scope, column in plan.scopes:
            if column is None:
                grouped = frame.group_by(PERIOD).agg(aggs).with_columns(scope_id=pl.lit("ALL"))
            else:
                grouped = (
                    frame.filter(pl.col(column).is_not_null())
                    .group_by(PERIOD, column)
                    .agg(aggs)
                    .rename({column: "scope_id"})
                    .with_columns(pl.col("scope_id").cast(pl.String))
                )
            parts.append(
                grouped.with_columns(pl.lit(scope).alias("scope")).select(
                    PERIOD, "scope", "scope_id", "numerator", "denominator"
                )
            )
        return pl.concat(parts, how="vertical_relaxed")

    def _aggregate(self, term: Term) -> pl.Expr:
        if term.expr is None:
            return pl.len()
        value = self.compile(term.expr)
        if term.how == "distinct":
            kept = value.filter(self.compile(term.where).fill_null(False)) if term.where else value
            return kept.drop_nulls().n_unique()
        if term.how == "true":
            return value.fill_null(False).sum()
        if term.how == "known":
            return value.count()
        return value.sum()

    def listing(self, plan: Listing) -> pl.LazyFrame:
        frame = self.population(plan.population)
        if plan.group_by:
            aggs = [pl.len().cast(pl.Int64).alias("count")]
            if "branch_id" in plan.population.columns and "branch_id" not in plan.group_by:
                aggs.append(pl.col("branch_id").min())
            if plan.having:
                aggs.append(self.compile(plan.having).alias("__keep"))
            frame = frame.group_by(list(plan.group_by)).agg(aggs)
            if plan.having:
                frame = frame.filter(pl.col("__keep")).drop("__keep")
        elif plan.where:
            frame = frame.filter(self.compile(plan.where).fill_null(False))
        columns = list(plan.columns)
        if plan.in_frame_order:
            columns = [c for c in frame.collect_schema().names() if c in plan.columns]
        frame = frame.select(columns)
        if plan.branches and "branch_id" in columns:
            frame = frame.filter(pl.col("branch_id").is_in(list(plan.branches)))
        first = [c for c, _ in plan.first_by]
        frame = frame.sort(
            [*first, *columns],
            descending=[d for _, d in plan.first_by] + [False] * len(columns),
            nulls_last=True,
        )
        if plan.per_branch is not None and "branch_id" in columns:
            branch = pl.col("branch_id")
            frame = frame.with_columns(pl.len().over(branch).alias(BRANCH_ROWS)).filter(
                pl.int_range(pl.len()).over(branch) < plan.per_branch
            )
        return frame if plan.limit is None else frame.limit(plan.limit)
