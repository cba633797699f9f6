"""The DuckDB peer: the catalogue's rules as hand-written SQL (duckdb_rules.sql) over the same
files, and the check that it gives kpitool's numerators and denominators."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import polars as pl

from kpitool.data.schema import DATASETS
from kpitool.plan.periods import Month, parse_month

HERE = Path(__file__).resolve().parent
SQL = HERE / "duckdb_rules.sql"
KEYS = ["rule_id", "scope", "scope_id"]


def statements() -> dict[str, str]:
    """rule id → its SQL statement, in file order."""
    parts = re.split(r"^-- rule: (\S+)\s*$", SQL.read_text(encoding="utf-8"), flags=re.M)
    return {
        rule_id: body.strip().rstrip(";")
        for rule_id, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def _source(folder: Path, name: str) -> str | None:
    """A DuckDB table function reading one dataset's file(s), or None when absent."""
    types = {c.name: _duck_type(c.type) for c in DATASETS[name].columns}
    columns = ", ".join(f"'{k}': '{v}'" for k, v in types.items())
    if (folder / f"{name}.parquet").is_file():
        return f"read_parquet('{folder / name}.parquet')"
    if (folder / name).is_dir():
        return f"read_parquet('{folder / name}/*.parquet')"
    if (folder / f"{name}.csv").is_file():
        return f"read_csv('{folder / name}.csv', header = true, columns = {{{columns}}})"
    return None


def _duck_type(kind: str) -> str:
    return {
        "str": "VARCHAR",
        "int": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "date": "DATE",
        "datetime": "TIMESTAMP",
    }[kind]


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per dataset of the folder."""
    con = duckdb.connect()
    for name in DATASETS:
        source = _source(folder, name)
        if source is not None:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}")
    return con


def _parameters(month: Month) -> dict[str, object]:
    first = month.first_day
    start = first.year * 12 + first.month - 1 - 23  # the 24-month window's first month
    return {
        "month": str(month),
        "period_start": first,
        "period_end": month.last_day,
        "next_start": month.last_day + dt.timedelta(days=1),
        "quarter_start": month.quarter_first_day,
        "year_start": month.year_first_day,
        "rolling_start": dt.date(start // 12, start % 12 + 1, 1),
    }


def year_parameters(year: int) -> dict[str, object]:
    """The statements' parameters stretched to a whole year (for timing only: rules that
    count months or quarters in pairs are not the catalogue's year figures this way)."""
    params = _parameters(parse_month(f"{year}-12"))
    params.update(
        month=f"{year}-12", period_start=dt.date(year, 1, 1), quarter_start=dt.date(year, 1, 1)
    )
    return params


def evaluate(con: duckdb.DuckDBPyConnection, months: list[str]) -> pl.DataFrame:
    """Every rule's company and branch rows for each month (one query per rule and month);
    a year ('2015') runs once with the year's bounds (`year_parameters`)."""
    frames = []
    rules = statements()
    for text in months:
        params = year_parameters(int(text)) if len(text) == 4 else _parameters(parse_month(text))
        for rule_id, sql in rules.items():
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            frame = pl.DataFrame(pl.from_arrow(con.sql(sql, params=used).to_arrow_table()))
            frames.append(
                frame.select(
                    pl.lit(rule_id).alias("rule_id"),
                    pl.lit(text).alias("period"),
                    pl.col("scope").cast(pl.String),
                    pl.col("scope_id").cast(pl.String),
                    pl.col("numerator").cast(pl.Float64),
                    pl.col("denominator").cast(pl.Float64),
                )
            )
    return pl.concat(frames)


def compare(kpitool_rows: pl.DataFrame, duck_rows: pl.DataFrame) -> pl.DataFrame:
    """The (rule, period, scope, id) rows whose numerator or denominator differ.

    kpitool rows without a population (denominator null or 0) match a missing SQL row.
    """
    ours = kpitool_rows.filter(pl.col("scope").is_in(["company", "branch"])).select(
        *KEYS, "period", "numerator", "denominator"
    )
    keys = [*KEYS, "period"]
    joined = ours.join(duck_rows, on=keys, how="full", coalesce=True, suffix="_sql")

    def differs(column: str) -> pl.Expr:
        a, b = pl.col(column).fill_null(0.0), pl.col(f"{column}_sql").fill_null(0.0)
        return (a - b).abs() > 1e-6 * pl.max_horizontal(a.abs(), b.abs(), pl.lit(1.0))

    return joined.filter(differs("numerator") | differs("denominator")).sort(keys)
