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


def open_data(root: Path | str) -> DataSource:
    """Open a data directory."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found")
    return DataSource(root)
