"""Reading one sheet of an Excel workbook (xlsx, xlsm, xls, xlsb, ods) as text columns.

The sheet is read by calamine through fastexcel (the reader behind Polars' `read_excel`),
every column typed `string` explicitly: no sampled guess turns a policy number into a float
or drops a column whose first thousand cells are blank. Cells are then put in the
catalogue's spelling (a real Excel date in `date_format`, a TRUE cell in the first `booleans`
spelling of true), so the CSV parsing, errors and `data check` apply unchanged; `__row` is
the row number Excel shows.
"""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import fastexcel
import polars as pl

from kpitool.data.schema import Dataset
from kpitool.errors import DataError

if TYPE_CHECKING:
    from kpitool.data.catalogue import SourceSpec

__all__ = [
    "EXCEL_FORMATS",
    "EXCEL_SUFFIXES",
    "ExcelSheet",
    "forget_sheets",
    "is_excel",
    "read_sheet",
]

EXCEL_FORMATS = ("xlsx", "xlsm", "xls", "xlsb", "ods")
EXCEL_SUFFIXES = tuple(f".{f}" for f in EXCEL_FORMATS)
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_UNNAMED = "__UNNAMED__"
_CELL_DATETIME = "%Y-%m-%d %H:%M:%S%.f"
"""How fastexcel writes a date or datetime cell as text."""
_CACHE: dict[tuple[object, ...], ExcelSheet] = {}
_CACHE_SIZE = 8


@dataclass(frozen=True)
class ExcelSheet:
    """One sheet read: its name, its rows as text with source headers, and `__row`."""

    name: str
    frame: pl.DataFrame


def is_excel(path: Path, spec: SourceSpec) -> bool:
    """Whether a file is read as a workbook: `format:` says so, or its suffix does."""
    if spec.format is not None:
        return spec.format in EXCEL_FORMATS
    return path.suffix.lower() in EXCEL_SUFFIXES


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open(path: Path) -> fastexcel.ExcelReader:
    """The workbook, or a one-line error for a missing, encrypted or corrupt file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head == _OLE_MAGIC and path.suffix.lower() in (".xlsx", ".xlsm", ".xlsb"):
        raise DataError(
            f"{path}: the workbook is password-protected (encrypted); save it without a "
            "password to read it"
        )
    try:
        return fastexcel.read_excel(str(path))
    except fastexcel.FastExcelError as exc:
        message = _first_line(exc)
        if "password" in message.lower():
            raise DataError(f"{path}: the workbook is password-protected") from None
        raise DataError(f"{path}: not a readable workbook (corrupt?): {message}") from None


def _sheet_index(reader: fastexcel.ExcelReader, path: Path, spec: SourceSpec) -> int:
    """The sheet the catalogue names (a name, or a 0-based index), else the first visible."""
    names = list(reader.sheet_names)
    wanted = spec.sheet
    if isinstance(wanted, int):
        if not 0 <= wanted < len(names):
            raise DataError(
                f"{path}: no sheet {wanted} (the workbook has {len(names)}: {', '.join(names)})"
            )
        return wanted
    if isinstance(wanted, str):
        if wanted not in names:
            raise DataError(f"{path}: no sheet {wanted!r} (sheets: {', '.join(names)})")
        return names.index(wanted)
    if len(names) == 1:
        return 0
    hidden = _hidden_sheets(path)
    for index, name in enumerate(names):
        if hidden is None and reader.load_sheet(index, n_rows=0).visible == "visible":
            return index
        if hidden is not None and name not in hidden:
            return index
    raise DataError(f"{path}: no visible sheet")


_SHEET_TAG = re.compile(r"<(?:\w+:)?sheet\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(name|state)="([^"]*)"')


def _hidden_sheets(path: Path) -> set[str] | None:
    """The hidden sheets of an xlsx/xlsm workbook, from its workbook.xml alone (asking
    calamine would parse a sheet in full); None when the file is not such a zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            text = archive.read("xl/workbook.xml").decode("utf-8", errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    hidden = set()
    for tag in _SHEET_TAG.findall(text):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("state") in ("hidden", "veryHidden"):
            hidden.add(html.unescape(attributes.get("name", "")))
    return hidden


def forget_sheets() -> None:
    """Drop the cached sheets (a benchmark timing reads, or a long-lived process)."""
    _CACHE.clear()


def _headers(reader: fastexcel.ExcelReader, index: int, header: int, names: list[str]) -> list[str]:
    """Header names; a blank header cell under a cell merged down from above (保单号 over two
    header rows) takes the text above it."""
    if header == 0 or not any(n.startswith(_UNNAMED) for n in names):
        return names
    above = reader.load_sheet(
        index, header_row=None, skip_rows=0, n_rows=header, dtypes="string"
    ).to_polars()
    found = []
    for position, name in enumerate(names):
        if name.startswith(_UNNAMED) and position < above.width:
            texts = [t for t in above.to_series(position).to_list() if t and t.strip()]
            name = texts[-1].strip() if texts else name
        found.append(name)
    return found


def _load(path: Path, spec: SourceSpec, row: str) -> ExcelSheet:
    reader = _open(path)
    index = _sheet_index(reader, path, spec)
    name = reader.sheet_names[index]
    header = spec.header_row - 1
    try:
        sheet = reader.load_sheet(
            index,
            header_row=header,
            dtypes="string",
            skip_whitespace_tail_rows=True,
            whitespace_as_null=True,
        )
        frame = sheet.to_polars()
    except fastexcel.FastExcelError as exc:
        raise DataError(f"{path}, sheet {name}: cannot read: {_first_line(exc)}") from None
    if frame.width == 0:
        raise DataError(f"{path}, sheet {name}: no header in row {spec.header_row}")
    headers = _headers(reader, index, header, frame.columns)
    keep = [
        (old, new.strip())
        for old, new in zip(frame.columns, headers, strict=True)
        if not new.startswith(_UNNAMED) or frame[old].null_count() < frame.height
    ]
    frame = frame.select(pl.col(old).alias(new) for old, new in keep)
    frame = frame.with_row_index(row, offset=spec.header_row + 1)
    frame = frame.filter(pl.any_horizontal(pl.exclude(row).is_not_null()))
    return ExcelSheet(name, frame)


def _cell_spelling(
    frame: pl.DataFrame, spec: SourceSpec, schema: Dataset, renames: dict[str, str]
) -> pl.DataFrame:
    """Date and boolean cells in the catalogue's spelling, so they parse as CSV text does;
    the catalogue's `nulls` spellings become empty cells."""
    nulls = [n for n in spec.nulls if n]
    if nulls:
        frame = frame.with_columns(
            pl.when(pl.col(c).is_in(nulls)).then(None).otherwise(pl.col(c)).alias(c)
            for c in frame.columns
            if frame.schema[c] == pl.String
        )
    true_text = spec.booleans.get(True, ["true"])[0]
    false_text = spec.booleans.get(False, ["false"])[0]
    changes = []
    for source in frame.columns:
        canonical = renames.get(source, source)
        if canonical not in schema.column_names:
            continue
        kind = schema.column(canonical).type
        text = pl.col(source)
        if kind in ("date", "datetime"):
            cell = text.str.to_datetime(_CELL_DATETIME, strict=False, time_unit="us")
            shown = cell.dt.strftime(spec.date_format if kind == "date" else spec.datetime_format)
            changes.append(pl.coalesce(shown, text).alias(source))
        elif kind == "bool":
            changes.append(
                pl.when(text == "true")
                .then(pl.lit(true_text))
                .when(text == "false")
                .then(pl.lit(false_text))
                .otherwise(text)
                .alias(source)
            )
    return frame.with_columns(changes) if changes else frame


def read_sheet(path: Path, spec: SourceSpec, schema: Dataset, row: str) -> ExcelSheet:
    """The catalogue's sheet of one workbook, as text in the catalogue's spelling, with the
    Excel row number in column `row`; cached by the file's identity (a workbook cannot be
    scanned lazily, and a run reads it more than once)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    key = (
        str(path.resolve()),
        stat.st_size,
        stat.st_mtime_ns,
        spec.model_dump_json(),
        schema.name,
        row,
    )
    if key not in _CACHE:
        loaded = _load(path, spec, row)
        frame = _cell_spelling(loaded.frame, spec, schema, dict(spec.columns))
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = ExcelSheet(loaded.name, frame)
    return _CACHE[key]
