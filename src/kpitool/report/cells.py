"""How a cell of a listed row reads: a "done" date after the period's end is blank (it was
not done by then), and rows with a due date get their days overdue at the period's end."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kpitool.report.labels import LABELS, translate_value

__all__ = ["DONE_COLUMNS", "cell_text", "listed_cell", "overdue_days"]

DONE_COLUMNS = ("paid_at", "closed_at", "completed_at", "collected_at", "issued_at")
"""Dates that mean "done": one after the period's end was not done by then."""
_DUE_COLUMNS = ("due_date", "due_at")


def _day(value: object) -> dt.date | None:
    """A date or a timestamp's day; None for anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def cell_text(value: object, lang: str) -> str:
    """A value as a table cell: flags as 是/否, amounts with separators, codes translated."""
    if value is None:
        return "—"
    if isinstance(value, bool):  # a flag such as agent_phone: 是/否, not True/False
        return LABELS[lang]["yes" if value else "no"]
    if isinstance(value, float):
        return f"{value:,.2f}"
    return translate_value(value, lang) if isinstance(value, str) else str(value)


def listed_cell(column: str, value: object, lang: str, period_end: dt.date) -> str:
    """A listed row's cell; a done date after `period_end` reads blank."""
    day = _day(value)
    if column in DONE_COLUMNS and day is not None and day > period_end:
        return ""
    return "" if value is None and column in DONE_COLUMNS else cell_text(value, lang)


def overdue_days(frame: pl.DataFrame, period_end: dt.date) -> list[str] | None:
    """Days overdue at `period_end` of rows with a due date not done by then (None when the
    rows have no due date)."""
    due = next((c for c in _DUE_COLUMNS if c in frame.columns), None)
    if due is None:
        return None
    done = next((c for c in DONE_COLUMNS if c in frame.columns), None)
    days = []
    for row in frame.iter_rows(named=True):
        when, finished = _day(row[due]), _day(row[done]) if done else None
        still_open = finished is None or finished > period_end
        late = still_open and when is not None and when <= period_end
        days.append(str((period_end - when).days) if late and when is not None else "")
    return days
