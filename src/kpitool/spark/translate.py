"""The neutral plan (`kpitool.plan.steps`) as Spark DataFrames: one handler per step kind.

Expressions are the rules' own SQL, written for Spark by `kpitool.spark.expressions`; small
tables (periods, deadlines) are `VALUES` relations built in the JVM, so no Python runs on
the executors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from kpitool.plan.analysis import parsed
from kpitool.plan.population import PARAM_COLUMNS, PERIOD_DATES, WINDOW_START
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
    Part,
    PeriodDates,
    Population,
    Scan,
    Scoped,
    Step,
    Summed,
    Term,
)
from kpitool.spark.expressions import spark_sql

__all__ = ["Translator", "values_sql"]

_SQL_TYPES = {"str": "STRING", "int": "INT", "date": "DATE"}


def _literal(value: object, kind: str) -> str:
    if value is None:
        return f"CAST(NULL AS {_SQL_TYPES[kind]})"
    if kind == "date":
        assert isinstance(value, dt.date)
        return f"DATE'{value.isoformat()}'"
    if kind == "int":
        return str(int(value))  # type: ignore[call-overload]
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def values_sql(table: Inline) -> str:
    """A small table as a Spark SQL `VALUES` relation with typed columns."""
    names = ", ".join(f"`{name}`" for name in table.names)
    typed = ", ".join(f"CAST(`{n}` AS {_SQL_TYPES[k]}) AS `{n}`" for n, k in table.schema)
    if not table.rows:
        nulls = ", ".join(f"CAST(NULL AS {_SQL_TYPES[k]}) AS `{n}`" for n, k in table.schema)
        return f"SELECT {nulls} WHERE 1 = 0"
    rows = ", ".join(
        "(" + ", ".join(_literal(v, k) for v, (_, k) in zip(row, table.schema, strict=True)) + ")"
        for row in table.rows
    )
    return f"SELECT {typed} FROM VALUES {rows} AS t({names})"


class Translator:
    """Translate populations and plans over one Spark data source."""

    def __init__(
        self,
        spark: SparkSession,
        read: Callable[[str], DataFrame],
        workdays: Callable[[], str],
    ) -> None:
        self.spark = spark
        self.read = read
        self.workdays = workdays

    def compile(self, text: str, qualified: Mapping[str, str] | None = None) -> Column:
        """A rule expression as a Spark column; windows are per evaluated period."""
        workdays = self.workdays() if "working_days_between" in text.lower() else None
        sql = spark_sql(
            parsed(text), PARAM_COLUMNS, qualified=qualified, partition=[PERIOD], workdays=workdays
        )
        return F.expr(sql)

    def inline(self, table: Inline) -> DataFrame:
        return F.broadcast(self.spark.sql(values_sql(table)))

    def population(self, pop: Population) -> DataFrame:
        frame: DataFrame | None = None
        base: DataFrame | None = None
        for step in pop.steps:
            if isinstance(step, Scan):
                frame = self.read(step.dataset)
                continue
            assert frame is not None
            if isinstance(step, ApplyLookup) and base is None:
                base = frame
            frame = self._step(frame, step, pop, base)
        assert frame is not None
        return frame

    def _step(
        self, frame: DataFrame, step: Step, pop: Population, base: DataFrame | None
    ) -> DataFrame:
        if isinstance(step, KeepDates):
            day = F.col(step.column)
            kept = [
                (day < F.lit(end + dt.timedelta(days=1)))
                if start is None
                else (day >= F.lit(start)) & (day < F.lit(end + dt.timedelta(days=1)))
                for start, end in step.ranges
            ]
            return frame.filter(reduce(lambda a, b: a | b, kept))
        if isinstance(step, ApplyLookup):
            assert base is not None
            return self._lookup(frame, step, base)
        if isinstance(step, JoinTable):
            joined = frame.join(self.inline(step.table), on=step.on, how="left")
            kinds = dict(step.table.schema)
            for name, value in step.fill.items():
                fill = F.expr(_literal(value, kinds[name]))
                joined = joined.withColumn(name, F.coalesce(F.col(name), fill))
            return joined
        if isinstance(step, Derive):
            return frame.withColumn(step.name, self.compile(step.expr))
        if isinstance(step, Filter):
            return frame.filter(self.compile(step.expr))
        if isinstance(step, InBucket):
            return frame.filter(F.pmod(F.hash(F.col(step.key)), F.lit(step.count)) == step.index)
        if isinstance(step, InPeriods):
            return self._in_periods(frame, step, pop.periods)
        if isinstance(step, InYears):
            years = self.inline(pop.periods).select("__year", "__year_start").distinct()
            return frame.crossJoin(F.broadcast(years))
        if isinstance(step, MonthIndex):
            return frame.withColumn(MONTH_INDEX, _month_index(F.col(step.date)))
        if isinstance(step, Covered):
            return self._covered(frame, step)
        if isinstance(step, KeysWith):
            there = frame.filter(F.col(step.column).isin(list(step.values)))
            return frame.join(there.select(step.key).distinct(), on=step.key, how="left_semi")
        if isinstance(step, Entities):
            aggs = [self.compile(text).alias(name) for name, text in step.columns]
            return frame.groupBy(step.key, step.by).agg(*aggs)
        if isinstance(step, PeriodDates):
            dates = self.inline(pop.periods).select(*PERIOD_DATES)
            return frame.join(F.broadcast(dates), on=step.by)
        raise TypeError(f"unknown step {step!r}")

    def _in_periods(self, frame: DataFrame, step: InPeriods, periods: Inline) -> DataFrame:
        months = self.inline(periods)
        if step.date is None:
            return frame.crossJoin(months)
        indexed = frame.withColumn(MONTH_INDEX, _month_index(F.col(step.date)))
        joined = _join_months(indexed, step.window, months, step.by_day)
        if not step.by_day:
            return joined
        day = F.to_date(F.col(step.date))
        kept = day <= F.col("__period_end")
        start = WINDOW_START[step.window]
        return joined.filter(kept if start is None else kept & (day >= F.col(start)))

    def _lookup(self, frame: DataFrame, step: ApplyLookup, base: DataFrame) -> DataFrame:
        """Copy a lookup's columns (the first row in file order on duplicate keys) or flags;
        with `narrow`, the other dataset is first cut to the keys the rows hold."""
        lookup = step.lookup
        other = self.read(lookup.dataset)
        order = F.struct(
            F.input_file_name(), F.input_file_block_start(), F.monotonically_increasing_id()
        )
        if lookup.columns:
            other = other.withColumn("__order", order)  # before any shuffle: the file's order
        if lookup.where:
            other = other.filter(self.compile(lookup.where))
        keys = lookup.keys
        on = list(keys)
        if step.narrow:
            held = base.select(*(F.col(m).alias(f"__held_{i}") for i, m in enumerate(on)))
            same = reduce(
                lambda a, b: a & b,
                (F.col(keys[m]) == F.col(f"__held_{i}") for i, m in enumerate(on)),
            )
            other = other.join(held.distinct(), same, "left_semi")
        keyed = [F.col(theirs).alias(mine) for mine, theirs in keys.items()]
        if lookup.columns:
            copied = F.struct(*(F.col(src).alias(new) for new, src in lookup.columns.items()))
            first = other.groupBy(*keyed).agg(F.min_by(copied, F.col("__order")).alias("__first"))
            spread = [F.col(f"__first.{new}").alias(new) for new in lookup.columns]
            table = first.select(*on, *spread)
            frame = frame.join(table, on=on, how="left")
        if lookup.exists and lookup.match:
            names = [c for c in other.columns if c != "__order"]
            qualified = {f"lookup.{c}": f"__lookup_{c}" for c in names}
            renamed = {mine: f"__key_{i}" for i, mine in enumerate(on)}
            candidates = other.select(
                *(F.col(keys[mine]).alias(key) for mine, key in renamed.items()),
                *(F.col(c).alias(f"__lookup_{c}") for c in names),
            )
            same_keys = reduce(
                lambda a, b: a & b, (F.col(mine) == F.col(key) for mine, key in renamed.items())
            )
            condition = same_keys & self.compile(lookup.match, qualified=qualified)
            matched = frame.join(candidates, condition, "left_semi")
            unmatched = frame.join(candidates, condition, "left_anti")
            frame = matched.withColumn(lookup.exists, F.lit(True)).unionByName(
                unmatched.withColumn(lookup.exists, F.lit(False))
            )
        elif lookup.exists:
            flags = other.select(*keyed).distinct().withColumn(lookup.exists, F.lit(True))
            frame = frame.join(flags, on=on, how="left").withColumn(
                lookup.exists, F.coalesce(F.col(lookup.exists), F.lit(False))
            )
        return frame

    def _covered(self, frame: DataFrame, step: Covered) -> DataFrame:
        rows = self.population(step.facts)
        flags = rows.select(step.key, PERIOD).distinct().withColumn("covered", F.lit(True))
        return frame.join(flags, on=[step.key, PERIOD], how="left").withColumn(
            "covered", F.coalesce(F.col("covered"), F.lit(False))
        )

    # plans

    def summed(self, plan: Summed) -> DataFrame:
        """The parts' sums per period and finest grain: one scan and one group-by."""
        frame = self.population(plan.population)
        sums = [s for part in plan.parts for s in self._sums(part)]
        keys = [MONTH_INDEX if plan.monthly else PERIOD, *plan.grains]
        partial = frame.groupBy(*keys).agg(*sums)
        if plan.monthly is None:
            return partial
        names = [c for c in partial.columns if c not in keys]
        joined = _join_months(partial, plan.monthly, self.inline(plan.population.periods))
        return joined.groupBy(PERIOD, *plan.grains).agg(
            *(F.sum(F.col(f"`{n}`")).alias(n) for n in names)
        )

    def _sums(self, part: Part) -> list[Column]:
        mask = F.coalesce(self.compile(part.mask), F.lit(False)) if part.mask else None
        sums = []
        for figure, term in {**part.figures, "__rows": Term("rows")}.items():
            if term.expr is None:
                one = F.lit(1) if mask is None else F.when(mask, 1).otherwise(0)
                summed = F.sum(one)
            else:
                value = self.compile(term.expr)
                if term.how == "true":
                    value = F.coalesce(value, F.lit(False)).cast("int")
                elif term.how == "known":
                    value = value.isNotNull().cast("int")
                summed = F.sum(value if mask is None else F.when(mask, value))
            sums.append(F.coalesce(summed, F.lit(0)).cast("double").alias(f"{part.name}:{figure}"))
        return sums

    def scoped(self, plan: Scoped) -> DataFrame:
        """(__period, scope, scope_id, numerator, denominator) per scope, in one pass: each
        row once per scope it counts in."""
        frame = self.population(plan.population)
        keys = [
            F.struct(
                F.lit(scope).alias("scope"),
                (F.lit("ALL") if column is None else F.col(column).cast("string")).alias(
                    "scope_id"
                ),
            )
            for scope, column in plan.scopes
        ]
        exploded = frame.withColumn("__scope", F.explode(F.array(*keys))).filter(
            F.col("__scope.scope_id").isNotNull()
        )
        aggs = [self._aggregate(t).cast("double").alias(n) for n, t in plan.part.figures.items()]
        return exploded.groupBy(
            PERIOD,
            F.col("__scope.scope").alias("scope"),
            F.col("__scope.scope_id").alias("scope_id"),
        ).agg(*aggs)

    def _aggregate(self, term: Term) -> Column:
        if term.expr is None:
            return F.count(F.lit(1))
        value = self.compile(term.expr)
        if term.how == "distinct":
            where = F.coalesce(self.compile(term.where), F.lit(False)) if term.where else None
            return F.count_distinct(value if where is None else F.when(where, value))
        if term.how == "true":
            return F.coalesce(F.sum(F.coalesce(value, F.lit(False)).cast("int")), F.lit(0))
        if term.how == "known":
            return F.count(value)
        return F.coalesce(F.sum(value), F.lit(0))

    def listing(self, plan: Listing) -> DataFrame:
        frame = self.population(plan.population)
        if plan.group_by:
            aggs = [F.count(F.lit(1)).alias("count")]
            if "branch_id" in plan.population.columns and "branch_id" not in plan.group_by:
                aggs.append(F.min("branch_id").alias("branch_id"))
            if plan.having:
                aggs.append(self.compile(plan.having).alias("__keep"))
            frame = frame.groupBy(*plan.group_by).agg(*aggs)
            if plan.having:
                frame = frame.filter(F.col("__keep")).drop("__keep")
        elif plan.where:
            frame = frame.filter(F.coalesce(self.compile(plan.where), F.lit(False)))
        columns = list(plan.columns)
        if plan.in_frame_order:
            columns = [c for c in frame.columns if c in plan.columns]
        frame = frame.select(*columns)
        if plan.branches and "branch_id" in columns:
            frame = frame.filter(F.col("branch_id").isin(list(plan.branches)))
        first = [
            F.col(c).desc_nulls_last() if d else F.col(c).asc_nulls_last() for c, d in plan.first_by
        ]
        order = first + [F.col(c).asc_nulls_last() for c in columns]
        if plan.per_branch is not None and "branch_id" in columns:
            branch = Window.partitionBy("branch_id")
            frame = (
                frame.withColumn(BRANCH_ROWS, F.count(F.lit(1)).over(branch))
                .withColumn("__n", F.row_number().over(branch.orderBy(*order)))
                .filter(F.col("__n") <= plan.per_branch)
                .drop("__n")
            )
        frame = frame.orderBy(*order)
        return frame if plan.limit is None else frame.limit(plan.limit)


def _month_index(day: Column) -> Column:
    return (F.year(day) * 12 + F.month(day) - 1).cast("int")


def _join_months(
    frame: DataFrame, window: str, months: DataFrame, by_day: bool = False
) -> DataFrame:
    """Join rows (or monthly sums) indexed by calendar month to the periods whose window
    holds that month, adding the periods' columns (for periods of days, every period whose
    window touches the month)."""
    m, pm = F.col(MONTH_INDEX), F.col("__pm")
    if window == "month" and by_day:
        condition = (m >= F.col("__lo_month")) & (m <= pm)
    elif window == "month":
        condition = m == pm
    elif window == "asof":
        condition = m <= pm
    else:
        condition = (m >= F.col(f"__lo_{window}")) & (m <= pm)
    return frame.join(months, condition, "inner").drop(MONTH_INDEX)
