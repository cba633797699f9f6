"""Values that parse but cannot be true: NaN or infinite amounts, amounts beyond any real
one, numbers outside their range (satisfaction 1-5), negative amounts, dates far in the
future, a later step before an earlier one (a visit called before it arrived).

`data check` flags each (file, row, column); evaluation leaves out the rows that would make
a figure wrong (`EXCLUDED`), so such a row never turns a KPI into a pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from kpitool.data.schema import LOCAL_TIME_ZONE, Dataset

__all__ = [
    "EXCLUDED",
    "FUTURE_DAYS",
    "LARGEST_AMOUNT",
    "invalid_rows",
    "left_out_mask",
    "local_time",
    "value_checks",
]

LARGEST_AMOUNT = 1e12
"""Yuan: no amount of a city company's extract reaches it (1e308 is a broken export)."""

FUTURE_DAYS = 730
"""A fact dated more than this many days after today is a typing or export error."""

EXCLUDED = frozenset({"not_finite", "too_large", "out_of_range", "order"})
"""Kinds of problem whose rows evaluation leaves out (the others only fail `data check`)."""


def local_time(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A zoned datetime as local time without a zone (datasets.md); others unchanged."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return value.dt.convert_time_zone(LOCAL_TIME_ZONE).dt.replace_time_zone(None)
    return value


def value_checks(
    spec: Dataset, parsed: dict[str, pl.Expr], *, today: dt.date | None = None
) -> dict[tuple[str, str], pl.Expr]:
    """(kind, column) -> mask of rows whose parsed value cannot be true (null: not known)."""
    checks: dict[tuple[str, str], pl.Expr] = {}
    horizon = (today or dt.date.today()) + dt.timedelta(days=FUTURE_DAYS)
    for column in spec.columns:
        value = parsed.get(column.name)
        if value is None:
            continue
        if column.type == "float":
            number = value.cast(pl.Float64, strict=False)
            checks[("not_finite", column.name)] = number.is_nan() | number.is_infinite()
            checks[("too_large", column.name)] = number.is_finite() & (
                number.abs() >= LARGEST_AMOUNT
            )
            if spec.kind == "fact":
                checks[("negative", column.name)] = number < 0
        if column.bounds is not None:
            low, high = column.bounds
            number = value.cast(pl.Float64, strict=False)
            checks[("out_of_range", column.name)] = (number < low) | (number > high)
        if spec.kind == "fact" and column.type in ("date", "datetime"):
            checks[("future", column.name)] = value.cast(pl.Date, strict=False) > horizon
    for first, second in spec.ordered:
        if first in parsed and second in parsed:
            checks[("order", second)] = parsed[second] < parsed[first]
    return checks


def invalid_rows(spec: Dataset) -> pl.Expr | None:
    """Rows of a typed frame that evaluation leaves out (see `EXCLUDED`); None: none can be."""
    parsed = {name: pl.col(name) for name in spec.column_names}
    return left_out_mask(value_checks(spec, parsed))


def left_out_mask(checks: Mapping[tuple[str, str], pl.Expr]) -> pl.Expr | None:
    """Rows failing any (kind, column) check of a kind in `EXCLUDED`; None: no such check."""
    masks = [mask.fill_null(False) for (kind, _), mask in checks.items() if kind in EXCLUDED]
    return pl.any_horizontal(masks) if masks else None
