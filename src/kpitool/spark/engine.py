"""The Spark engine: the same neutral plans run inside Spark, for data one machine cannot hold.

Each plan is translated (`kpitool.spark.translate`) and collected; only its small result
(sums per grain, exception rows) comes back to the driver, as a Polars frame. No Python
UDF or RDD is used, so executors need nothing of kpitool.

Needs the `spark` extra (`pip install 'kpitool[spark]'`) and Java 17.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import polars as pl
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from kpitool.data.catalogue import DataSource
from kpitool.data.schema import DATASETS
from kpitool.errors import UsageError
from kpitool.plan.engine import translated
from kpitool.plan.steps import Plan
from kpitool.plan.workdays import workday_index
from kpitool.spark.expressions import workday_map_sql
from kpitool.spark.masking import masked_frame
from kpitool.spark.session import SparkErrors, first_line, spark_errors, spark_session, to_polars
from kpitool.spark.sources import SparkData
from kpitool.spark.translate import Translator

__all__ = ["SparkEngine", "spark_session"]


class SparkEngine:
    """Plans over data Spark reads: a local folder, a URL (hdfs://, s3a://, file:/) in
    canonical layout or with a catalogue, or Spark/Hive tables named in a catalogue."""

    name = "spark"
    buckets = 1
    month_by_month = False

    def __init__(self, data: DataSource | Path | str, session: SparkSession | None = None):
        spark = session or spark_session()
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # a session kpitool did not start
        self.data = SparkData(spark, data)
        self.translator = Translator(spark, self._read, lambda: self._workdays)

    @property
    def root(self) -> str:
        return str(self.data.root)

    @property
    def local(self) -> DataSource | None:
        """The data as a local source, when it is one (reports check it row by row)."""
        return self.data.local

    def _read(self, name: str) -> DataFrame:
        with spark_errors(f"dataset {name}"):
            return self.data.read(name)

    def columns(self, dataset: str) -> frozenset[str] | None:
        if not self.data.has(dataset):
            return None
        with spark_errors(f"dataset {dataset}"):
            return frozenset(self.data.read(dataset).columns)

    def where(self, dataset: str) -> str:
        return self.data.where(dataset)

    def reference(self, dataset: str) -> pl.DataFrame | None:
        if not self.data.has(dataset):
            return None
        with spark_errors(f"dataset {dataset}"):
            return to_polars(self.data.read(dataset))

    @cached_property
    def _workdays(self) -> str:
        return workday_map_sql(workday_index(self.reference("calendar")))

    def collect(self, plans: Sequence[Plan]) -> list[pl.DataFrame]:
        frames = []
        for plan in plans:
            with spark_errors("cannot evaluate"):
                frames.append(to_polars(self._frame(plan)))
        return frames

    def _frame(self, plan: Plan) -> DataFrame:
        return translated(plan, self.translator)

    def latest(
        self, dataset: str, columns: Sequence[str], untils: Sequence[dt.date]
    ) -> list[dt.date | None]:
        """The latest date in any of `columns` up to each of `untils` (the data's as-of
        date, its end), in one scan."""
        if not self.data.has(dataset) or not columns:
            return [None] * len(untils)
        days = [F.to_date(F.col(column)) for column in columns]

        def latest_until(until: dt.date) -> Column:
            kept = [F.when(day <= F.lit(until), day) for day in days]
            return F.max(kept[0] if len(kept) == 1 else F.greatest(*kept))  # nulls skipped

        with spark_errors(f"dataset {dataset}"):
            rows = self.data.read(dataset).select(*map(latest_until, untils)).collect()
        return list(rows[0]) if rows else [None] * len(untils)

    def query(self, sql: str, *, limit: int | None = None, masked: bool = False) -> pl.DataFrame:
        """Spark SQL over every available dataset (a view named as in datasets.md); with
        `masked`, each view's personal data is masked before the query reads it."""
        for name in DATASETS:
            if self.data.has(name):
                with spark_errors(f"dataset {name}"):
                    frame = self.data.read(name)
                    (masked_frame(frame) if masked else frame).createOrReplaceTempView(name)
        try:
            frame = self.data.spark.sql(sql)
        except SparkErrors as exc:
            raise UsageError(f"query: {first_line(exc)}") from None
        if limit is not None:
            frame = frame.limit(limit)
        with spark_errors("query"):
            return to_polars(frame)
