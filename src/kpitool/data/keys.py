"""Duplicate keys and unknown references, found on 64-bit key hashes first (twice as fast as
on the strings: 30 M policy ids in a provincial set); the rows are read again, numbered as
in the file, only when a hash finds something, and confirmed on the values."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kpitool.data.catalogue import DataSource
from kpitool.data.problems import CheckReport, Problem, Severity
from kpitool.data.readers import ROW
from kpitool.data.schema import DATASETS, Dataset
from kpitool.errors import quoted

__all__ = [
    "MERGED_ABOVE",
    "REFERENCED",
    "KnownKeys",
    "duplicate_rows",
    "keys_and_references",
    "unknown_rows",
]

_SEED = 20150301
"""Key hashes are only compared within one run: any fixed seed will do."""


def _hashed(columns: Sequence[str]) -> pl.Expr:
    """A row's key columns as one 64-bit hash: group-bys and anti-joins on it are twice as
    fast as on the strings (provincial policies: 30 M ids). What a hash finds is confirmed
    on the values; only a collision could hide an unknown reference (odds ~1e-10 a run)."""
    if len(columns) == 1:
        return pl.col(columns[0]).cast(pl.String).hash(seed=_SEED).alias("__h")
    return pl.struct(columns).hash(seed=_SEED).alias("__h")


def _indexed(source: DataSource, spec: Dataset, frame: pl.LazyFrame) -> pl.LazyFrame:
    """The dataset's rows numbered as in the file (a workbook's as Excel shows them); only
    built once a hash finds a problem."""
    files = source.files(spec.name)
    if len(files) == 1:
        raw = source.raw(spec.name, files[0])
        return source.typed(spec.name, raw).with_columns(raw.select(ROW).collect()[ROW])
    return frame.with_row_index(ROW, offset=1)


def duplicate_rows(
    source: DataSource, spec: Dataset, frame: pl.LazyFrame, limit: int, hashes: pl.LazyFrame
) -> pl.DataFrame:
    """The first rows (in file order) whose key an earlier row already has; `hashes`: the
    key hashes of `frame`'s rows, sorted."""
    # sorted, a repeated hash is its neighbour's: 2.5x faster than counting in a hash table
    twice = hashes.filter(pl.col("__h") == pl.col("__h").shift(1)).unique().collect()
    if not twice.height:
        return pl.DataFrame()
    indexed = _indexed(source, spec, frame)
    return (
        indexed.filter(_hashed(spec.key).is_in(twice["__h"].implode()))
        .filter(~pl.struct(spec.key).is_first_distinct())
        .select(ROW, *spec.key)
        .head(limit)
        .collect()
    )


REFERENCED = frozenset(c.references for d in DATASETS.values() for c in d.columns if c.references)
"""The datasets whose keys others refer to (by one column: `KnownKeys.of` hashes it)."""

MERGED_ABOVE = 1_000_000
"""Above this many keys a reference is checked by merging sorted hashes (an as-of join),
not by a hash anti-join: provincial renewals against 30 M policy ids, 0.8 s instead of 2.4 s.
Below it the anti-join of the distinct ids (few: branches, counters, agents) is cheaper."""


class KnownKeys:
    """Each referenced dataset's key hashes, sorted, read once per check: four datasets refer
    to the 30 M policy ids of a provincial set (240 MB of hashes, kept for the check's run)."""

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self._known: dict[str, pl.DataFrame] = {}

    def of(self, target: str) -> pl.DataFrame:
        """The hashes of `target`'s keys (every row, valid or not), sorted."""
        if target not in self._known:
            key = DATASETS[target].key[0]
            scan = self.source.scan(target, keep_invalid=True).select(_hashed([key]))
            self._known[target] = scan.collect(engine="streaming").sort("__h")
        return self._known[target]

    def sorted_hashes(self, spec: Dataset, frame: pl.LazyFrame) -> pl.LazyFrame:
        """The key hashes of `frame` (dataset `spec`'s rows), sorted: a referenced dataset's
        are those its references are checked against, computed once."""
        if spec.name in REFERENCED and len(spec.key) == 1:
            return self.of(spec.name).lazy()
        return frame.select(_hashed(spec.key)).sort("__h")


def _missing(held: pl.LazyFrame, known: pl.DataFrame) -> pl.LazyFrame:
    """The distinct hashes of `held` that are not in `known` (sorted)."""
    if known.height <= MERGED_ABOVE:
        return held.unique().join(known.lazy(), on="__h", how="anti")
    # each held hash meets the greatest known one not above it: unknown unless equal
    nearest = known.lazy().with_columns(pl.col("__h").alias("__k"))
    return (
        held.sort("__h")
        .join_asof(nearest, on="__h", strategy="backward", check_sortedness=False)
        .filter(pl.col("__k").is_null() | (pl.col("__k") != pl.col("__h")))
        .select("__h")
        .unique()
    )


def unknown_rows(
    known: KnownKeys, spec: Dataset, frame: pl.LazyFrame, column: str, target: str, limit: int
) -> pl.DataFrame:
    """The first rows whose `column` is not a key of `target`."""
    source = known.source
    held = frame.filter(pl.col(column).is_not_null()).select(_hashed([column]))
    missing = _missing(held, known.of(target)).collect(engine="streaming")
    if not missing.height:
        return pl.DataFrame()
    indexed = _indexed(source, spec, frame)
    return (
        indexed.filter(pl.col(column).is_not_null())
        .filter(_hashed([column]).is_in(missing["__h"].implode()))
        .select(ROW, column)
        .head(limit)
        .collect()
    )


def keys_and_references(
    known: KnownKeys, spec: Dataset, frame: pl.LazyFrame, report: CheckReport, limit: int
) -> None:
    """Duplicate keys and unknown references into `report` (the first `limit` rows of each),
    found on key hashes first: rows are read again, numbered, only when there is one."""
    source = known.source
    files = source.files(spec.name)
    where = source.label(spec.name, files[0]) if len(files) == 1 else str(source.root / spec.name)

    def add(severity: Severity, row: int | None, column: str, kind: str, message: str) -> None:
        report.problems.append(Problem(severity, spec.name, where, row, column, kind, message))

    if spec.key:
        hashes = known.sorted_hashes(spec, frame)
        for row in duplicate_rows(source, spec, frame, limit, hashes).iter_rows(named=True):
            shown = ", ".join(f"{k}={row[k]}" for k in spec.key)
            add("error", row[ROW], spec.key[0], "duplicate_key", f"duplicate key {shown}")
    for column in spec.columns:
        target = column.references
        if target is None:
            continue
        if not source.has(target):
            message = f"{column.name} not checked: no {target} dataset"
            add("warning", None, column.name, "reference_unchecked", message)
            continue
        key = DATASETS[target].key[0]
        ignored = " (its rows are ignored)" if column.unknown_ignored else ""
        severity: Severity = "warning" if column.unknown_ignored else "error"
        for row, value in unknown_rows(known, spec, frame, column.name, target, limit).iter_rows():
            message = f"{quoted(value)} is not a {key} in {target}{ignored}"
            add(severity, row, column.name, "unknown_reference", message)
