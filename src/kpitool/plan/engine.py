"""What an engine offers the engine-neutral layers: the data it reads and plans it runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, TypeVar

import polars as pl

from kpitool.data.catalogue import DataSource
from kpitool.plan.steps import Listing, Plan, Scoped, Summed

__all__ = ["Engine", "Translator", "translated"]

T_co = TypeVar("T_co", covariant=True)


class Translator(Protocol[T_co]):
    """An engine's translation of each kind of plan into its own frame type."""

    def summed(self, plan: Summed) -> T_co: ...

    def scoped(self, plan: Scoped) -> T_co: ...

    def listing(self, plan: Listing) -> T_co: ...


def translated(plan: Plan, translator: Translator[T_co]) -> T_co:
    """A plan in the translator's frame type."""
    if isinstance(plan, Summed):
        return translator.summed(plan)
    if isinstance(plan, Scoped):
        return translator.scoped(plan)
    if isinstance(plan, Listing):
        return translator.listing(plan)
    raise TypeError(f"unknown plan {plan!r}")


class Engine(Protocol):
    """An engine translates neutral plans (`kpitool.plan.steps`) and runs them on its data;
    only small results (sums, exception rows) come back, as Polars frames."""

    name: str
    buckets: int
    """Into how many disjoint sets of keys bucketable entities are split (1: not at all)."""
    month_by_month: bool
    """Whether entities grouped anew each month are measured one month at a time."""

    @property
    def root(self) -> str:
        """Where the data is, for messages."""
        ...

    def columns(self, dataset: str) -> frozenset[str] | None:
        """A dataset's column names, None when the data has no such dataset."""
        ...

    def where(self, dataset: str) -> str:
        """The file or folder a dataset is read from, for messages."""
        ...

    def reference(self, dataset: str) -> pl.DataFrame | None:
        """A small dataset (targets, branches, calendar …) in full, None when absent."""
        ...

    @property
    def local(self) -> DataSource | None:
        """The data as a local source, when it is one (reports check it row by row)."""
        ...

    def collect(self, plans: Sequence[Plan]) -> list[pl.DataFrame]:
        """Run the plans, one after another, and bring their (small) results back."""
        ...

    def latest(
        self, dataset: str, columns: Sequence[str], untils: Sequence[dt.date]
    ) -> list[dt.date | None]:
        """The latest date in any of a dataset's `columns` up to each of `untils` (None:
        no such row), in one scan."""
        ...

    def query(self, sql: str, *, limit: int | None = None, masked: bool = False) -> pl.DataFrame:
        """One ad-hoc SQL query over the datasets (tables named as in datasets.md); with
        `masked`, personal data is masked in the tables before the query reads them."""
        ...
