"""The periods table in Polars plans: joined, or, where it has one row (one month, one
year), turned into a filter and constants that the streaming engine runs in passing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from kpitool.plan.population import WINDOW_START
from kpitool.plan.steps import MONTH_INDEX, Inline, InPeriods, KeepDates

__all__ = [
    "KINDS",
    "constants",
    "group_by",
    "in_periods",
    "inline",
    "join_months",
    "month_index",
    "one_row",
    "single",
    "within",
]

KINDS: dict[str, pl.DataType] = {"str": pl.String(), "int": pl.Int32(), "date": pl.Date()}


def inline(table: Inline) -> pl.LazyFrame:
    """A plan's small table as a Polars frame."""
    columns = {name: table.column(name) for name in table.names}
    schema = {name: KINDS[kind] for name, kind in table.schema}
    return pl.LazyFrame(columns, schema=schema)


def month_index(day: pl.Expr) -> pl.Expr:
    return day.dt.year().cast(pl.Int32) * 12 + day.dt.month().cast(pl.Int32) - 1


def within(frame: pl.LazyFrame, step: KeepDates) -> pl.Expr:
    """Plain bounds on the date column (in its own type: a date or a datetime)."""
    kind = frame.collect_schema()[step.column]
    day = pl.col(step.column)
    kept = [
        (day < pl.lit(end + dt.timedelta(days=1)).cast(kind))
        if start is None
        else (day >= pl.lit(start).cast(kind))
        & (day < pl.lit(end + dt.timedelta(days=1)).cast(kind))
        for start, end in step.ranges
    ]
    return pl.any_horizontal(kept) if len(kept) > 1 else kept[0]


def single(table: Inline, names: Sequence[str]) -> tuple[Any, ...] | None:
    """The one distinct row of a table's `names` columns, if it has one."""
    rows = {tuple(row[table.names.index(n)] for n in names) for row in table.rows}
    return next(iter(rows)) if len(rows) == 1 else None


def constants(periods: Inline, names: Iterable[str]) -> dict[str, pl.Expr]:
    """Those of `names` the periods table has one value of, as literals (one period, year)."""
    return {n: one[0] for n in names if n in periods.names and (one := one_row(periods, (n,)))}


def group_by(
    frame: pl.LazyFrame, keys: Sequence[str], aggs: Sequence[pl.Expr], periods: Inline
) -> pl.LazyFrame:
    """`frame.group_by(keys).agg(aggs)`; a key the periods table has one value of (one period
    or year) is left out of the hashed keys and put back as a constant: a fifth cheaper
    (old customers by holder, not by holder and year). Other keys must remain: grouped by
    nothing, an empty frame would still give a row."""
    constant = constants(periods, keys)
    rest = [key for key in keys if key not in constant]
    if not constant or not rest:
        return frame.group_by(keys).agg(aggs)
    names = [pl.col(str(agg.meta.output_name())) for agg in aggs]
    return (
        frame.group_by(rest)
        .agg(aggs)
        .select(*(constant.get(key, pl.col(key)) for key in keys), *names)
    )


def one_row(table: Inline, names: Sequence[str]) -> list[pl.Expr]:
    """The `names` columns of a table with one distinct row as literals, else nothing: a
    join with one row is a filter and constants, which the streaming engine runs in
    passing and which reach the scan (a join waits for, and holds, both sides)."""
    kinds = dict(table.schema)
    row = single(table, names)
    if row is None:
        return []
    return [pl.lit(v, dtype=KINDS[kinds[n]]).alias(n) for n, v in zip(names, row, strict=True)]


def in_periods(frame: pl.LazyFrame, step: InPeriods, periods: Inline) -> pl.LazyFrame:
    if step.date is None:
        if one := one_row(periods, periods.names):
            return frame.with_columns(one)
        return frame.join(inline(periods), how="cross")
    indexed = frame.with_columns(month_index(pl.col(step.date)).alias(MONTH_INDEX))
    joined = join_months(indexed, step, periods)
    if not step.by_day:
        return joined
    day = pl.col(step.date).cast(pl.Date)
    kept = day <= pl.col("__period_end")
    start = WINDOW_START[step.window]
    return joined.filter(kept if start is None else kept & (day >= pl.col(start)))


def join_months(frame: pl.LazyFrame, step: InPeriods, periods: Inline) -> pl.LazyFrame:
    """Join rows (or monthly sums) indexed by calendar month to the periods whose window
    holds that month, adding the periods' columns (for periods of days, every period whose
    window touches the month)."""
    m = pl.col(MONTH_INDEX)
    if one := one_row(periods, periods.names):
        ends = dict(zip(periods.names, periods.rows[0], strict=True))
        kept = m <= ends["__pm"]
        if step.window == "month" and not step.by_day:
            kept = m == ends["__pm"]
        elif step.window != "asof":
            kept = kept & (m >= ends[f"__lo_{step.window}"])
        return frame.filter(kept).with_columns(one).drop(MONTH_INDEX)
    table = inline(periods)
    if step.window == "month" and not step.by_day:
        joined = frame.join(table, left_on=MONTH_INDEX, right_on="__pm", how="inner")
        joined = joined.with_columns(m.alias("__pm"))
    elif step.window == "asof":
        joined = frame.join_where(table, m <= pl.col("__pm"))
    else:
        joined = frame.join_where(table, m >= pl.col(f"__lo_{step.window}"), m <= pl.col("__pm"))
    return joined.drop(MONTH_INDEX)
