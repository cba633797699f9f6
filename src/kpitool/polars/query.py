"""Ad-hoc SQL over every dataset of a data directory, by canonical name (Polars SQL, lazy)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kpitool.data.catalogue import DataSource, open_data
from kpitool.data.privacy import mask_lazy
from kpitool.errors import DataError, UsageError

__all__ = ["run_query"]

_USER_ERRORS = (
    pl.exceptions.SQLInterfaceError,
    pl.exceptions.SQLSyntaxError,
    pl.exceptions.ColumnNotFoundError,
    pl.exceptions.SchemaError,
    pl.exceptions.InvalidOperationError,
)


def run_query(
    sql: str,
    source: DataSource | Path | str,
    *,
    limit: int | None = None,
    masked: bool = False,
) -> pl.DataFrame:
    """Run one SQL query; every available dataset is a table named as in datasets.md.

    Only the columns and rows the query needs are read (lazy scans, streaming engine).
    A mistake in the SQL raises UsageError with the engine's one-line reason. With `masked`
    the tables' personal data is masked before the query reads it (whatever it renames).
    """
    if limit is not None and limit < 0:
        raise UsageError(f"--limit {limit}: expected 0 or more")
    if not isinstance(source, DataSource):
        source = open_data(source)
    tables = {name: source.scan(name) for name in source.available()}
    if masked:
        tables = {name: mask_lazy(frame) for name, frame in tables.items()}
    context = pl.SQLContext(tables)
    try:
        plan = context.execute(sql, eager=False)
        if limit is not None:
            plan = plan.limit(limit)
        return plan.collect(engine="streaming")
    except _USER_ERRORS as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        known = ", ".join(sorted(tables)) or "none"
        hint = f" (tables: {known})" if "relation" in reason else ""
        raise UsageError(f"query: {reason}{hint}") from None
    except pl.exceptions.ComputeError as exc:
        raise DataError(f"query: {str(exc).strip().splitlines()[0]}") from None
