"""Evaluation results: the frame shape of kpis.md and its JSON, CSV, Parquet and table forms."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl
from xlsxwriter.format import Format

from kpitool.errors import OutputError
from kpitool.output import atomic_path, atomic_write
from kpitool.xlsx import Formatter, Styles, write_sheets

__all__ = [
    "RESULT_SCHEMA",
    "STATUS_ORDER",
    "OutputFormat",
    "breaches",
    "empty_results",
    "filter_status",
    "neutralise_formulas",
    "results_to_records",
    "write_frame",
]

OutputFormat = Literal["table", "csv", "json", "parquet", "xlsx"]
STATUS_ORDER = {"pass": 0, "n/a": 1, "warn": 2, "fail": 3}

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "period": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "scope": pl.String(),
    "scope_id": pl.String(),
    "value": pl.Float64(),
    "numerator": pl.Float64(),
    "denominator": pl.Float64(),
    "target": pl.Float64(),
    "status": pl.String(),
    "reason": pl.String(),
    "target_source": pl.String(),
    "milestone": pl.Float64(),
    "milestone_date": pl.String(),
    "pace_needed": pl.Float64(),
}
_JSON_FIELDS = (
    "rule_id",
    "period",
    "period_start",
    "period_end",
    "scope",
    "scope_id",
    "value",
    "numerator",
    "denominator",
    "target",
    "status",
)


def empty_results() -> pl.DataFrame:
    """A results frame with no rows."""
    return pl.DataFrame(schema=RESULT_SCHEMA)


def _clean(value: Any) -> Any:
    """JSON-safe and reproducible: no NaN, and floats to 12 significant digits so that the
    order in which parallel sums were added cannot change the output's bytes."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.12g}")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def filter_status(results: pl.DataFrame, statuses: Sequence[str]) -> pl.DataFrame:
    """Only the results whose status is one of `statuses`."""
    return results.filter(pl.col("status").is_in(list(statuses)))


def breaches(results: pl.DataFrame, level: str, *, period: str | None = None) -> bool:
    """Whether any result (of `period`, if given) is at `level` (warn or fail) or worse."""
    worst = {"warn": ("warn", "fail"), "fail": ("fail",)}[level]
    if period is not None:
        results = results.filter(pl.col("period") == period)
    return bool(results.filter(pl.col("status").is_in(worst)).height)


def results_to_records(results: pl.DataFrame, *, full: bool = False) -> list[dict[str, Any]]:
    """The JSON elements of kpis.md ("Machine-readable results"); `full` adds the extras."""
    fields = list(RESULT_SCHEMA) if full else list(_JSON_FIELDS)
    return [{k: _clean(row[k]) for k in fields} for row in results.iter_rows(named=True)]


_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_PATTERN))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text_columns
    )


_UNIT_COLUMNS = ("value", "target", "milestone")


def write_xlsx(
    frame: pl.DataFrame, output: Path, *, sheet: str = "data", units: Mapping[str, str] = {}
) -> None:
    """A one-sheet workbook of `frame`; with `units` (rule id -> unit) a results frame's
    values and targets get their unit's format (rates as percentages) and statuses colour."""

    def formatter(styles: Styles) -> Formatter:
        def formats(row: dict[str, Any], column: str) -> Format | None:
            unit = units.get(str(row.get("rule_id")))
            if column in _UNIT_COLUMNS and unit is not None:
                return styles.unit(unit)
            if column == "status" and row.get("status") in styles.status:
                return styles.status[row["status"]]
            return None

        return formats

    write_sheets(output, {sheet: frame}, formats=formatter)


def write_frame(
    frame: pl.DataFrame,
    fmt: Literal["csv", "json", "parquet", "xlsx"],
    output: Path | None,
    *,
    records: Sequence[dict[str, Any]] | None = None,
    units: Mapping[str, str] = {},
) -> str | None:
    """Write a frame as CSV, JSON, Parquet or a workbook to `output` atomically, or return
    the text.

    JSON uses `records` when given (the results shape); Parquet and xlsx need an output file.
    """
    if fmt == "xlsx":
        if output is None:
            raise ValueError("xlsx needs an output file")
        write_xlsx(frame, output, units=units)
        return None
    if fmt == "parquet":
        if output is None:
            raise ValueError("parquet needs an output file")
        with atomic_path(output) as tmp:
            try:
                frame.write_parquet(tmp)
            except pl.exceptions.ComputeError as exc:  # Polars wraps the OSError
                found = re.search(r"IO error: (.*?) \(os error \d+\)", str(exc))
                reason = found.group(1) if found else str(exc).strip().splitlines()[0]
                raise OutputError(f"{output}: cannot write: {reason}") from None
        return None
    if fmt == "csv":
        buffer = io.StringIO()
        neutralise_formulas(frame).write_csv(buffer)
        text = buffer.getvalue()
    else:
        rows = records if records is not None else frame.to_dicts()
        text = (
            json.dumps(
                [{k: _clean(v) for k, v in r.items()} for r in rows],
                ensure_ascii=False,
                indent=2,
                default=str,
            )
            + "\n"
        )
    if output is None:
        return text
    atomic_write(output, text)
    return None
