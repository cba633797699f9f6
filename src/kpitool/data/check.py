"""`kpitool data check`: every problem in the extracts, with file, row and column.

Per dataset and file, one lazy pass flags each row's problems (a value that does not parse, a
null where none is allowed, a value outside the allowed ones, a value that cannot be true:
`kpitool.data.validity`; a row with more fields than the header), after a pass over a CSV's
bytes for lines too long to be rows (`kpitool.data.lines`: such a file is not read further);
keys and references are checked with lazy group-bys and anti-joins. Errors make the check
fail; warnings (a missing dataset, a reference dataset absent, an unknown id the rules
ignore, a zoned datetime read as local time) do not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from kpitool import cache
from kpitool.data import excluded
from kpitool.data.catalogue import DataSource
from kpitool.data.keys import KnownKeys, keys_and_references
from kpitool.data.problems import CheckReport, DatasetSummary, Problem
from kpitool.data.readers import ROW, is_parquet, overlong, parse_column, ragged_row
from kpitool.data.schema import DATASETS, LOCAL_TIME_ZONE, Dataset
from kpitool.data.validity import (
    FUTURE_DAYS,
    LARGEST_AMOUNT,
    left_out_mask,
    local_time,
    value_checks,
)
from kpitool.errors import DataError, quoted

__all__ = ["CheckReport", "DatasetSummary", "Problem", "check_data"]

SAMPLES = 50
"""Rows listed per problem kind and column; the count covers all of them."""


def _row_checks(
    spec: Dataset, raw: pl.LazyFrame, source: DataSource
) -> dict[tuple[str, str], tuple[pl.Expr, pl.Expr]]:
    """(kind, column) -> (mask of bad rows, the offending value as text)."""
    present = raw.collect_schema()
    sspec = source.spec(spec.name)
    checks: dict[tuple[str, str], tuple[pl.Expr, pl.Expr]] = {}
    parsed: dict[str, pl.Expr] = {}
    for column in spec.columns:
        if column.name not in present:
            continue
        value = pl.col(column.name)
        if present[column.name] == pl.String and column.type != "str":
            parsed[column.name] = parse_column(value, column.type, sspec, strict=False)
            checks[("unparseable", column.name)] = (
                value.is_not_null() & parsed[column.name].is_null(),
                value,
            )
        else:
            parsed[column.name] = local_time(value, present[column.name])
        if not column.nullable:
            checks[("null", column.name)] = (value.is_null(), value.cast(pl.String))
        if column.values is not None:
            checks[("value", column.name)] = (
                value.is_not_null() & ~value.str.strip_chars().is_in(list(column.values)),
                value,
            )
    for (kind, name), mask in value_checks(spec, parsed).items():
        checks[(kind, name)] = (mask, parsed[name].cast(pl.String))
    return checks


def _left_out(checks: dict[tuple[str, str], tuple[pl.Expr, pl.Expr]]) -> pl.Expr:
    """Rows evaluation leaves out, as `left_out` counts them."""
    mask = left_out_mask({kind: mask for kind, (mask, _) in checks.items()})
    return pl.lit(False) if mask is None else mask


def _zoned(spec: Dataset, raw: pl.LazyFrame, where: str) -> list[Problem]:
    """A warning per datetime column that carries a time zone (read as local time)."""
    found = []
    for name, dtype in raw.collect_schema().items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            found.append(
                Problem(
                    "warning",
                    spec.name,
                    where,
                    None,
                    name,
                    "time_zone",
                    f"{name} carries time zone {dtype.time_zone}: read as {LOCAL_TIME_ZONE} "
                    "local time",
                )
            )
    return found


def _long_lines(source: DataSource, spec: Dataset, path: Path, report: CheckReport) -> bool:
    """List a CSV's lines too long to be rows; whether there were any (then Polars, which
    would hold each in memory, does not read the file: its other rows go unchecked)."""
    found = overlong(path, source.spec(spec.name))
    for line in found:
        where = source.label(spec.name, path)
        report.problems.append(
            Problem(
                "error",
                spec.name,
                where,
                line.row or None,  # 0: the header
                line.column,
                "long_line",
                f"{line.message}; the file's other rows are not checked",
            )
        )
    return bool(found)


def _check_file(source: DataSource, spec: Dataset, path: Path, report: CheckReport) -> int:
    if _long_lines(source, spec, path, report):
        return 0
    raw = source.raw(spec.name, path)
    names = [c for c in raw.collect_schema().names() if c != ROW]
    for required in spec.columns:
        if required.name not in names and not required.nullable:
            report.problems.append(
                Problem(
                    "error",
                    spec.name,
                    source.label(spec.name, path),
                    None,
                    required.name,
                    "missing_column",
                    f"required column {required.name} is missing",
                )
            )
    report.problems.extend(_zoned(spec, raw, source.label(spec.name, path)))
    checks = _row_checks(spec, raw, source)
    # A CSV has every field parsed (no projection), so a row longer than the header is
    # found; Parquet has no such rows: only the checked columns are read, unnumbered.
    columnar = is_parquet(path, source.spec(spec.name))
    counted = source.raw(spec.name, path, numbered=False) if columnar else raw
    try:
        counts = counted.select(
            pl.len().alias("__rows"),
            _left_out(checks).sum().alias("__left_out"),
            *(
                mask.fill_null(False).sum().alias(f"{k}|{c}")
                for (k, c), (mask, _) in checks.items()
            ),
        ).collect(optimizations=pl.QueryOptFlags(projection_pushdown=columnar))
    except pl.exceptions.ComputeError as exc:
        if "more fields" not in str(exc):
            raise
        row = ragged_row(path, source.spec(spec.name))
        where = source.label(spec.name, path)
        message = f"row {row} has more fields than the header" if row else "a row is too long"
        report.problems.append(
            Problem("error", spec.name, where, row, None, "extra_fields", message)
        )
        return 0
    excluded.remember(source, spec.name, path, int(counts["__left_out"][0]))
    for (kind, column), (mask, value) in checks.items():
        n = counts[f"{kind}|{column}"][0]
        if not n:
            continue
        key = (spec.name, kind, column)
        report.counts[key] = report.counts.get(key, 0) + n
        sample = (
            raw.filter(mask.fill_null(False)).select(ROW, value.alias("v")).head(SAMPLES).collect()
        )
        for row, text in sample.iter_rows():
            report.problems.append(
                Problem(
                    "error",
                    spec.name,
                    source.label(spec.name, path),
                    row,
                    column,
                    kind,
                    _message(kind, column, text, spec),
                )
            )
    return int(counts["__rows"][0])


def _replay(key: str, run: Callable[[CheckReport], int], report: CheckReport) -> int:
    """Run one check into a fresh report, or replay what the cache remembers of it."""
    store = cache.store()
    found = store.get("check", key) if store is not None else None
    if found is not None:
        saved = json.loads(found)
        part = CheckReport(
            problems=[Problem(**p) for p in saved["problems"]],
            counts={(d, k, c): n for d, k, c, n in saved["counts"]},
        )
        rows = int(saved["rows"])
    else:
        part = CheckReport()
        rows = run(part)
        if store is not None:
            saved = {
                "rows": rows,
                "problems": [asdict(p) for p in part.problems],
                "counts": [[d, k, c, n] for (d, k, c), n in part.counts.items()],
            }
            store.put("check", key, json.dumps(saved, ensure_ascii=False).encode())
    report.problems.extend(part.problems)
    for where, n in part.counts.items():
        report.counts[where] = report.counts.get(where, 0) + n
    return rows


def _file_state(source: DataSource, name: str, path: Path) -> list[object]:
    """What a file's check depends on besides the code: its content, path and catalogue entry."""
    return [name, str(path), cache.fingerprint(path), source.spec(name)]


def _check_file_cached(source: DataSource, spec: Dataset, path: Path, report: CheckReport) -> int:
    """`_check_file`, remembered by the file's fingerprint: only changed files re-checked."""
    if cache.store() is None:
        return _check_file(source, spec, path, report)
    key = cache.make_key("check-file", spec, *_file_state(source, spec.name, path))
    return _replay(key, lambda part: _check_file(source, spec, path, part), report)


def _keys_cached(known: KnownKeys, spec: Dataset, report: CheckReport) -> None:
    """Keys and references, remembered by the fingerprints of the files they read."""
    source = known.source

    def run(part: CheckReport) -> int:
        keys_and_references(known, spec, source.scan(spec.name, keep_invalid=True), part, SAMPLES)
        return 0

    if cache.store() is None:
        run(report)
        return
    read = [spec.name, *(c.references for c in spec.columns if c.references)]
    state = [[*_file_state(source, n, p)] for n in read for p in source.files(n)]
    _replay(cache.make_key("check-keys", spec, str(source.root), state), run, report)


def _message(kind: str, column: str, value: Any, spec: Dataset) -> str:
    col = spec.column(column)
    if kind == "unparseable":
        return f"{quoted(value)} is not a valid {col.type}"
    if kind == "null":
        return f"{column} is empty but required"
    if kind == "value":
        return f"{quoted(value)} is not one of {', '.join(col.values or ())}"
    if kind == "out_of_range" and col.bounds is not None:
        low, high = col.bounds
        allowed = f"{low:g}-{high:g}" if high != float("inf") else f"{low:g} or more"
        return f"{column} is {quoted(value)}, outside {allowed}"
    if kind in _VALUE_MESSAGES:
        return _VALUE_MESSAGES[kind].format(column=column, value=quoted(value), col=col)
    first = next(a for a, b in spec.ordered if b == column)
    return f"{column} ({value}) is before {first}"


_VALUE_MESSAGES = {
    "not_finite": "{column} is {value}, not a number (NaN or infinite)",
    "too_large": f"{{column}} is {{value}}, beyond any real amount (>= {LARGEST_AMOUNT:.0e})",
    "negative": "{column} is {value}, a negative amount",
    "future": f"{{column}} is {{value}}, more than {FUTURE_DAYS} days after today",
}


def _files(source: DataSource, name: str, report: CheckReport) -> list[Path]:
    """The dataset's files; none, with the problem listed, when they cannot be told apart
    (e.g. one month twice, as .csv and .parquet) or there are none."""
    try:
        files = source.files(name)
    except DataError as exc:
        report.problems.append(Problem("error", name, None, None, None, "files", str(exc)))
        return []
    if not files:
        report.problems.append(
            Problem(
                "warning",
                name,
                None,
                None,
                None,
                "missing_dataset",
                f"no {name} dataset in {source.root}",
            )
        )
    return files


def _check_dataset(
    source: DataSource,
    spec: Dataset,
    files: list[Path],
    summary: DatasetSummary,
    report: CheckReport,
    known: KnownKeys,
) -> None:
    before = len(report.problems)
    summary.files = len(files)
    try:
        for path in files:
            summary.rows += _check_file_cached(source, spec, path, report)
        whole = [p for p in files if not overlong(p, source.spec(spec.name))]
        if whole:
            summary.columns = len(source.raw(spec.name, whole[0]).collect_schema()) - 1
        rows_ok = not any(p.severity == "error" for p in report.problems[before:])
        if rows_ok:
            _keys_cached(known, spec, report)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        where = str(files[0]) if len(files) == 1 else str(source.root / spec.name)
        report.problems.append(
            Problem("error", spec.name, where, None, None, "unreadable", f"{where}: {first}")
        )
    except DataError as exc:
        report.problems.append(
            Problem("error", spec.name, None, None, None, "unreadable", str(exc))
        )


def check_data(source: DataSource) -> CheckReport:
    """Check every dataset of the catalogue in `source`; see `CheckReport.ok`."""
    report = CheckReport()
    known = KnownKeys(source)
    for name, spec in DATASETS.items():
        summary = DatasetSummary(name)
        report.datasets.append(summary)
        before = len(report.problems)
        files = _files(source, name, report)
        if files:
            _check_dataset(source, spec, files, summary, report, known)
        mine = report.problems[before:]
        row_kinds = {k for (d, k, _c) in report.counts if d == name}
        summary.errors = sum(n for (d, _k, _c), n in report.counts.items() if d == name) + sum(
            p.severity == "error" and p.kind not in row_kinds for p in mine
        )
        summary.warnings = sum(p.severity == "warning" for p in mine)
    return report
