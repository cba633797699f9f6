"""Reporting periods (periods.md): a day's month to date, an ISO week, a month, a quarter, a
year or any range of days, and the date windows rules are evaluated over for each.

`Period` is the one type; `Month` is the period of a calendar month (`Month(2015, 3)`),
which reports, trends and monthly sums are built from.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Literal

from kpitool.errors import UsageError

__all__ = [
    "PERIOD_FORMS",
    "Month",
    "Period",
    "PeriodKind",
    "Window",
    "WindowKind",
    "parse_month",
    "parse_period",
    "trend_periods",
]

WindowKind = Literal["month", "quarter", "ytd", "asof", "rolling_24m"]
PeriodKind = Literal["day", "week", "month", "quarter", "year", "range"]
PERIOD_FORMS = (
    "2015-03 (month), 2015-04-17 (month to that day), 2015-W16 (ISO week), 2015-Q1, 2015, "
    "2015-01-05..2015-02-20 (range), last, yesterday, last-week, last-quarter, last-year"
)
_ONE = dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """A closed date range [start, end]; start None means 'from the beginning' (as-of)."""

    start: dt.date | None
    end: dt.date


def _shift_day(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clipped to the month's length (29 Feb →
    28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _month_end(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _iso_week(year: int, week: int) -> tuple[dt.date, dt.date]:
    monday = dt.date.fromisocalendar(year, week, 1)
    return monday, monday + dt.timedelta(days=6)


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Period:
    """A closed range of days with the kind it was asked as (which names it and says what
    its previous and same-last-year periods are)."""

    start: dt.date
    end: dt.date
    kind: PeriodKind = "range"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise UsageError(f"period {self.start}..{self.end}: the end is before the start")

    @staticmethod
    def of(start: dt.date, end: dt.date, kind: PeriodKind) -> Period:
        """A period of a kind (a calendar month as `Month`)."""
        return Month(end.year, end.month) if kind == "month" else Period(start, end, kind)

    def _key(self) -> tuple[dt.date, dt.date, str]:
        return (self.start, self.end, self.kind)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Period) and self._key() == other._key()

    def __lt__(self, other: Period) -> bool:
        return (self.end, self.start, self.kind) < (other.end, other.start, other.kind)

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Period({self.label!r})"

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The period's name in results and output folders (periods.md)."""
        e = self.end
        if self.kind == "day":
            return e.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year:04d}-W{week:02d}"
        if self.kind == "month":
            return f"{e.year:04d}-{e.month:02d}"
        if self.kind == "quarter":
            return f"{e.year:04d}-Q{(e.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{e.year:04d}"
        return f"{self.start.isoformat()}..{e.isoformat()}"

    @property
    def first_day(self) -> dt.date:
        return self.start

    @property
    def last_day(self) -> dt.date:
        return self.end

    @property
    def year(self) -> int:
        return self.end.year

    @property
    def month(self) -> int:
        return self.end.month

    @property
    def quarter_first_day(self) -> dt.date:
        return _quarter_start(self.end)

    @property
    def year_first_day(self) -> dt.date:
        return dt.date(self.end.year, 1, 1)

    @property
    def is_calendar_month(self) -> bool:
        return self.kind == "month"

    def window(self, kind: WindowKind) -> Window:
        """The date range a rule with this window covers when evaluated for this period."""
        if kind == "month":
            return Window(self.start, self.end)
        if kind == "quarter":
            return Window(_quarter_start(self.start), self.end)
        if kind == "ytd":
            return Window(self.year_first_day, self.end)
        if kind == "asof":
            return Window(None, self.end)
        if kind == "rolling_24m":
            # (period end - 24 months, period end]
            return Window(_shift_day(self.end, -24) + _ONE, self.end)
        raise ValueError(f"unknown window kind {kind!r}")

    def months(self) -> list[Month]:
        """The calendar months the period touches."""
        first = Month(self.start.year, self.start.month)
        count = (self.end.year - first.year) * 12 + self.end.month - first.month
        return [first.shift(i) for i in range(count + 1)]

    def months_of_year_to_date(self) -> list[Month]:
        return [Month(self.end.year, m) for m in range(1, self.end.month + 1)]

    def previous(self) -> Period:
        """The period before of the same kind (the previous day's month to date for a day)."""
        if self.kind == "day":
            day = self.end - _ONE
            return Period(day.replace(day=1), day, "day")
        if self.kind == "week":
            return Period(
                self.start - dt.timedelta(days=7), self.end - dt.timedelta(days=7), "week"
            )
        if self.kind == "quarter":
            start = _shift_day(self.start, -3)
            return Period(start, _month_end(_shift_day(start, 2)), "quarter")
        if self.kind == "year":
            return Period(
                dt.date(self.end.year - 1, 1, 1), dt.date(self.end.year - 1, 12, 31), "year"
            )
        length = self.end - self.start + _ONE
        return Period(self.start - length, self.start - _ONE, "range")

    def same_period_last_year(self) -> Period:
        """The period shifted back one year (29 February → 28 February; the same ISO week
        number, or the last week of a year without a week 53)."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            weeks = dt.date(year - 1, 12, 28).isocalendar()[1]
            return Period(*_iso_week(year - 1, min(week, weeks)), "week")
        if self.kind in ("quarter", "year"):
            start = _shift_day(self.start, -12)
            return Period(start, _month_end(_shift_day(self.end, -12)), self.kind)
        end = _shift_day(self.end, -12)
        if self.kind == "day":
            return Period(end.replace(day=1), end, "day")
        return Period(_shift_day(self.start, -12), end, "range")

    def same_month_last_year(self) -> Period:
        return self.same_period_last_year()

    def parts(self, unit: Literal["month", "quarter"]) -> list[Period]:
        """The calendar months or quarters the period touches, each clipped to it (a whole
        month as `Month`)."""
        step = 1 if unit == "month" else 3
        first = self.start.replace(day=1) if unit == "month" else _quarter_start(self.start)
        found: list[Period] = []
        while first <= self.end:
            last = _month_end(_shift_day(first, step - 1))
            start, end = max(first, self.start), min(last, self.end)
            whole = (start, end) == (first, last)
            kind: PeriodKind = ("month" if unit == "month" else "quarter") if whole else "range"
            found.append(Period.of(start, end, kind))
            first = last + _ONE
        return found

    def sub_periods(self, unit: Literal["month", "week", "day"] = "month") -> list[Period]:
        """The periods a trend of this one shows: its months, weeks (ISO, clipped to it) or
        days; a day's month to date by day."""
        if unit == "month":
            return list(self.months())
        if unit == "day":
            count = (self.end - self.start).days + 1
            days = [self.start + dt.timedelta(days=i) for i in range(count)]
            return [Period(d, d, "range") for d in days]
        weeks: list[Period] = []
        monday = self.start - dt.timedelta(days=self.start.weekday())
        while monday <= self.end:
            start, end = max(monday, self.start), min(monday + dt.timedelta(days=6), self.end)
            whole = start == monday and end == monday + dt.timedelta(days=6)
            weeks.append(Period(start, end, "week" if whole else "range"))
            monday += dt.timedelta(days=7)
        return weeks


class Month(Period):
    """A calendar month, the unit monthly sums, trends and reports are built from."""

    def __init__(self, year: int, month: int) -> None:
        if not 1 <= month <= 12:
            raise UsageError(f"month {year}-{month:02d}: month must be 01..12")
        if not 1901 <= year <= 9998:
            raise UsageError(
                f"month {year:04d}-{month:02d}: the year must be between 1901 and 9998"
            )
        start = dt.date(year, month, 1)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", _month_end(start))
        object.__setattr__(self, "kind", "month")

    def __reduce__(self) -> tuple[type[Month], tuple[int, int]]:
        return (Month, (self.year, self.month))

    def next(self) -> Month:
        return self.shift(1)

    def previous(self) -> Month:
        return self.shift(-1)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def same_period_last_year(self) -> Month:
        return Month(self.year - 1, self.month)

    def same_month_last_year(self) -> Month:
        return self.same_period_last_year()


_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "day"),
    (re.compile(r"^(\d{4})-W(\d{2})$"), "week"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$"), "range"),
)


def _relative(text: str, today: dt.date) -> Period | None:
    if text == "last":
        return Month(today.year, today.month).previous()
    if text == "yesterday":
        day = today - _ONE
        return Period(day.replace(day=1), day, "day")
    if text == "last-week":
        monday = today - dt.timedelta(days=today.weekday() + 7)
        return Period(monday, monday + dt.timedelta(days=6), "week")
    if text == "last-quarter":
        start = _shift_day(_quarter_start(today), -3)
        return Period(start, _quarter_start(today) - _ONE, "quarter")
    if text == "last-year":
        return Period(dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31), "year")
    return None


def _parsed(kind: str, groups: tuple[str, ...]) -> Period:
    if not all(1901 <= int(g[:4]) <= 9998 for g in groups if len(g) >= 4):
        raise UsageError("the year must be between 1901 and 9998")
    if kind == "range":
        start, end = (dt.date.fromisoformat(g) for g in groups)
        return Period(start, end, "range")
    numbers = [int(g) for g in groups]
    if kind == "month":
        return Month(numbers[0], numbers[1])
    if kind == "day":
        day = dt.date(*numbers)
        return Period(day.replace(day=1), day, "day")
    if kind == "week":
        weeks = dt.date(numbers[0], 12, 28).isocalendar()[1]
        if not 1 <= numbers[1] <= weeks:
            raise UsageError(f"{numbers[0]} has ISO weeks 01..{weeks}")
        return Period(*_iso_week(numbers[0], numbers[1]), "week")
    if kind == "quarter":
        start = dt.date(numbers[0], 3 * numbers[1] - 2, 1)
        return Period(start, _month_end(_shift_day(start, 2)), "quarter")
    return Period(dt.date(numbers[0], 1, 1), dt.date(numbers[0], 12, 31), "year")


def parse_period(text: str, *, today: dt.date | None = None, option: str = "--period") -> Period:
    """A period in any form of periods.md; anything else is a usage error listing them."""
    text = text.strip()
    found = _relative(text, today or dt.date.today())
    if found is not None:
        return found
    for pattern, kind in _FORMS:
        match = pattern.match(text)
        if match:
            try:
                return _parsed(kind, match.groups())
            except (ValueError, UsageError) as exc:
                reason = _reason(exc)
                raise UsageError(f"{option} {text!r}: {reason}; expected {PERIOD_FORMS}") from None
    raise UsageError(f"{option} {text!r}: expected one of {PERIOD_FORMS}")


def _reason(exc: Exception) -> str:
    return str(exc).split(": ")[-1]


def parse_month(text: str, *, today: dt.date | None = None) -> Month:
    """Parse `YYYY-MM` or `last` (the calendar month before today)."""
    found = parse_period(text, today=today, option="--month")
    if not isinstance(found, Month):
        raise UsageError(f"--month {text!r}: expected YYYY-MM (e.g. 2015-03) or 'last'")
    return found


def trend_periods(period: Period, unit: str | None = None) -> list[Period]:
    """The columns of a trend: `unit` (month, week, day) parts of the period, or by default
    a month's year to date, a day's months of the year with its month to date last, a
    quarter's or a year's months, a week's days, a range's months (its days when it is
    within one month)."""
    if unit is None and isinstance(period, Month):
        return list(period.months_of_year_to_date())
    if unit is None and period.kind == "day":
        return [*period.months_of_year_to_date()[:-1], period]  # this month to the day
    if unit is None:
        within = period.start.year == period.end.year and period.start.month == period.end.month
        unit = "day" if period.kind == "week" or within else "month"
    if unit not in ("month", "week", "day"):
        raise UsageError(f"--trend-by {unit!r}: expected month, week or day")
    return period.sub_periods(unit)  # type: ignore[arg-type]
