"""Reading the canonical datasets with Spark: local folders, Hadoop/object-store URLs, tables.

The same catalogue as the Polars engine decides where a dataset is and how its values are
spelled: a local data directory is resolved by `DataSource.files`; a URL root (`hdfs://…`,
`s3a://…`, `file:/…`) is listed through Hadoop's FileSystem with the same names
(`<dataset>.csv`, `<dataset>.parquet` or a folder); a catalogue entry with `table:` names a
Spark/Hive table. Values are converted as `kpitool.data.readers` does: text trimmed, the
catalogue's nulls, boolean spellings, thousands separator and date formats; a value that does
not convert stops the job with a message naming dataset, column and value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from kpitool.data.catalogue import DataSource, SourceSpec, is_url, open_data
from kpitool.data.excel import is_excel
from kpitool.data.readers import detect_encoding, overlong
from kpitool.data.schema import LOCAL_TIME_ZONE, ColumnType, dataset
from kpitool.errors import ConfigError, DataError
from kpitool.spark.validity import valid_rows

__all__ = ["SparkData", "spark_type", "strftime_to_java"]

_SPARK_TYPES: dict[str, T.DataType] = {
    "str": T.StringType(),
    "int": T.LongType(),
    "float": T.DoubleType(),
    "bool": T.BooleanType(),
    "date": T.DateType(),
    "datetime": T.TimestampNTZType(),
}
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")
_STRFTIME = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "f": "SSSSSS",
    "p": "a",
    "b": "MMM",
    "B": "MMMM",
    "j": "DDD",
}
_ISO_DATETIME = "yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]"


def spark_type(column_type: ColumnType) -> T.DataType:
    """The Spark type a canonical column is read as (datetimes are local: no time zone)."""
    return _SPARK_TYPES[column_type]


def _restore_url(text: str) -> str:
    """`Path("hdfs://nn/x")` prints as `hdfs:/nn/x`: give such a URL its `//` back."""
    match = _URL.match(text)
    if match and match.group(1) != "file" and not text.startswith(f"{match.group(1)}://"):
        return f"{match.group(1)}://{text[len(match.group(0)) :]}"
    return text


def strftime_to_java(fmt: str) -> str:
    """A catalogue date format (`%Y/%m/%d`) as a Spark datetime pattern (`yyyy/MM/dd`)."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            token = fmt[i + 1]
            if token == "%":
                out.append("%")
            elif token == "." and fmt[i + 2 : i + 3] == "f":
                out.append("[.SSSSSSSSS]")
                i += 1
            elif token in _STRFTIME:
                out.append(_STRFTIME[token])
            else:
                raise ConfigError(f"date format {fmt!r}: %{token} is not supported by Spark")
            i += 2
            continue
        out.append(f"'{ch}'" if ch.isalpha() else "''" if ch == "'" else ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Located:
    """Where one dataset is: a table, or files of one format each."""

    where: str
    table: str | None = None
    parquet: tuple[str, ...] = ()
    csv: tuple[str, ...] = ()
    encodings: tuple[str, ...] = ()


class SparkData:
    """The datasets of one data location, each read by Spark with canonical names and types."""

    def __init__(
        self,
        spark: SparkSession,
        data: DataSource | Path | str,
        catalogue: Path | str | None = None,
    ) -> None:
        self.spark = spark
        self.url: str | None = None
        if isinstance(data, DataSource):
            self.local: DataSource | None = data
        elif is_url(str(data)):
            self.url = _restore_url(str(data)).rstrip("/")
            self.local = None
        else:
            self.local = open_data(data, catalogue)
        if self.local is not None:
            self.specs = dict(self.local.specs)
        elif catalogue is not None:
            self.specs = dict(DataSource(Path("."), Path(catalogue)).specs)
        else:
            self.specs = {}
        self.root = self.url or str(self.local.root if self.local else "")
        self._located: dict[str, _Located | None] = {}
        self._frames: dict[str, DataFrame] = {}

    def spec(self, name: str) -> SourceSpec:
        return self.specs.get(name, SourceSpec())

    def has(self, name: str) -> bool:
        return self._locate(name) is not None

    def missing(self, name: str) -> str:
        """Where dataset `name` was looked for, when it was not found."""
        if self.local is not None:
            return f"{self.local.root}: no dataset {name!r} ({name}.csv, .parquet or folder)"
        return f"{self.root}: no {name}.csv, {name}.parquet or {name}/ folder"

    def where(self, name: str) -> str:
        """Where dataset `name` is read from: a file, a folder or a table."""
        located = self._locate(name)
        return located.where if located is not None else ""

    def read(self, name: str) -> DataFrame:
        """Dataset `name` with its canonical columns and types (and extra columns as text)."""
        if name not in self._frames:
            located = self._locate(name)
            if located is None:
                raise DataError(self.missing(name))
            typed = self._typed(name, self._raw(name, located), located.where)
            self._frames[name] = valid_rows(typed, dataset(name))
        return self._frames[name]

    # where the files are

    def _locate(self, name: str) -> _Located | None:
        if name not in self._located:
            self._located[name] = self._find(name)
        return self._located[name]

    def _find(self, name: str) -> _Located | None:
        spec = self.spec(name)
        table = spec.table
        if table:
            return _Located(where=f"table {table}", table=str(table))
        if self.local is not None:
            files = self.local.files(name)
            if not files:
                return None
            return self._by_format(
                [str(p) for p in files],
                spec,
                [
                    spec.encoding or detect_encoding(p)
                    for p in files
                    if not self._is_parquet(str(p), spec)
                ],
            )
        assert self.url is not None
        if spec.path is not None:
            target = spec.path if is_url(spec.path) else f"{self.url}/{spec.path}"
            found = self._list(target, spec.format)
        else:
            found = []
            for suffix in (".csv", ".parquet"):
                found = self._list(f"{self.url}/{name}{suffix}", None)
                if found:
                    break
            if not found:
                found = self._list(f"{self.url}/{name}", None)
        if not found:
            return None
        return self._by_format(found, spec, [])

    @staticmethod
    def _is_parquet(path: str, spec: SourceSpec) -> bool:
        return (spec.format or ("parquet" if path.lower().endswith(".parquet") else "csv")) == (
            "parquet"
        )

    def _by_format(self, paths: list[str], spec: SourceSpec, encodings: list[str]) -> _Located:
        workbooks = [p for p in paths if is_excel(Path(p), spec)]
        if workbooks:
            raise DataError(
                f"{workbooks[0]}: Excel workbooks are read by the Polars engine only "
                "(--engine polars, or save the sheet as CSV for Spark)"
            )
        parquet = tuple(p for p in paths if self._is_parquet(p, spec))
        csv = tuple(p for p in paths if not self._is_parquet(p, spec))
        if not encodings:
            encodings = [spec.encoding or "utf-8"] * len(csv)
        where = paths[0] if len(paths) == 1 else f"{Path(paths[0]).parent}/"
        return _Located(where=where, parquet=parquet, csv=csv, encodings=tuple(encodings))

    def _list(self, pattern: str, fmt: str | None) -> list[str]:
        """Files matching a URL or glob, through Hadoop's FileSystem; a folder's data files."""
        jvm: Any = self.spark._jvm  # Hadoop's FileSystem lives in the JVM
        conf = self.spark._jsc.hadoopConfiguration()
        path = jvm.org.apache.hadoop.fs.Path(pattern)
        fs = path.getFileSystem(conf)
        suffixes = {"csv": (".csv",), "parquet": (".parquet",)}.get(fmt or "", (".csv", ".parquet"))
        found: list[str] = []
        for status in fs.globStatus(path) or []:
            if status.isDirectory():
                for child in fs.listStatus(status.getPath()):
                    child_name = child.getPath().getName()
                    if (
                        child.isFile()
                        and child_name.lower().endswith(suffixes)
                        and not child_name.startswith((".", "_"))
                    ):
                        found.append(child.getPath().toString())
            elif status.isFile():
                found.append(status.getPath().toString())
        return sorted(found)

    # reading and converting

    def _raw(self, name: str, located: _Located) -> DataFrame:
        """The stored rows with canonical column names; CSV values still text."""
        spec = self.spec(name)
        parts: list[tuple[str, DataFrame]] = []
        if located.table is not None:
            parts.append((located.where, self.spark.table(located.table)))
        if located.parquet:
            parts.append((located.parquet[0], self.spark.read.parquet(*located.parquet)))
        for path, encoding in zip(located.csv, located.encodings, strict=True):
            if self.local is not None:  # a line too long to be a row, refused as Polars does
                for line in overlong(Path(path), spec)[:1]:
                    raise DataError(line.describe(path))
            reader = self.spark.read.options(
                header=True,
                sep=spec.delimiter,
                encoding=encoding,
                quote='"',
                escape='"',
                multiLine=True,
                mode="FAILFAST",
                inferSchema=False,
            )
            frame = reader.csv(path)
            nulls = list(spec.nulls)  # as Polars' null_values: for CSV text only
            parts.append(
                (
                    path,
                    frame.select(
                        *(
                            F.when(F.col(f"`{c}`").isin(nulls), F.lit(None))
                            .otherwise(F.col(f"`{c}`"))
                            .alias(c)
                            for c in frame.columns
                        )
                    ),
                )
            )
        frames = [(where, _renamed(frame, spec, where)) for where, frame in parts]
        first_where, result = frames[0]
        for where, frame in frames[1:]:
            if set(frame.columns) != set(result.columns):
                other = sorted(set(frame.columns) ^ set(result.columns))[0]
                raise DataError(f"{where}: columns differ from {first_where} (column {other})")
            result = result.unionByName(frame)
        return result

    def _typed(self, name: str, raw: DataFrame, where: str) -> DataFrame:
        """Canonical columns in their types, extras kept, absent nullable ones as nulls."""
        spec, schema = self.spec(name), dataset(name)
        present = {f.name: f.dataType for f in raw.schema.fields}
        missing = [c.name for c in schema.columns if not c.nullable and c.name not in present]
        if missing:
            more = f" (also {', '.join(missing[1:])})" if len(missing) > 1 else ""
            raise DataError(f"{where}: missing required column {missing[0]}{more}")
        text = [
            c
            for c in schema.columns
            if c.name in present and isinstance(present[c.name], T.StringType)
        ]
        cleaned = raw.withColumns({c.name: _clean_text(c.name, c.type, spec) for c in text})
        columns: list[Column] = []
        for column in schema.columns:
            target = spark_type(column.type)
            if column.name not in present:
                columns.append(F.lit(None).cast(target).alias(column.name))
            elif column in text:
                label = f"{where}: column {column.name}"
                columns.append(_parse_text(column.name, column.type, spec, label))
            elif isinstance(present[column.name], T.TimestampType):  # zoned: local time
                local = F.from_utc_timestamp(F.col(column.name), LOCAL_TIME_ZONE)
                columns.append(local.cast(target).alias(column.name))
            else:
                columns.append(F.col(column.name).cast(target).alias(column.name))
        extras = [F.col(f"`{c}`") for c in raw.columns if c not in schema.column_names]
        return cleaned.select(*columns, *extras)


def _renamed(frame: DataFrame, spec: SourceSpec, where: str) -> DataFrame:
    """Canonical column names (the catalogue's header mapping), each at most once."""
    mapping = {}
    for column in frame.columns:
        name = column.strip().lstrip("\ufeff")
        mapping[column] = spec.columns.get(name, name)
    targets = list(mapping.values())
    duplicated = sorted({v for v in targets if targets.count(v) > 1})
    if duplicated:
        raise DataError(f"{where}: column {duplicated[0]} appears twice")
    return frame.select(*(F.col(f"`{old}`").alias(new) for old, new in mapping.items()))


def _clean_text(name: str, column_type: ColumnType, spec: SourceSpec) -> Column:
    """Text as the Polars readers parse it: trimmed, a number's thousands separators removed."""
    trimmed = F.regexp_replace(F.col(name), r"(?U)^\s+|\s+$", "")
    if column_type in ("int", "float") and spec.thousands:
        trimmed = F.replace(trimmed, F.lit(spec.thousands))
    return trimmed


def _parse_text(name: str, column_type: ColumnType, spec: SourceSpec, label: str) -> Column:
    """A cleaned text column in its canonical type, or a job error naming the value."""
    text = F.col(name)
    target = spark_type(column_type)
    if column_type == "str":
        return text.alias(name)
    if column_type == "date":
        parsed = F.to_date(F.try_to_timestamp(text, F.lit(strftime_to_java(spec.date_format))))
    elif column_type == "datetime":
        if spec.datetime_format in (None, SourceSpec().datetime_format):
            # ISO 8601 as Polars and pandas write it (`T`, fractions) too, as the Polars
            # reader does; an offset (`+08:00`) does not parse and stops the job, named
            iso = F.regexp_replace(text, r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
            stamp = F.try_to_timestamp(iso, F.lit(_ISO_DATETIME))
        else:
            stamp = F.try_to_timestamp(text, F.lit(strftime_to_java(spec.datetime_format)))
        parsed = stamp.cast(T.TimestampNTZType())
    elif column_type == "bool":
        parsed = F.lit(None).cast(T.BooleanType())
        for flag, values in spec.booleans.items():
            parsed = F.when(text.isin(list(values)), F.lit(flag)).otherwise(parsed)
    else:  # try_cast is SQL syntax in Spark 3.5 (a Column method only from 4.0)
        parsed = F.expr(f"try_cast(`{name}` AS {target.simpleString()})")
    message = F.concat(F.lit(f"{label}: '"), text, F.lit(f"' is not a valid {column_type}"))
    checked = F.when(text.isNull(), F.lit(None).cast(target)).otherwise(
        F.coalesce(parsed, F.raise_error(message).cast(target))
    )
    return checked.alias(name)
