"""How fresh the data is for a period: each fact dataset's latest date, whether it reaches
the period's end, and whether the period has any fact row at all (cli.md "Freshness")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kpitool.errors import DataError
from kpitool.measure import cached
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period

__all__ = ["EVENT_DATES", "Freshness", "Latest", "freshness", "require_data"]

EVENT_DATES: dict[str, tuple[str, ...]] = {
    "counter_visits": ("arrived_at",),
    "policies": ("applied_at",),
    "claims": ("reported_at",),
    "callbacks": ("called_at",),
    "complaints": ("received_at",),
    "inspections": ("inspected_on",),
    "renewals": ("due_date",),
    "lapse_cleanup": ("phone_called_at", "visited_at", "completed_at"),
    "customer_info": ("collected_at",),
}
"""The dates a fact dataset's rows happen on, the latest of them counting (appraisals carry
a period label, no date). A dataset whose rows have none of these dates is left out."""
_END = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Latest:
    """One fact dataset: its latest date up to the period's end and overall."""

    dataset: str
    column: str
    """The date column (or columns, comma-separated) read."""
    latest: dt.date | None
    """The latest date up to the period's end (None: no row up to then)."""
    ends: dt.date | None
    """The latest date in the whole extract."""
    stale: bool


@dataclass(frozen=True)
class Freshness:
    """Every present fact dataset's latest date for a period, and which are stale."""

    period: str
    first_day: dt.date
    last_day: dt.date
    stale_days: int
    datasets: tuple[Latest, ...]

    @property
    def stale(self) -> tuple[Latest, ...]:
        return tuple(d for d in self.datasets if d.stale)

    @property
    def empty(self) -> bool:
        """No fact dataset has a row in the period."""
        return not any(d.latest is not None and d.latest >= self.first_day for d in self.datasets)

    @property
    def extracts_end(self) -> dt.date | None:
        days = [d.ends for d in self.datasets if d.ends is not None]
        return max(days) if days else None


def freshness(engine: Engine, month: Period, stale_days: int = 3) -> Freshness:
    """Each fact dataset's latest date; stale when it ends more than `stale_days` before the
    month's last day, or has no row in the month."""
    if stale_days < 0:
        raise DataError(f"--stale-days {stale_days}: expected 0 or more")
    found = []
    for name, wanted in EVENT_DATES.items():
        present = engine.columns(name) or frozenset()
        columns = [c for c in wanted if c in present]
        ends, latest = cached.latest(engine, name, columns, (_END, month.last_day))
        if ends is None:
            continue
        stale = (
            latest is None
            or latest < month.first_day
            or (month.last_day - latest).days > stale_days
        )
        found.append(Latest(name, ", ".join(columns), latest, ends, stale))
    return Freshness(str(month), month.first_day, month.last_day, stale_days, tuple(found))


def require_data(found: Freshness, *, allow_empty: bool, require_fresh: bool) -> None:
    """Refuse a period without fact rows (unless `allow_empty`), and stale data when
    `require_fresh`: DataError, so nothing is written."""
    if found.empty and not allow_empty:
        ends = found.extracts_end
        where = f"the extracts end {ends}" if ends else "the extracts have no dated rows"
        raise DataError(f"no data for {found.period}: {where} (--allow-empty writes it anyway)")
    if require_fresh and found.stale:
        first = found.stale[0]
        said = f"latest {first.latest}" if first.latest else "no row up to then"
        raise DataError(
            f"stale data for {found.period}: {first.dataset}.{first.column} {said}, "
            f"period ends {found.last_day} (--stale-days {found.stale_days}; "
            f"{len(found.stale)} dataset(s) stale)"
        )
