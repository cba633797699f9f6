"""The dataset catalogue: where each canonical dataset lives and how to read it, lazily.

A directory in canonical form needs no configuration: `<dataset>.csv`, `<dataset>.parquet` or
a folder `<dataset>/` of such files. Real extracts are mapped by a `catalogue.yaml` (beside
them, or `--catalogue FILE`) giving, per dataset, the file pattern, format, encoding, header
mapping (保单号 → policy_id), date formats, thousands separator, boolean spellings and nulls.
Datasets it does not list are found by name as in canonical form.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kpitool.data.excel import EXCEL_SUFFIXES
from kpitool.data.readers import ROW, location, parse_column, raw_frame
from kpitool.data.schema import DATASETS, dataset
from kpitool.data.validity import invalid_rows, local_time
from kpitool.errors import ConfigError, DataError, quoted

__all__ = ["CATALOGUE_NAME", "DataSource", "SourceSpec", "is_url", "open_data"]

CATALOGUE_NAME = "catalogue.yaml"
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")


def is_url(text: str) -> bool:
    """Whether a data location is a URL (hdfs://, s3a://, file:/ …) rather than a local path;
    only the Spark engine reads those (a Windows drive letter is a path)."""
    return bool(_URL.match(text)) and not re.match(r"^[A-Za-z]:[\\/]", text)


_SUFFIXES = (".parquet", ".csv", ".csv.gz", *EXCEL_SUFFIXES)


def _part_name(path: Path) -> str:
    """A folder dataset's part (`2015-03` of `2015-03.csv.gz`)."""
    name = path.name
    return name[: -len(".csv.gz")] if name.lower().endswith(".csv.gz") else path.stem


def _is_data_file(path: Path) -> bool:
    """A file a folder's dataset is made of (not a hidden file nor Excel's ~$ lock file);
    a gzip-compressed CSV (`.csv.gz`) counts too."""
    suffix = ".csv.gz" if path.name.lower().endswith(".csv.gz") else path.suffix.lower()
    return path.is_file() and suffix in _SUFFIXES and not path.name.startswith((".", "~$"))


def _distinct_stems(files: list[Path]) -> list[Path]:
    """A folder dataset's files, refusing `2015-03.csv` beside `2015-03.parquet`: the same
    month twice would double its rows."""
    seen: dict[str, Path] = {}
    for path in files:
        part = _part_name(path)
        if part in seen:
            raise DataError(
                f"{path.parent}: {seen[part].name} and {path.name} hold the same part; "
                "keep one of them"
            )
        seen[part] = path
    return files


class SourceSpec(BaseModel):
    """How one dataset is stored: files, format, encoding and the spelling of its values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    table: str | None = None
    """A Spark/Hive table holding the dataset (read by the Spark engine only)."""
    format: Literal["csv", "parquet", "xlsx", "xlsm", "xls", "xlsb", "ods"] | None = None
    encoding: Literal["utf-8", "gbk", "gb18030"] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    columns: dict[str, str] = Field(default_factory=dict)
    date_format: str = "%Y-%m-%d"
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    thousands: str | None = None
    booleans: dict[bool, list[str]] = Field(
        default_factory=lambda: {
            True: ["true", "True", "TRUE", "1"],
            False: ["false", "False", "FALSE", "0"],
        }
    )
    nulls: list[str] = Field(default_factory=lambda: [""])
    sheet: str | int | None = None
    """A workbook's sheet: its name or 0-based index (default: the first visible sheet)."""
    header_row: int = Field(default=1, ge=1)
    """The workbook row (as Excel numbers it) holding the header; rows above are titles."""

    @field_validator("nulls", mode="before")
    @classmethod
    def _yaml_null_is_text(cls, value: object) -> object:
        """`nulls: [NULL]` reads as YAML null; the extract means the text NULL."""
        if isinstance(value, list):
            return ["NULL" if v is None else str(v) for v in value]
        return value


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    datasets: dict[str, SourceSpec]


def _load_catalogue(path: Path) -> dict[str, SourceSpec]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a catalogue") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{path}:{line} YAML syntax error") from None
    try:
        parsed = _CatalogueFile.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(f"{path}: {key}: {message}") from None
    for name, spec in parsed.datasets.items():
        if name not in DATASETS:
            raise ConfigError(
                f"{path}: datasets.{name}: unknown dataset (known: {', '.join(DATASETS)})"
            )
        known = set(DATASETS[name].column_names)
        for source, canonical in spec.columns.items():
            if canonical not in known:
                raise ConfigError(
                    f"{path}: datasets.{name}.columns.{source}: {name} has no column {canonical!r}"
                )
    return parsed.datasets


class DataSource:
    """The datasets of one data directory, each scanned lazily with canonical names and types."""

    def __init__(self, root: Path, catalogue: Path | None = None) -> None:
        self.root = root
        self.catalogue_path = catalogue
        self.specs = _load_catalogue(catalogue) if catalogue is not None else {}

    @cached_property
    def _base(self) -> Path:
        return self.catalogue_path.parent if self.catalogue_path is not None else self.root

    def spec(self, name: str) -> SourceSpec:
        """The catalogue entry of a dataset, or the canonical defaults."""
        return self.specs.get(name, SourceSpec())

    def files(self, name: str) -> list[Path]:
        """The files holding dataset `name` (empty when the directory lacks it)."""
        spec = self.specs.get(name)
        if spec is not None and spec.path is not None:
            target = self._base / spec.path
            if target.is_dir():
                return sorted(p for p in target.iterdir() if _is_data_file(p))
            if any(ch in spec.path for ch in "*?["):
                try:
                    return sorted(p for p in self._base.glob(spec.path) if p.is_file())
                except (NotImplementedError, ValueError) as exc:  # `/etc/*`: not relative
                    raise ConfigError(
                        f"{self.root}: dataset {name}: path {spec.path!r}: a pattern must be "
                        f"relative to the catalogue's folder ({exc})"
                    ) from None
            return [target] if target.is_file() else []
        for suffix in _SUFFIXES:
            single = self.root / f"{name}{suffix}"
            if single.is_file():
                return [single]
        folder = self.root / name
        if folder.is_dir():
            return _distinct_stems(sorted(p for p in folder.iterdir() if _is_data_file(p)))
        return []

    def has(self, name: str) -> bool:
        return bool(self.files(name))

    def available(self) -> list[str]:
        return [name for name in DATASETS if self.has(name)]

    def label(self, name: str, path: Path) -> str:
        """How errors name a file of dataset `name`: its path, and its sheet for a workbook."""
        return location(path, self.spec(name), DATASETS[name])

    def raw(self, name: str, path: Path, *, numbered: bool = True) -> pl.LazyFrame:
        """One file's rows with canonical column names, CSV values still text, and `__row`
        (unless not `numbered`)."""
        return raw_frame(path, self.spec(name), DATASETS[name], numbered=numbered)

    def typed(self, name: str, raw: pl.LazyFrame, *, strict: bool = True) -> pl.LazyFrame:
        """Parse a raw frame's canonical columns to their types (non-strict: null if bad)."""
        spec, schema = self.spec(name), dataset(name)
        present = raw.collect_schema()
        columns = []
        for column in schema.columns:
            target = schema.polars_schema[column.name]
            if column.name not in present:
                columns.append(pl.lit(None, dtype=target).alias(column.name))
            elif present[column.name] == target:
                columns.append(pl.col(column.name))
            elif present[column.name] == pl.String:
                columns.append(
                    parse_column(pl.col(column.name), column.type, spec, strict=strict).alias(
                        column.name
                    )
                )
            else:  # typed (Parquet) values of another width, unit or a time zone
                local = local_time(pl.col(column.name), present[column.name])
                columns.append(local.cast(target, strict=strict))
        extras = [
            c for c in raw.collect_schema().names() if c not in schema.column_names and c != ROW
        ]
        return raw.select(*columns, *extras)

    def scan(self, name: str, *, keep_invalid: bool = False) -> pl.LazyFrame:
        """A lazy frame of dataset `name` with its canonical columns and types; rows whose
        values cannot be true (`kpitool.data.validity.EXCLUDED`) left out unless asked."""
        files = self.files(name)
        if not files:
            table = self.spec(name).table
            if table is not None:
                raise DataError(
                    f"{self.catalogue_path}: datasets.{name}: the Spark table {table} is read "
                    "by the Spark engine only (--engine spark)"
                )
            raise DataError(
                f"{self.root}: no dataset {name!r} ({name}.csv, .parquet, .xlsx or folder)"
            )
        frames = []
        first_columns: list[str] | None = None
        for path in files:
            raw = self.raw(name, path, numbered=False)  # filters reach the Parquet scan
            names = [c for c in raw.collect_schema().names() if c != ROW]
            missing = [
                c.name for c in dataset(name).columns if not c.nullable and c.name not in names
            ]
            if missing:
                raise DataError(f"{self.label(name, path)}: missing required column {missing[0]}")
            if first_columns is not None and set(names) != set(first_columns):
                other = sorted(set(names) ^ set(first_columns))[0]
                raise DataError(
                    f"{self.label(name, path)}: columns differ from {files[0]} (column {other})"
                )
            first_columns = first_columns or names
            typed = self.typed(name, raw)
            invalid = None if keep_invalid else invalid_rows(dataset(name))
            frames.append(typed if invalid is None else typed.filter(~invalid))
        return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]

    def explain_failure(self, name: str, exc: Exception) -> DataError:
        """Find the first value of dataset `name` that does not parse: file, row, column.

        Rows are numbered from 1 for the first data row (a CSV's header is not a row); a
        workbook's rows as Excel numbers them, with the sheet named.
        """
        schema = dataset(name)
        for path in self.files(name):
            raw = self.raw(name, path)
            names = raw.collect_schema().names()
            types = raw.collect_schema()
            for column in schema.columns:
                if column.name not in names or types[column.name] != pl.String:
                    continue
                parsed = parse_column(
                    pl.col(column.name), column.type, self.spec(name), strict=False
                )
                bad = (
                    raw.select(ROW, pl.col(column.name).alias("value"), parsed.alias("ok"))
                    .filter(pl.col("value").is_not_null() & pl.col("ok").is_null())
                    .head(1)
                    .collect()
                )
                if bad.height:
                    row, value, _ = bad.row(0)
                    return DataError(
                        f"{self.label(name, path)}: row {row}: column {column.name}: "
                        f"{quoted(value)} is not a valid {column.type}"
                    )
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DataError(f"{self.root}: dataset {name}: {first}")


def open_data(root: Path | str, catalogue: Path | str | None = None) -> DataSource:
    """Open a data directory; `catalogue.yaml` in it is used unless another is given."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data directory not found")
    if catalogue is None and (root / CATALOGUE_NAME).is_file():
        catalogue = root / CATALOGUE_NAME
    if catalogue is not None and not Path(catalogue).is_file():
        raise ConfigError(f"{catalogue}: catalogue file not found")
    return DataSource(root, Path(catalogue) if catalogue is not None else None)
