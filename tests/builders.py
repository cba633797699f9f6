"""Builders for small canonical datasets that tests write to a folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from kpitool.data.schema import DATASETS

_DEFAULTS: dict[str, Any] = {
    "str": "-",
    "int": 0,
    "float": 0.0,
    "bool": False,
    "date": dt.date(2000, 1, 1),
    "datetime": dt.datetime(2000, 1, 1),
}
DEFAULT_BRANCHES = [
    {"branch_id": "B1", "branch_name": "市区营业部", "level": "city"},
    {"branch_id": "B2", "branch_name": "丰县支公司", "level": "county", "parent_id": "B1"},
]


def _convert(value: Any, type_: str) -> Any:
    if value is None:
        return None
    if type_ == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if type_ == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if type_ == "datetime" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if type_ == "float":
        return float(value)
    return value


def write_dataset(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    """Write rows as a canonical Parquet file, filling left-out columns with defaults."""
    spec = DATASETS[name]
    for row in rows:
        unknown = set(row) - set(spec.column_names)
        assert not unknown, f"{name}: unknown columns {unknown}"
    data = {
        col.name: [
            _convert(row[col.name], col.type)
            if col.name in row
            else (None if col.nullable else _DEFAULTS[col.type])
            for row in rows
        ]
        for col in spec.columns
    }
    for first, second in spec.ordered:  # a later step left out happens with the earlier one
        if not spec.column(second).nullable:
            data[second] = [
                data[second][i] if second in row else data[first][i] for i, row in enumerate(rows)
            ]
    pl.DataFrame(data, schema=spec.polars_schema).write_parquet(folder / f"{name}.parquet")


def holder_policy(
    pid: str, branch: str, holder: str, day: str, line: str = "short"
) -> dict[str, object]:
    """A policy row of `holder`, issued (and applied for) on `day`: old customers' tests."""
    return {
        "policy_id": pid,
        "branch_id": branch,
        "policyholder_id": holder,
        "issued_at": day,
        "applied_at": day,
        "product_line": line,
    }
