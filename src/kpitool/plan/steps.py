"""The engine-neutral plan: what a rule's population and measurement are, as plain data.

A `Population` is a list of steps from a dataset's scan to the rows (or entities) a rule
measures, each tagged with the period it counts in; `Summed`, `Scoped` and `Listing` say what
to compute on it. The Polars and Spark engines each translate these few step kinds and
nothing else, so both always do the same thing in the same order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kpitool.rules.model import Lookup, WindowKind

__all__ = [
    "BRANCH_ROWS",
    "MONTH_INDEX",
    "PERIOD",
    "ApplyLookup",
    "Covered",
    "Derive",
    "Entities",
    "Filter",
    "InBucket",
    "InPeriods",
    "InYears",
    "Inline",
    "JoinTable",
    "KeepDates",
    "KeysWith",
    "Listing",
    "MonthIndex",
    "Part",
    "PeriodDates",
    "Plan",
    "Population",
    "Scan",
    "Scoped",
    "Step",
    "Summed",
    "Term",
]

PERIOD = "__period"
"""The column holding the label of the period a row counts in."""
MONTH_INDEX = "__m"
"""A row's calendar month as year * 12 + month - 1."""

ColumnKind = Literal["str", "int", "date"]


@dataclass(frozen=True)
class Inline:
    """A small table written into the plan (periods, deadlines): built by each engine on its
    own side (a Polars frame, a Spark `VALUES` relation), never shipped as Python objects."""

    schema: tuple[tuple[str, ColumnKind], ...]
    rows: tuple[tuple[Any, ...], ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.schema]

    def column(self, name: str) -> list[Any]:
        index = self.names.index(name)
        return [row[index] for row in self.rows]


@dataclass(frozen=True)
class Scan:
    """Read a dataset with its canonical columns."""

    dataset: str


@dataclass(frozen=True)
class KeepDates:
    """Keep the rows whose `column` lies in one of `ranges` ([start, end], start None: no lower
    bound): plain bounds a scan can push into the files, so fewer rows reach the joins. A
    month and the same month last year are two ranges, not the thirteen months between."""

    column: str
    ranges: tuple[tuple[dt.date | None, dt.date], ...]


@dataclass(frozen=True)
class ApplyLookup:
    """Join a declared lookup (copied columns, exists flags, exists with `match`). With
    `narrow`, the other dataset is first cut to the keys the rows hold; on duplicate keys the
    first row in file order is copied."""

    lookup: Lookup
    narrow: bool


@dataclass(frozen=True)
class JoinTable:
    """Left-join a small table on `on`, filling its columns where it has no row."""

    table: Inline
    on: str
    fill: Mapping[str, Any]


@dataclass(frozen=True)
class Derive:
    """Add a column computed by a rule expression (windows are per period)."""

    name: str
    expr: str


@dataclass(frozen=True)
class Filter:
    """Keep the rows where a rule expression holds."""

    expr: str


@dataclass(frozen=True)
class InBucket:
    """Keep the rows whose `key` hashes to `index` mod `count` (one disjoint set of entities)."""

    key: str
    index: int
    count: int


@dataclass(frozen=True)
class InPeriods:
    """Join each row to the periods whose window holds its `date` (every period when None),
    adding the periods table's columns."""

    date: str | None
    window: WindowKind
    by_day: bool = False
    """Periods of days (not calendar months): rows are then also kept by their date within
    each period's window (`__from_<window>` .. `__period_end`)."""


@dataclass(frozen=True)
class InYears:
    """Join each row to the years of the periods (`__year`, `__year_start`)."""


@dataclass(frozen=True)
class MonthIndex:
    """Add the calendar month index of `date` (`__m`), for sums per calendar month."""

    date: str


@dataclass(frozen=True)
class Covered:
    """Flag `covered`: a row of `facts` holds the same `key` in the same period."""

    facts: Population
    key: str


@dataclass(frozen=True)
class Entities:
    """Group the rows into one row per (key, `by`) with aggregate expressions as columns."""

    key: str
    by: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PeriodDates:
    """Join the periods table's dates on `by` (after entities were grouped by it)."""

    by: str


@dataclass(frozen=True)
class KeysWith:
    """Keep every row of the keys that have a row whose `column` is one of `values`: the
    rows of the entities one branch can have, before they are grouped (one branch's old
    customers need its holders' rows, not all 19.5 M)."""

    key: str
    column: str
    values: tuple[str, ...]


Step = (
    Scan
    | KeepDates
    | ApplyLookup
    | JoinTable
    | Derive
    | Filter
    | InBucket
    | InPeriods
    | InYears
    | MonthIndex
    | Covered
    | KeysWith
    | Entities
    | PeriodDates
)


@dataclass(frozen=True)
class Population:
    """The steps from a scan to the rows a rule measures, and what they read."""

    steps: tuple[Step, ...]
    periods: Inline
    columns: frozenset[str]
    """The columns of the result (canonical, looked up, derived and period columns)."""
    datasets: frozenset[str]


@dataclass(frozen=True)
class Term:
    """How a row adds to a figure: `rows` counts it, `sum` adds `expr`, `true` counts it when
    `expr` holds, `known` counts it when `expr` is not null, `distinct` counts the distinct
    non-null values of `expr` (where `where` holds)."""

    how: Literal["rows", "sum", "true", "known", "distinct"]
    expr: str | None = None
    where: str | None = None


@dataclass(frozen=True)
class Part:
    """The figures of a rule (or of a ratio's denominator), over the rows `mask` keeps."""

    name: str
    figures: Mapping[str, Term]
    mask: str | None = None


@dataclass(frozen=True)
class Summed:
    """Each part's figures summed per period and finest grain (`grains` columns), with a row
    count per part (`<part>:__rows`); with `monthly`, summed per calendar month first and the
    window's months added up (no row repeated for every period it counts in)."""

    population: Population
    parts: tuple[Part, ...]
    grains: tuple[str, ...]
    monthly: WindowKind | None = None


@dataclass(frozen=True)
class Scoped:
    """A part's `numerator` and `denominator` per (period, scope, scope_id), measured per
    scope: for figures that do not add up across grains (distinct counts)."""

    population: Population
    part: Part
    scopes: tuple[tuple[str, str | None], ...]
    """(scope, its grain column); None for the company."""


@dataclass(frozen=True)
class Listing:
    """Rows of a population: filtered by `where`, or grouped by `group_by` (a `count` column,
    the least `branch_id`) where `having` holds; then `columns` (in the rows' own order with
    `in_frame_order`), `branches`, sorted by `first_by` then the columns, `limit`. With
    `per_branch`, the first rows of each branch only, each with `BRANCH_ROWS`: how many rows
    its branch has (one plan lists every branch's drill-down)."""

    population: Population
    columns: tuple[str, ...]
    in_frame_order: bool = False
    where: str | None = None
    group_by: tuple[str, ...] = ()
    having: str | None = None
    branches: tuple[str, ...] = ()
    limit: int | None = None
    per_branch: int | None = None
    first_by: tuple[tuple[str, bool], ...] = ()
    """(column, descending) the rows are sorted by before the listed columns."""


BRANCH_ROWS = "__branch_rows"
"""A `per_branch` listing's column: the rows its branch has before the cut."""


Plan = Summed | Scoped | Listing
