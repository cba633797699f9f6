"""Working days from the `calendar` dataset, for `working_days_between` in both engines."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kpitool.plan.population import Missing

__all__ = ["workday_index"]


def workday_index(calendar: pl.DataFrame | None) -> dict[dt.date, int]:
    """{date: working days up to and including it} (the calendar is small)."""
    if calendar is None:
        raise Missing("dataset missing: calendar")
    calendar = calendar.select("date", "is_workday").sort("date")
    counts = calendar["is_workday"].fill_null(False).cast(pl.Int64).cum_sum()
    return dict(zip(calendar["date"].to_list(), counts.to_list(), strict=True))
