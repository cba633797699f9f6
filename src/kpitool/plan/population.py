"""A rule's population as neutral steps, for many periods in one plan.

Every row is joined to the evaluated periods it counts in (its window: the month itself, the
quarter or year to date, as-of, or the last 24 months), carrying the period's dates as
columns; parameters such as `:period_end` read those columns, so one plan serves every
period, and grouping by `__period` splits them again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kpitool.plan.analysis import branch_of_a_row, entities_by_year, uses_parameters
from kpitool.plan.periods import Period
from kpitool.plan.steps import (
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
    MonthIndex,
    PeriodDates,
    Population,
    Scan,
    Step,
)
from kpitool.rules.model import PeriodSpec, Rule, WindowKind

__all__ = [
    "PARAM_COLUMNS",
    "PERIOD_COLUMNS",
    "PERIOD_DATES",
    "WINDOW_START",
    "Deadlines",
    "Missing",
    "Source",
    "by_day",
    "monthly_rows",
    "periods_table",
    "population",
]

PERIOD_COLUMNS = (
    PERIOD,
    "__pm",
    "__lo_quarter",
    "__lo_ytd",
    "__lo_rolling_24m",
    "__lo_month",
    "__year",
    "__period_start",
    "__period_end",
    "__quarter_start",
    "__year_start",
    "__from_quarter",
    "__from_rolling_24m",
    "__month",
)
"""The periods table's columns, which every population row carries after `InPeriods`:
month indexes for the coarse join of a row's month, dates for a period of days."""
PERIOD_DATES = (
    PERIOD,
    "__year",
    "__period_start",
    "__period_end",
    "__quarter_start",
    "__year_start",
)
"""The columns `PeriodDates` joins back after entities were grouped."""

PARAM_COLUMNS: dict[str, str] = {
    "month": "__month",
    "year": "__year",
    "period_start": "__period_start",
    "period_end": "__period_end",
    "quarter_start": "__quarter_start",
    "year_start": "__year_start",
}
"""Each rule parameter (`:period_end` …) → the periods table's column holding its value;
`:month` is the month of the period's end (`YYYY-MM`, appraisals' period)."""

WINDOW_START: dict[str, str | None] = {
    "month": "__period_start",
    "quarter": "__from_quarter",
    "ytd": "__year_start",
    "rolling_24m": "__from_rolling_24m",
    "asof": None,
}
"""The periods table's column where each window starts (as-of windows have no start)."""

Deadlines = Callable[[str], tuple[Inline, dt.date | None]]
"""rule id → (branch_id → deadline table, the default deadline) from the targets rows."""


class Missing(Exception):
    """A dataset a rule needs is absent: the rule is n/a with this reason."""


@dataclass(frozen=True)
class Source:
    """What the plan needs to know of the data: which datasets exist, with which columns."""

    columns: Callable[[str], frozenset[str] | None]
    """A dataset's column names, None when the data has no such dataset."""
    deadlines: Deadlines

    def require(self, name: str) -> frozenset[str]:
        found = self.columns(name)
        if found is None:
            raise Missing(f"dataset missing: {name}")
        return found


def _index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def periods_table(periods: Sequence[Period]) -> Inline:
    """One row per evaluated period: its label, month indexes, window bounds and dates."""
    rows = []
    for p in sorted(set(periods)):
        quarter, rolling = p.window("quarter").start, p.window("rolling_24m").start
        assert quarter is not None and rolling is not None
        rows.append(
            (
                str(p),
                _index(p.end),
                _index(quarter),
                _index(p.year_first_day),
                _index(rolling),
                _index(p.start),
                str(p.year),
                p.start,
                p.end,
                p.quarter_first_day,
                p.year_first_day,
                quarter,
                rolling,
                f"{p.year:04d}-{p.month:02d}",
            )
        )
    kinds = ("str", *("int",) * 5, "str", *("date",) * 6, "str")
    return Inline(tuple(zip(PERIOD_COLUMNS, kinds, strict=True)), tuple(rows))  # type: ignore[arg-type]


def by_day(periods: Sequence[Period]) -> bool:
    """Whether some period is not a calendar month, so windows end (or start) mid-month."""
    return not all(p.is_calendar_month for p in periods)


def _bounds(
    window: WindowKind, months: Sequence[Period]
) -> tuple[tuple[dt.date | None, dt.date], ...]:
    """The dates the months' windows hold, as few closed ranges (overlapping or adjacent
    windows merged)."""
    windows = sorted(
        ((w.start, w.end) for m in months for w in [m.window(window)]),
        key=lambda r: (r[0] or dt.date.min, r[1]),
    )
    merged: list[tuple[dt.date | None, dt.date]] = []
    for start, end in windows:
        if merged and (start is None or start <= merged[-1][1] + dt.timedelta(days=1)):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


class _Builder:
    """Steps appended in order, with the columns they leave."""

    def __init__(self, source: Source, months: Sequence[Period]) -> None:
        self.source = source
        self.months = list(months)
        self.steps: list[Step] = []
        self.columns: set[str] = set()
        self.datasets: set[str] = set()

    def scan(self, name: str) -> None:
        self.columns = set(self.source.require(name))
        self.datasets.add(name)
        self.steps.append(Scan(name))

    def keep_dates(self, spec: PeriodSpec) -> None:
        self.steps.append(KeepDates(spec.date, _bounds(spec.window, self.months)))

    def add(self, step: Step, *new: str) -> None:
        self.steps.append(step)
        self.columns |= set(new)

    def in_periods(self, spec: PeriodSpec | None) -> None:
        if spec is not None:
            self.keep_dates(spec)
        window = spec.window if spec else "month"
        self.add(InPeriods(spec.date if spec else None, window, by_day(self.months)))
        self.columns |= set(PERIOD_COLUMNS)

    def covered(self, rule: Rule, bucket: tuple[int, int] | None) -> None:
        facts = rule.measure.facts
        assert facts is not None and facts.key is not None
        sub = _Builder(self.source, self.months)
        sub.scan(facts.dataset or rule.dataset)
        if bucket is not None and rule.entities is not None:
            sub.add(InBucket(facts.key, *bucket))  # facts of the bucket's keys only
        sub.in_periods(facts.period)
        if facts.where:
            sub.add(Filter(facts.where))
        self.datasets |= sub.datasets
        self.add(Covered(sub.build(), facts.key), "covered")

    def build(self) -> Population:
        return Population(
            tuple(self.steps),
            periods_table(self.months),
            frozenset(self.columns),
            frozenset(self.datasets),
        )


def _prepared(rule: Rule, b: _Builder, period: PeriodSpec | None) -> None:
    """The dataset's rows with the rule's lookups, deadline and period-free columns; rows
    dated outside every period's window are dropped first."""
    b.scan(rule.dataset)
    if any("working_days_between" in text.lower() for text in rule.expressions().values()):
        b.source.require("calendar")
        b.datasets.add("calendar")
    added = {"deadline", *rule.columns}
    added |= {n for lookup in rule.lookups for n in (*lookup.columns, lookup.exists) if n}
    if period is not None and period.date in b.columns and period.date not in added:
        b.keep_dates(period)
    base = set(b.columns)
    for lookup in rule.lookups:
        b.source.require(lookup.dataset)
        b.datasets.add(lookup.dataset)
        narrow = set(lookup.keys) <= base
        flag = [lookup.exists] if lookup.exists else []
        b.add(ApplyLookup(lookup, narrow), *lookup.columns, *flag)
    if rule.deadline is not None:
        table, default = b.source.deadlines(rule.deadline.rule)
        b.add(JoinTable(table, "branch_id", {"deadline": default}), "deadline")
    for name, text in rule.columns.items():
        if not uses_parameters(text):
            b.add(Derive(name, text), name)


def monthly_rows(rule: Rule, source: Source, months: Sequence[Period]) -> Population:
    """The rows of a dated rule that reads no period parameter, unfiltered by its `where`,
    each with its calendar month's index (`__m`) but not joined to the periods: sums per
    calendar month add up to any window's sums without repeating rows."""
    assert rule.period is not None
    b = _Builder(source, months)
    _prepared(rule, b, rule.period)
    b.keep_dates(rule.period)
    b.add(MonthIndex(rule.period.date), MONTH_INDEX)
    return b.build()


def population(
    rule: Rule,
    source: Source,
    months: Sequence[Period],
    *,
    period: PeriodSpec | None = None,
    bucket: tuple[int, int] | None = None,
    branches: Sequence[str] = (),
) -> Population:
    """The rows a rule measures, each tagged with the period (`__period`) it counts in;
    `period` overrides the rule's (an exception list's own window); `bucket` (i, n) keeps
    the entities whose key hashes to i mod n; `branches` (a listing's) lets entities be
    grouped from the rows of the keys that have a row in one of them (a superset of theirs)."""
    period = period or rule.period
    yearly = entities_by_year(rule)
    b = _Builder(source, months)
    _prepared(rule, b, period)
    if bucket is not None and rule.entities is not None:
        b.add(InBucket(rule.entities.key, *bucket))
    if yearly:
        b.add(InYears(), "__year", "__year_start")
    else:
        b.in_periods(period)
    if rule.measure.kind == "coverage" and rule.entities is None:
        b.covered(rule, bucket)
    for name, text in rule.columns.items():
        if uses_parameters(text):
            b.add(Derive(name, text), name)
    if rule.where:
        b.add(Filter(rule.where))
    if rule.entities is not None:
        if branches and branch_of_a_row(rule):
            b.add(KeysWith(rule.entities.key, "branch_id", tuple(sorted(set(branches)))))
        _entities(rule, b, yearly, bucket)
    for name, text in rule.window_columns.items():
        b.add(Derive(name, text), name)
    return b.build()


def _entities(rule: Rule, b: _Builder, yearly: bool, bucket: tuple[int, int] | None) -> None:
    entities = rule.entities
    assert entities is not None
    by = "__year" if yearly else PERIOD
    b.add(Entities(entities.key, by, tuple(entities.columns.items())))
    b.columns = {entities.key, by, *entities.columns}
    b.add(PeriodDates(by), *PERIOD_DATES)
    if rule.measure.kind == "coverage":
        b.covered(rule, bucket)
    if entities.where:
        b.add(Filter(entities.where))
