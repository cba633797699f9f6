"""Reporting periods: a calendar month and the date windows rules are evaluated over."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from kpitool.errors import UsageError

__all__ = ["Month", "Window", "WindowKind", "parse_month"]

WindowKind = Literal["month", "quarter", "ytd", "asof", "rolling_24m"]
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Window:
    """A closed date range [start, end]; start None means 'from the beginning' (as-of)."""

    start: dt.date | None
    end: dt.date


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, the unit every report and evaluation is made for."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise UsageError(f"month {self.year}-{self.month:02d}: month must be 01..12")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    @property
    def quarter_first_day(self) -> dt.date:
        return dt.date(self.year, 3 * ((self.month - 1) // 3) + 1, 1)

    @property
    def year_first_day(self) -> dt.date:
        return dt.date(self.year, 1, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def same_month_last_year(self) -> Month:
        return Month(self.year - 1, self.month)

    def months_of_year_to_date(self) -> list[Month]:
        return [Month(self.year, m) for m in range(1, self.month + 1)]

    def window(self, kind: WindowKind) -> Window:
        """The date range a rule with this window covers when evaluated for this month."""
        if kind == "month":
            return Window(self.first_day, self.last_day)
        if kind == "quarter":
            return Window(self.quarter_first_day, self.last_day)
        if kind == "ytd":
            return Window(self.year_first_day, self.last_day)
        if kind == "asof":
            return Window(None, self.last_day)
        if kind == "rolling_24m":
            # (period end - 24 months, period end]: the day after the same day 24 months back.
            back = self.shift(-24)
            return Window(back.last_day + dt.timedelta(days=1), self.last_day)
        raise ValueError(f"unknown window kind {kind!r}")


def parse_month(text: str, *, today: dt.date | None = None) -> Month:
    """Parse `YYYY-MM` or `last` (the calendar month before today)."""
    text = text.strip()
    if text == "last":
        today = today or dt.date.today()
        return Month(today.year, today.month).previous()
    match = _MONTH_RE.match(text)
    if not match:
        raise UsageError(f"--month {text!r}: expected YYYY-MM (e.g. 2015-03) or 'last'")
    if not 1901 <= int(match.group(1)) <= 9998:  # a report also reads the year before
        raise UsageError(f"--month {text!r}: the year must be between 1901 and 9998")
    return Month(int(match.group(1)), int(match.group(2)))
