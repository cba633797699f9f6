"""The Polars engine: neutral plans run as lazy frames on Polars' streaming engine.

Plans are collected one after another (`kpitool.polars.streaming`); a value that does not
parse is reported with the file, row and column it came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import polars as pl

from kpitool.data.catalogue import DataSource
from kpitool.log import logger
from kpitool.plan.engine import translated
from kpitool.plan.steps import Listing, Plan, Summed
from kpitool.plan.workdays import workday_index
from kpitool.polars.entities import MIXED
from kpitool.polars.query import run_query
from kpitool.polars.streaming import collect, diagnose
from kpitool.polars.translate import Translator

__all__ = ["PolarsEngine"]

ENTITY_BUCKETS = 4
"""Entities (19.5 M old customers in a provincial year) are grouped in this many disjoint
sets of keys, one after another: a quarter of the hash table each, and faster (cache-sized)."""


class PolarsEngine:
    """Plans over a local data source (a folder in canonical layout or a catalogue)."""

    name = "polars"
    buckets = ENTITY_BUCKETS
    month_by_month = True

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.translator = Translator(source, lambda: self._workdays)
        self._columns: dict[str, frozenset[str] | None] = {}

    @property
    def root(self) -> str:
        return str(self.source.root)

    @property
    def local(self) -> DataSource:
        """The data as a local source (reports check it row by row)."""
        return self.source

    def columns(self, dataset: str) -> frozenset[str] | None:
        if dataset not in self._columns:
            found = None
            if self.source.has(dataset):
                found = frozenset(self.translator.scan(dataset).collect_schema().names())
            self._columns[dataset] = found
        return self._columns[dataset]

    def where(self, dataset: str) -> str:
        files = self.source.files(dataset)
        return str(files[0] if len(files) == 1 else self.source.root / dataset)

    def reference(self, dataset: str) -> pl.DataFrame | None:
        if not self.source.has(dataset):
            return None
        try:
            return self.translator.scan(dataset).collect()
        except pl.exceptions.PolarsError as exc:
            raise diagnose(self.source, {dataset}, exc) from None

    @cached_property
    def _workdays(self) -> dict[Any, int]:
        return workday_index(self.reference("calendar"))

    def lazy(self, plan: Plan) -> pl.LazyFrame:
        """A plan as a lazy frame (not collected)."""
        return translated(plan, self.translator)

    def collect(self, plans: Sequence[Plan]) -> list[pl.DataFrame]:
        """The plans' frames; summed entities grouped by their keys' hashes, and a plan
        whose hashes joined two keys (`entities.MIXED`) run again on the keys."""
        lazy = [self._hashed(plan) for plan in plans]
        datasets = [set(p.population.datasets) for p in plans]
        # lists are small: those over the same rows are built together; measures one by one
        shared = [p.population if isinstance(p, Listing) else None for p in plans]
        frames = collect(lazy, self.source, datasets, shared)
        return [self._exact(plan, frame) for plan, frame in zip(plans, frames, strict=True)]

    def _hashed(self, plan: Plan) -> pl.LazyFrame:
        if isinstance(plan, Summed):
            return self.translator.summed(plan, hash_keys=True)
        return self.lazy(plan)

    def _exact(self, plan: Plan, frame: pl.DataFrame) -> pl.DataFrame:
        if MIXED not in frame.columns:
            return frame
        if not frame[MIXED].sum():
            return frame.drop(MIXED)
        names = ", ".join(part.name for part in plan.parts) if isinstance(plan, Summed) else ""
        logger.info("%s: two keys share a hash; grouped again by the keys", names)
        return collect([self.lazy(plan)], self.source, [set(plan.population.datasets)], [None])[0]

    def latest(
        self, dataset: str, columns: Sequence[str], untils: Sequence[dt.date]
    ) -> list[dt.date | None]:
        """The latest date in any of `columns` up to each of `untils` (the data's as-of
        date, its end), in one scan."""
        if not self.source.has(dataset) or not columns:
            return [None] * len(untils)
        days = [pl.col(column).cast(pl.Date) for column in columns]
        maxima = [
            pl.max_horizontal(pl.when(day <= until).then(day) for day in days).max().alias(str(i))
            for i, until in enumerate(untils)
        ]
        row = self.translator.scan(dataset).select(maxima).collect().row(0)
        return list(row)

    def query(self, sql: str, *, limit: int | None = None, masked: bool = False) -> pl.DataFrame:
        """Polars SQL over every available dataset (a table named as in datasets.md)."""
        return run_query(sql, self.source, limit=limit, masked=masked)
