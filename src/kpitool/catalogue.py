"""The dataset catalogue: where each canonical dataset lives in a data directory and how to read it.

A directory in canonical form needs no configuration: `<dataset>.csv`, `<dataset>.parquet` or a
folder `<dataset>/` of such files. (Catalogue YAML for real extracts: see issue 2.)
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from kpitool.errors import DataError
from kpitool.schema import DATASETS, dataset

__all__ = ["DataSource", "open_data"]

_SUFFIXES = (".parquet", ".csv")


def _parse_text(text: pl.Expr, column_type: str) -> pl.Expr:
    """Canonical CSV text parsed as its type, null where it does not parse."""
    if column_type == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if column_type == "datetime":
        return text.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
    if column_type == "bool":
        return text.str.to_lowercase().replace_strict(
            {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
        )
    if column_type == "int":
        return text.cast(pl.Int64, strict=False)
    if column_type == "float":
        return text.cast(pl.Float64, strict=False)
    return text


class DataSource:
    """The datasets of one data directory, each scanned lazily with canonical names and types."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, name: str) -> list[Path]:
        """The files holding dataset `name` (empty when the directory lacks it)."""
        for suffix in _SUFFIXES:
            single = self.root / f"{name}{suffix}"
            if single.is_file():
                return [single]
        folder = self.root / name
        if folder.is_dir():
            return sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())
        return []

    def has(self, name: str) -> bool:
        return bool(self.files(name))

    def available(self) -> list[str]:
        return [name for name in DATASETS if self.has(name)]

    def scan(self, name: str) -> pl.LazyFrame:
        """A lazy frame of dataset `name` with its canonical columns and types."""
        files = self.files(name)
        if not files:
            raise DataError(f"{self.root}: no dataset {name!r} ({name}.csv, .parquet or folder)")
        schema = dataset(name).polars_schema
        frames = []
        for path in files:
            if path.suffix == ".parquet":
                frames.append(pl.scan_parquet(path))
            else:
                frames.append(pl.scan_csv(path, schema_overrides=schema))
        return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]

    def explain_failure(self, name: str, exc: Exception) -> DataError:
        """Find the first value of dataset `name` that does not parse: file, row, column.

        Rows are numbered from 1 for the first data row (a CSV's header is not a row).
        """
        schema = dataset(name).polars_schema
        for path in self.files(name):
            if path.suffix != ".csv":
                continue
            raw = pl.scan_csv(path, infer_schema=False).with_row_index("__row", offset=1)
            names = raw.collect_schema().names()
            for column, dtype in schema.items():
                if column not in names or dtype == pl.String:
                    continue
                bad = (
                    raw.select("__row", pl.col(column))
                    .filter(
                        pl.col(column).is_not_null()
                        & _parse_text(pl.col(column), dataset(name).column(column).type).is_null()
                    )
                    .head(1)
                    .collect()
                )
                if bad.height:
                    row, value = bad.row(0)
                    return DataError(
                        f"{path}: row {row}: column {column}: {value!r} is not a "
                        f"valid {dataset(name).column(column).type}"
                    )
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DataError(f"{self.root}: dataset {name}: {first}")


def open_data(root: Path | str) -> DataSource:
    """Open a data directory."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found")
    return DataSource(root)
