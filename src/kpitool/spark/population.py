"""A rule's population as a Spark DataFrame: `kpitool.polars.population`'s stages, step by step.

scan → declared lookups (copied columns, exists flags, exists with a `match` condition) →
deadline → columns without parameters → the months each row counts in (a join with the
months frame, so one plan serves every asked month) → coverage facts → the other columns →
where → entities → window columns. Expressions are the rules' own SQL, written for Spark by
`kpitool.spark.expressions`; parameters read the row's month columns, windows are per month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce

import polars as pl
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from kpitool.measure.periods import Month
from kpitool.measure.targets import TargetTables
from kpitool.polars.population import (
    PERIOD,
    Missing,
    entities_by_year,
    months_frame,
    period_columns,
    uses_parameters,
)
from kpitool.rules.expressions import parse_expression
from kpitool.rules.model import Lookup, PeriodSpec, Rule
from kpitool.spark.expressions import spark_sql, workday_map_sql
from kpitool.spark.sources import SparkData

__all__ = ["PARAM_COLUMNS", "SparkJob", "in_periods", "population"]

PARAM_COLUMNS: dict[str, str] = {
    "month": PERIOD,
    "year": "__year",
    "period_start": "__period_start",
    "period_end": "__period_end",
    "quarter_start": "__quarter_start",
    "year_start": "__year_start",
}
"""Parameter → the months frame's column holding its value (as the Polars engine reads it)."""
_MONTH_COLUMNS = period_columns()[1:]
_SPARK_TYPES: dict[type[pl.DataType], T.DataType] = {
    pl.String: T.StringType(),
    pl.Int32: T.IntegerType(),
    pl.Date: T.DateType(),
}


@dataclass
class SparkJob:
    """One evaluation on Spark: the data, the months and the target tables."""

    data: SparkData
    months: list[Month]
    tables: TargetTables
    _workdays: dict[str, str] = field(default_factory=dict)

    def scan(self, name: str) -> DataFrame:
        if not self.data.has(name):
            raise Missing(f"dataset missing: {name}")
        return self.data.read(name)

    def with_months(self, months: list[Month]) -> SparkJob:
        return SparkJob(self.data, list(months), self.tables, self._workdays)

    def compile(self, text: str, qualified: Mapping[str, str] | None = None) -> Column:
        """A rule expression as a Spark column; windows are per evaluated month."""
        workdays = self.workday_map() if "working_days_between" in text.lower() else None
        sql = spark_sql(
            parse_expression(text),
            PARAM_COLUMNS,
            qualified=qualified,
            partition=[PERIOD],
            workdays=workdays,
        )
        return F.expr(sql)

    def workday_map(self) -> str:
        """The calendar's {date: working days up to it}, as a map literal (it is small)."""
        if "map" not in self._workdays:
            rows = self.scan("calendar").select("date", "is_workday").orderBy("date").collect()
            index: dict[dt.date, int] = {}
            total = 0
            for row in rows:
                total += 1 if row["is_workday"] else 0
                index[row["date"]] = total
            self._workdays["map"] = workday_map_sql(index)
        return self._workdays["map"]

    def months_frame(self) -> DataFrame:
        """The Polars engine's months frame (one row per month: index, bounds, dates)."""
        frame = months_frame(self.months).collect()
        schema = T.StructType(
            [T.StructField(n, _SPARK_TYPES[type(t)]) for n, t in frame.schema.items()]
        )
        return self.data.spark.createDataFrame(frame.rows(), schema)


def in_periods(frame: DataFrame, spec: PeriodSpec | None, job: SparkJob) -> DataFrame:
    """Join each row to the evaluated months whose window holds its date (all, without one)."""
    months = F.broadcast(job.months_frame())
    if spec is None:
        return frame.crossJoin(months)
    day = F.col(spec.date)
    frame = frame.withColumn("__m", (F.year(day) * 12 + F.month(day) - 1).cast("int"))
    m, pm = F.col("__m"), F.col("__pm")
    if spec.window == "month":
        condition = m == pm
    elif spec.window == "asof":
        condition = m <= pm
    else:
        condition = (m >= F.col(f"__lo_{spec.window}")) & (m <= pm)
    return frame.join(months, condition, "inner").drop("__m")


def _keyed(keys: dict[str, str]) -> list[Column]:
    return [F.col(theirs).alias(mine) for mine, theirs in keys.items()]


def _apply_lookup(frame: DataFrame, lookup: Lookup, job: SparkJob) -> DataFrame:
    other = job.scan(lookup.dataset)
    if lookup.where:
        other = other.filter(job.compile(lookup.where))
    keys = lookup.keys
    on = list(keys)
    if lookup.columns:
        copied = [F.col(src).alias(new) for new, src in lookup.columns.items()]
        table = other.select(*_keyed(keys), *copied).dropDuplicates(on)
        frame = frame.join(table, on=on, how="left")
    if lookup.exists and lookup.match:
        qualified = {f"lookup.{c}": f"__lookup_{c}" for c in other.columns}
        renamed = {mine: f"__key_{i}" for i, mine in enumerate(on)}
        candidates = other.select(
            *(F.col(keys[mine]).alias(key) for mine, key in renamed.items()),
            *(F.col(c).alias(f"__lookup_{c}") for c in other.columns),
        )
        same_keys = reduce(
            lambda a, b: a & b, (F.col(mine) == F.col(key) for mine, key in renamed.items())
        )
        condition = same_keys & job.compile(lookup.match, qualified=qualified)
        # A semi join and an anti join split the rows without numbering them first.
        matched = frame.join(candidates, condition, "left_semi")
        unmatched = frame.join(candidates, condition, "left_anti")
        frame = matched.withColumn(lookup.exists, F.lit(True)).unionByName(
            unmatched.withColumn(lookup.exists, F.lit(False))
        )
    elif lookup.exists:
        flags = other.select(*_keyed(keys)).distinct().withColumn(lookup.exists, F.lit(True))
        frame = frame.join(flags, on=on, how="left").withColumn(
            lookup.exists, F.coalesce(F.col(lookup.exists), F.lit(False))
        )
    return frame


def _covered(frame: DataFrame, rule: Rule, job: SparkJob) -> DataFrame:
    """Flag `covered` per entity and month: a fact of the month's window matches it."""
    facts = rule.measure.facts
    assert facts is not None and facts.key is not None
    rows = in_periods(job.scan(facts.dataset or rule.dataset), facts.period, job)
    if facts.where:
        rows = rows.filter(job.compile(facts.where))
    flags = rows.select(facts.key, PERIOD).distinct().withColumn("covered", F.lit(True))
    return frame.join(flags, on=[facts.key, PERIOD], how="left").withColumn(
        "covered", F.coalesce(F.col("covered"), F.lit(False))
    )


def _with_deadline(frame: DataFrame, rule_id: str, job: SparkJob) -> DataFrame:
    own = job.tables.deadline_frame(rule_id)
    default = job.tables.deadline(rule_id, None)
    schema = T.StructType(
        [T.StructField("branch_id", T.StringType()), T.StructField("deadline", T.DateType())]
    )
    table = job.data.spark.createDataFrame(own.rows(), schema)
    return frame.join(F.broadcast(table), on="branch_id", how="left").withColumn(
        "deadline", F.coalesce(F.col("deadline"), F.lit(default).cast(T.DateType()))
    )


def population(rule: Rule, job: SparkJob, period: PeriodSpec | None = None) -> DataFrame:
    """The rows a rule measures, each tagged with the month (`__period`) it counts in."""
    frame = job.scan(rule.dataset)
    for lookup in rule.lookups:
        frame = _apply_lookup(frame, lookup, job)
    if rule.deadline is not None:
        frame = _with_deadline(frame, rule.deadline.rule, job)
    early = {n: t for n, t in rule.columns.items() if not uses_parameters(t)}
    for name, text in early.items():
        frame = frame.withColumn(name, job.compile(text))
    yearly = entities_by_year(rule)  # old customers: grouped once a year, not per month
    if yearly:
        years = job.months_frame().select("__year", "__year_start").distinct()
        frame = frame.crossJoin(F.broadcast(years))
    else:
        frame = in_periods(frame, period or rule.period, job)
    if rule.measure.kind == "coverage" and rule.entities is None:
        frame = _covered(frame, rule, job)
    for name, text in rule.columns.items():
        if name not in early:
            frame = frame.withColumn(name, job.compile(text))
    if rule.where:
        frame = frame.filter(job.compile(rule.where))
    if rule.entities is not None:
        entities = rule.entities
        by = "__year" if yearly else PERIOD
        frame = frame.groupBy(entities.key, by).agg(
            *(job.compile(text).alias(name) for name, text in entities.columns.items())
        )
        frame = frame.join(job.months_frame().drop(*_MONTH_COLUMNS[:4]), on=by)
        if rule.measure.kind == "coverage":  # per entity: a fact of the month matches it
            frame = _covered(frame, rule, job)
        if entities.where:
            frame = frame.filter(job.compile(entities.where))
    for name, text in rule.window_columns.items():
        frame = frame.withColumn(name, job.compile(text))
    return frame
