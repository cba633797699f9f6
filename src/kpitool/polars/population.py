"""A rule's population as a lazy Polars frame, for many months in one pass.

Every row is joined to the evaluated months it counts in (a month-index range join: the
month itself, the quarter or year to date, as-of, or the last 24 months), carrying the
month's dates as columns. Parameters such as `:period_end` compile to those columns, so
one plan per rule serves every month, and grouping by `__period` splits them again.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlglot import exp

from kpitool.data.catalogue import DataSource
from kpitool.measure.periods import Month, WindowKind
from kpitool.measure.targets import TargetTables
from kpitool.rules.expressions import WORKDAY_INDEX, parse_expression, to_polars
from kpitool.rules.model import Lookup, PeriodSpec, Rule

__all__ = [
    "MONTH_INDEX",
    "PERIOD",
    "Context",
    "Missing",
    "bucketable",
    "denominator_rule",
    "entities_by_year",
    "join_months",
    "month_indexed",
    "monthly_rows",
    "parameters",
    "population",
    "uses_parameters",
]

PERIOD = "__period"
MONTH_INDEX = "__m"
"""A row's calendar month as year * 12 + month - 1."""
_PARAMS: dict[str, pl.Expr] = {
    "month": pl.col(PERIOD),
    "year": pl.col("__year"),
    "period_start": pl.col("__period_start"),
    "period_end": pl.col("__period_end"),
    "quarter_start": pl.col("__quarter_start"),
    "year_start": pl.col("__year_start"),
}
_YEARLY = frozenset({"year", "year_start"})
_MONTH_COLUMNS = (
    "__pm",
    "__lo_quarter",
    "__lo_ytd",
    "__lo_rolling_24m",
    "__year",
    "__period_start",
    "__period_end",
    "__quarter_start",
    "__year_start",
)


class Missing(Exception):
    """A dataset or column a rule needs is absent: the rule is n/a with this reason."""


def _index(month: Month) -> int:
    return month.year * 12 + month.month - 1


def months_frame(months: Sequence[Month]) -> pl.LazyFrame:
    """One row per evaluated month: its index, window bounds and dates."""
    ms = sorted(set(months))
    return pl.LazyFrame(
        {
            PERIOD: [str(m) for m in ms],
            "__pm": [_index(m) for m in ms],
            "__lo_quarter": [_index(Month(m.year, m.quarter_first_day.month)) for m in ms],
            "__lo_ytd": [_index(Month(m.year, 1)) for m in ms],
            "__lo_rolling_24m": [_index(m) - 23 for m in ms],
            "__year": [str(m.year) for m in ms],
            "__period_start": [m.first_day for m in ms],
            "__period_end": [m.last_day for m in ms],
            "__quarter_start": [m.quarter_first_day for m in ms],
            "__year_start": [m.year_first_day for m in ms],
        },
        schema_overrides={
            "__pm": pl.Int32,
            "__lo_quarter": pl.Int32,
            "__lo_ytd": pl.Int32,
            "__lo_rolling_24m": pl.Int32,
        },
    )


@dataclass
class Context:
    """One evaluation: the data, the months, the target tables and scans shared by rules."""

    source: DataSource
    months: list[Month]
    tables: TargetTables
    scans: dict[str, pl.LazyFrame] = field(default_factory=dict)
    _workdays: dict[Any, int] | None = None
    bucket: tuple[int, int] | None = None  # (i, n): only entities whose key hashes to i mod n

    def scan(self, name: str) -> pl.LazyFrame:
        if name not in self.scans:
            if not self.source.has(name):
                raise Missing(f"dataset missing: {name}")
            # A dataset that is there but broken is an error, not an n/a: the caller stops.
            self.scans[name] = self.source.scan(name)
        return self.scans[name]

    def with_months(self, months: Sequence[Month]) -> Context:
        return Context(self.source, list(months), self.tables, self.scans)

    def with_bucket(self, index: int, count: int) -> Context:
        """The same evaluation limited to one of `count` disjoint sets of entities."""
        return Context(
            self.source, self.months, self.tables, self.scans, self._workdays, (index, count)
        )

    def compile(self, text: str, **options: Any) -> pl.Expr:
        """Compile a rule expression; period parameters read the row's month columns."""
        params: dict[str, Any] = dict(_PARAMS)
        if "working_days_between" in text.lower():
            params[WORKDAY_INDEX] = self.workday_index()
        return to_polars(_parsed(text), params, partition=[PERIOD], **options)

    def workday_index(self) -> dict[Any, int]:
        """{date: working days up to it} from the calendar dataset (read once, it is small)."""
        if self._workdays is None:
            calendar = self.scan("calendar").select("date", "is_workday").sort("date").collect()
            counts = calendar["is_workday"].fill_null(False).cast(pl.Int64).cum_sum()
            self._workdays = dict(zip(calendar["date"].to_list(), counts.to_list(), strict=True))
        return self._workdays


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> exp.Expression:
    """A rule expression parsed once per process (sqlglot takes ~0.5 ms a text, and every
    evaluation compiles the same texts again); shared, so never modified."""
    return parse_expression(text)


@functools.lru_cache(maxsize=4096)
def parameters(text: str) -> frozenset[str]:
    """The period parameters an expression reads (`year_start` for `:year_start` …)."""
    return frozenset(n.name for n in _parsed(text).walk() if isinstance(n, exp.Placeholder))


def uses_parameters(text: str) -> bool:
    """Whether an expression reads a period parameter (`:period_end` …)."""
    return bool(parameters(text))


def entities_by_year(rule: Rule) -> bool:
    """Whether a rule's entities are the same for every month of a year: it has no period,
    and the rows and entity columns read at most `:year` and `:year_start`. Such entities
    are grouped once a year, not once a month (an old customer stays one all year)."""
    if rule.entities is None or rule.period is not None:
        return False
    texts = [rule.where, *rule.columns.values(), *rule.entities.columns.values()]
    return all(parameters(text) <= _YEARLY for text in texts if text)


def bucketable(rule: Rule) -> bool:
    """Whether a rule's entities can be measured in disjoint sets of keys whose sums add up:
    no expression looks beyond one entity (a window) and no denominator is measured apart."""
    if rule.entities is None or rule.window_columns or rule.measure.denominator is not None:
        return False
    texts = [rule.where, rule.measure.condition, rule.measure.of, rule.entities.where]
    texts += [*rule.columns.values(), *rule.entities.columns.values()]
    return not any(_parsed(t).find(exp.Window) for t in texts if t)


def _dates_in(
    window: WindowKind, months: Sequence[Month], day: pl.Expr, kind: pl.DataType
) -> pl.Expr:
    """The dates some month's window holds, as plain bounds on the date column: the scan
    skips the files and row groups outside them, and fewer rows reach the joins."""
    windows = [m.window(window) for m in months]
    end = day < pl.lit(max(w.end for w in windows) + dt.timedelta(days=1)).cast(kind)
    starts = [w.start for w in windows if w.start is not None]
    if len(starts) < len(windows):
        return end
    return (day >= pl.lit(min(starts)).cast(kind)) & end


def month_indexed(frame: pl.LazyFrame, spec: PeriodSpec, months: Sequence[Month]) -> pl.LazyFrame:
    """The rows dated inside some month's window, with their calendar month's index."""
    day = pl.col(spec.date)
    index = day.dt.year().cast(pl.Int32) * 12 + day.dt.month().cast(pl.Int32) - 1
    kind = frame.collect_schema()[spec.date]
    dated = frame.filter(_dates_in(spec.window, months, day, kind))
    return dated.with_columns(index.alias(MONTH_INDEX))


def join_months(frame: pl.LazyFrame, window: WindowKind, months: Sequence[Month]) -> pl.LazyFrame:
    """Join rows (or monthly sums) indexed by calendar month to the evaluated months whose
    window holds that month, adding the months' columns."""
    table = months_frame(months)
    m = pl.col(MONTH_INDEX)
    if window == "month":
        joined = frame.join(table, left_on=MONTH_INDEX, right_on="__pm", how="inner")
        joined = joined.with_columns(m.alias("__pm"))
    elif window == "asof":
        joined = frame.join_where(table, m <= pl.col("__pm"))
    else:
        joined = frame.join_where(table, m >= pl.col(f"__lo_{window}"), m <= pl.col("__pm"))
    return joined.drop(MONTH_INDEX)


def in_periods(frame: pl.LazyFrame, spec: PeriodSpec | None, ctx: Context) -> pl.LazyFrame:
    """Join each row to the evaluated months whose window holds its date (all, without one)."""
    if spec is None:
        return frame.join(months_frame(ctx.months), how="cross")
    return join_months(month_indexed(frame, spec, ctx.months), spec.window, ctx.months)


def _keyed(other: pl.LazyFrame, keys: dict[str, str]) -> list[pl.Expr]:
    return [pl.col(theirs).alias(mine) for mine, theirs in keys.items()]


def _apply_lookup(
    frame: pl.LazyFrame, lookup: Lookup, ctx: Context, base: pl.LazyFrame
) -> pl.LazyFrame:
    """Join a lookup's columns or flags to the rows. When the keys are the dataset's own
    columns, the other dataset is first cut to the keys the rows hold (a month of callbacks
    needs a month's policies, not every policy ever sold, made unique)."""
    other = ctx.scan(lookup.dataset)
    if lookup.where:
        other = other.filter(ctx.compile(lookup.where))
    keys = lookup.keys
    if set(keys) <= set(base.collect_schema().names()):
        held = base.select(list(keys)).unique()
        other = other.join(
            held,
            left_on=list(keys.values()),
            right_on=list(keys),
            how="semi",
            maintain_order="left",
        )
    on = list(keys)
    if lookup.columns:
        wanted = _keyed(other, keys) + [
            pl.col(src).alias(new) for new, src in lookup.columns.items()
        ]
        table = other.select(wanted).unique(subset=on, keep="first", maintain_order=True)
        frame = frame.join(table, on=on, how="left")
    if lookup.exists and lookup.match:
        names = other.collect_schema().names()
        qualified = {f"lookup.{c}": f"__lookup_{c}" for c in names}
        candidates = other.select(
            _keyed(other, keys) + [pl.col(c).alias(f"__lookup_{c}") for c in names]
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
            other.select(_keyed(other, keys))
            .unique()
            .with_columns(pl.lit(True).alias(lookup.exists))
        )
        frame = frame.join(flags, on=on, how="left").with_columns(
            pl.col(lookup.exists).fill_null(False)
        )
    return frame


def _in_bucket(key: str, bucket: tuple[int, int]) -> pl.Expr:
    index, count = bucket
    return pl.col(key).hash(seed=0) % count == index


def _covered(frame: pl.LazyFrame, rule: Rule, ctx: Context) -> pl.LazyFrame:
    """Flag `covered` per entity and month: a fact of the month's window matches it."""
    facts = rule.measure.facts
    assert facts is not None and facts.key is not None
    rows = ctx.scan(facts.dataset or rule.dataset)
    if ctx.bucket is not None and rule.entities is not None:
        rows = rows.filter(_in_bucket(facts.key, ctx.bucket))  # facts of the bucket's keys
    rows = in_periods(rows, facts.period, ctx)
    if facts.where:
        rows = rows.filter(ctx.compile(facts.where))
    flags = (
        rows.select(pl.col(facts.key), pl.col(PERIOD))
        .unique()
        .with_columns(pl.lit(True).alias("covered"))
    )
    return frame.join(flags, on=[facts.key, PERIOD], how="left").with_columns(
        pl.col("covered").fill_null(False)
    )


def _prepared(rule: Rule, ctx: Context, period: PeriodSpec | None) -> pl.LazyFrame:
    """The dataset's rows with the rule's lookups, deadline and period-free columns; rows
    dated outside every month's window are dropped first (lookups keep each row as it is,
    and a lookup by `match` numbers the rows, which stops Polars pushing the filter down)."""
    frame = ctx.scan(rule.dataset)
    added = {"deadline", *rule.columns}
    added |= {n for lookup in rule.lookups for n in (*lookup.columns, lookup.exists) if n}
    schema = frame.collect_schema()
    if period is not None and period.date in schema and period.date not in added:
        day = pl.col(period.date)
        frame = frame.filter(_dates_in(period.window, ctx.months, day, schema[period.date]))
    base = frame
    for lookup in rule.lookups:
        frame = _apply_lookup(frame, lookup, ctx, base)
    if rule.deadline is not None:
        own = ctx.tables.deadline_frame(rule.deadline.rule)
        default = ctx.tables.deadline(rule.deadline.rule, None)
        frame = frame.join(own.lazy(), on="branch_id", how="left").with_columns(
            pl.col("deadline").fill_null(pl.lit(default, dtype=pl.Date))
        )
    for name, text in rule.columns.items():
        if not uses_parameters(text):
            frame = frame.with_columns(ctx.compile(text).alias(name))
    return frame


def monthly_rows(rule: Rule, ctx: Context) -> pl.LazyFrame:
    """The rows of a dated rule that reads no period parameter, unfiltered by its `where`,
    each with its calendar month's index (`__m`) but not yet joined to the months: sums
    per calendar month add up to any window's sums without repeating rows."""
    assert rule.period is not None
    return month_indexed(_prepared(rule, ctx, rule.period), rule.period, ctx.months)


def population(rule: Rule, ctx: Context, period: PeriodSpec | None = None) -> pl.LazyFrame:
    """The rows a rule measures, each tagged with the month (`__period`) it counts in."""
    period = period or rule.period
    yearly = entities_by_year(rule)
    months = months_frame(ctx.months)
    frame = _prepared(rule, ctx, period)
    if ctx.bucket is not None and rule.entities is not None:
        frame = frame.filter(_in_bucket(rule.entities.key, ctx.bucket))
    if yearly:
        frame = frame.join(months.select("__year", "__year_start").unique(), how="cross")
    else:
        frame = in_periods(frame, period, ctx)
    if rule.measure.kind == "coverage" and rule.entities is None:
        frame = _covered(frame, rule, ctx)
    for name, text in rule.columns.items():
        if uses_parameters(text):
            frame = frame.with_columns(ctx.compile(text).alias(name))
    if rule.where:
        frame = frame.filter(ctx.compile(rule.where))
    if rule.entities is not None:
        entities = rule.entities
        by = "__year" if yearly else PERIOD
        frame = frame.group_by(entities.key, by).agg(
            ctx.compile(text).alias(name) for name, text in entities.columns.items()
        )
        frame = frame.join(months.drop(_MONTH_COLUMNS[:4]), on=by)
        if rule.measure.kind == "coverage":
            frame = _covered(frame, rule, ctx)
        if entities.where:
            frame = frame.filter(ctx.compile(entities.where))
    for name, text in rule.window_columns.items():
        frame = frame.with_columns(ctx.compile(text).alias(name))
    return frame


def denominator_rule(rule: Rule) -> Rule:
    """The rule whose population is a ratio's denominator (the rule itself when it has no
    dataset of its own); engine-neutral, the Spark engine measures the same one."""
    denominator = rule.measure.denominator
    if denominator is None or denominator.dataset is None:
        return rule
    return rule.model_copy(
        update={
            "dataset": denominator.dataset,
            "lookups": [],
            "columns": {},
            "entities": None,
            "window_columns": {},
            "where": denominator.where,
            "deadline": None,
            "period": denominator.period,
            "measure": rule.measure.model_copy(update={"kind": "count", "facts": None}),
        }
    )


def period_columns() -> tuple[str, ...]:
    """The helper columns `population` adds, to drop before showing rows."""
    return (PERIOD, *_MONTH_COLUMNS)
