"""Reading one extract file: encodings (transcoded to UTF-8 in a cache), headers, value parsing.

CSV values are read as text and parsed per canonical column with the catalogue's formats, so
a value that does not parse can be named by file, row and column.
"""

from __future__ import annotations

import atexit
import codecs
import csv
import gzip
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from kpitool import cache
from kpitool.data.excel import is_excel, read_sheet
from kpitool.data.lines import LongLine, long_lines
from kpitool.data.schema import Dataset
from kpitool.errors import DataError

if TYPE_CHECKING:
    from kpitool.data.catalogue import SourceSpec

__all__ = [
    "ROW",
    "detect_encoding",
    "is_parquet",
    "location",
    "overlong",
    "parse_column",
    "ragged_row",
    "raw_frame",
    "utf8_path",
]

ROW = "__row"
_CHUNK = 1 << 20
_SNIFF = 1 << 16


def detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM) when the start decodes as UTF-8, else gb18030 (⊇ GBK)."""
    head = _sniff(path)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) < _SNIFF or exc.start < len(head) - 4:  # not a cut at the boundary
            return "gb18030"
    return "utf-8"


def _transcode(path: Path, encoding: str, target: Path) -> None:
    """Write `path` (gzip-compressed when it ends in .gz) as UTF-8 text, in chunks."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as source, open(target, "w", encoding="utf-8", newline="") as out:
            while chunk := source.read(_CHUNK):
                out.write(decoder.decode(chunk))
                offset += len(chunk)
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid {encoding} at byte {offset + exc.start} "
            f"(declare the file's encoding in the catalogue)"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress: {exc}") from None


def _sniff(path: Path) -> bytes:
    """The first bytes of a file's text (decompressed for .gz)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            return handle.read(_SNIFF)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot decompress: {exc}") from None


_COPIES: dict[tuple[str, int, int, str], Path] = {}


def _private_copy(path: Path, encoding: str) -> Path:
    """Under --no-cache: a UTF-8 copy in a private temporary folder, removed at exit."""
    info = path.stat()
    state = (str(path.resolve()), info.st_size, info.st_mtime_ns, encoding)
    if state in _COPIES and _COPIES[state].is_file():
        return _COPIES[state]
    try:
        folder = Path(tempfile.mkdtemp(prefix="kpitool-"))
    except OSError as exc:
        raise DataError(
            f"{path}: no temporary folder for its UTF-8 copy ({exc.strerror}): set TMPDIR"
        ) from None
    atexit.register(shutil.rmtree, folder, True)
    target = _COPIES[state] = folder / "utf8.csv"
    _transcode(path, encoding, target)
    return target


def utf8_path(path: Path, encoding: str) -> Path:
    """A UTF-8 copy of a GBK/GB18030 (or BOM, or gzip-compressed) file, in the user's cache
    keyed by the file's content and verified before each use; the file itself when it is
    plain UTF-8 already."""
    if encoding == "utf-8" and path.suffix.lower() != ".gz":
        return path
    store = cache.store()
    if store is None:
        return _private_copy(path, encoding)
    key = cache.make_key("utf8", cache.fingerprint(path), encoding)
    found = store.get_file("utf8", key, ".csv")
    if found is not None:
        return found
    return store.put_file("utf8", key, ".csv", lambda tmp: _transcode(path, encoding, tmp))


def _check_last_row(path: Path, delimiter: str, columns: int) -> None:
    """A file cut mid-write ends in a short row: read only the tail to find one."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - _SNIFF))
        tail = handle.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    if len(lines) < 2:
        return  # a header alone (or a tail of one long line)
    fields = next(csv.reader([lines[-1]], delimiter=delimiter), [])
    if 0 < len(fields) < columns:
        raise DataError(
            f"{path}: the last row has {len(fields)} of {columns} columns (a truncated file?)"
        )


def ragged_row(path: Path, spec: SourceSpec) -> int | None:
    """The first data row (1-based) with more fields than the header, read as a stream: the
    slow path once the reader has refused such a file."""
    csv.field_size_limit(1 << 31)
    encoding = spec.encoding or detect_encoding(path)
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=spec.delimiter)
        header = next(reader, [])
        for number, fields in enumerate(reader, start=1):
            if len(fields) > len(header):
                return number
    return None


def _check_header(names: list[str], where: str) -> None:
    """A header naming a column twice (`success,success`): Polars renames the second
    `success_duplicated_0`, and the first would silently win."""
    for name in names:
        base, marker, number = name.rpartition("_duplicated_")
        if marker and number.isdigit() and base in names:
            raise DataError(f"{where}: column {base} appears twice in the header")


def _readable(path: Path, spec: SourceSpec) -> tuple[Path, str]:
    """A CSV as UTF-8 text Polars can read (the file itself, or its copy) and its encoding."""
    encoding = spec.encoding or detect_encoding(path)
    if encoding == "utf-8" and detect_encoding(path) == "utf-8-sig":
        encoding = "utf-8-sig"
    return utf8_path(path, encoding), encoding


def overlong(path: Path, spec: SourceSpec) -> list[LongLine]:
    """A CSV's lines too long to be rows (none for Parquet and workbooks): Polars would hold
    each in memory, so a file with one is refused before Polars reads it."""
    if _format(path, spec) != "csv" or is_excel(path, spec):
        return []
    readable, encoding = _readable(path, spec)
    return long_lines(readable, spec.delimiter, path, encoding)


def location(path: Path, spec: SourceSpec, schema: Dataset) -> str:
    """A file as errors name it: the path, and for a workbook the sheet read."""
    if not is_excel(path, spec):
        return str(path)
    return f"{path}, sheet {read_sheet(path, spec, schema, ROW).name}"


def _format(path: Path, spec: SourceSpec) -> str:
    """How a file is read: `format:` says so, else its suffix (Parquet; CSV otherwise)."""
    return spec.format or ("parquet" if path.suffix == ".parquet" else "csv")


def is_parquet(path: Path, spec: SourceSpec) -> bool:
    """Whether a file is read as Parquet: `format:` says so, or its suffix does."""
    return _format(path, spec) == "parquet"


def raw_frame(
    path: Path, spec: SourceSpec, schema: Dataset, *, numbered: bool = True
) -> pl.LazyFrame:
    """One file with canonical column names and a 1-based `__row` (unless not `numbered`: a
    row index keeps filters out of the Parquet scan); CSV and Excel values as text (a
    workbook's `__row` is the row number Excel shows)."""
    renames = dict(spec.columns)
    fmt = _format(path, spec)
    where = str(path)
    try:
        if is_excel(path, spec):
            sheet = read_sheet(path, spec, schema, ROW)
            where = f"{path}, sheet {sheet.name}"
            frame = sheet.frame.lazy()
            names = [name for name in sheet.frame.columns if name != ROW]
        elif is_parquet(path, spec):
            frame = pl.scan_parquet(path)
            names = frame.collect_schema().names()
        else:
            readable, encoding = _readable(path, spec)
            for line in long_lines(readable, spec.delimiter, path, encoding)[:1]:
                raise DataError(line.describe(where))
            frame = pl.scan_csv(
                readable,
                infer_schema=False,
                separator=spec.delimiter,
                null_values=spec.nulls,
                raise_if_empty=True,
                truncate_ragged_lines=False,
            )
            names = frame.collect_schema().names()
            _check_header(names, where)
            _check_last_row(readable, spec.delimiter, len(names))
    except pl.exceptions.NoDataError:
        raise DataError(f"{path}: empty file (no header)") from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read as {fmt}: {first}") from None
    mapping = {name: renames.get(name.strip(), name.strip()) for name in names}
    duplicated = {v for v in mapping.values() if list(mapping.values()).count(v) > 1}
    if duplicated:
        raise DataError(f"{where}: column {sorted(duplicated)[0]} appears twice")
    if ROW in frame.collect_schema():  # a workbook's own row numbers
        return frame.rename(mapping).select(*([ROW] if numbered else []), *mapping.values())
    renamed = frame.rename(mapping)
    return renamed.with_row_index(ROW, offset=1) if numbered else renamed


_ISO_DATETIME = "%Y-%m-%d %H:%M:%S"  # the catalogue's default datetime format


def parse_column(text: pl.Expr, column_type: str, spec: SourceSpec, *, strict: bool) -> pl.Expr:
    """Parse a text column to its canonical type with the catalogue's formats.

    With strict=False a value that does not parse becomes null, which is how `data check`
    and error messages find it.
    """
    as_text = text.str.strip_chars()
    if column_type == "str":
        return as_text
    if column_type == "date":
        return as_text.str.to_date(spec.date_format, strict=strict)
    if column_type == "datetime" and spec.datetime_format == _ISO_DATETIME:
        # ISO 8601 as Polars and pandas write it: a `T` and fractional seconds are read too;
        # an offset (`+08:00`) is not, so it is reported as not a valid datetime.
        iso = as_text.str.replace(r"^(\d{4}-\d{2}-\d{2})T", "${1} ")
        return iso.str.to_datetime(f"{_ISO_DATETIME}%.f", time_unit="us", strict=strict)
    if column_type == "datetime":
        return as_text.str.to_datetime(spec.datetime_format, time_unit="us", strict=strict)
    if column_type == "bool":
        mapping = {v: flag for flag, values in spec.booleans.items() for v in values}
        if strict:
            return as_text.replace_strict(mapping, return_dtype=pl.Boolean)
        return as_text.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    number = (
        as_text.str.replace_all(spec.thousands, "", literal=True) if spec.thousands else as_text
    )
    dtype = pl.Int64 if column_type == "int" else pl.Float64
    return number.cast(dtype, strict=strict)
