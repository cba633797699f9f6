"""Writing workbooks people filter and forward: typed cells, frozen filterable headers.

Every text cell is written with `write_string` (and the workbook refuses to turn strings into
formulas, links or numbers), so `=HYPERLINK(…)` as a counter name stays text. Numbers stay
numbers with a display format (a rate 0.9796 shows as 97.96%); sheet names are made legal;
the file is written to a temporary name and renamed, as every kpitool output.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from kpitool.output import atomic_path

__all__ = [
    "STATUS_COLOURS",
    "Formatter",
    "Styles",
    "display_width",
    "sheet_name",
    "workbook",
    "write_sheets",
    "write_table",
]

STATUS_COLOURS = {
    "pass": ("#e3f3e8", "#1e6b3a"),
    "warn": ("#fff1d6", "#8a5a00"),
    "fail": ("#fbe2df", "#a61b12"),
    "n/a": ("#ffffff", "#9aa5b1"),
}
"""(fill, font) per status: the heat map's colours in the PDF (report.css)."""
UNIT_FORMATS = {
    "rate": "0.00%",
    "ratio": "0.00%",
    "per_10k": '0.00"‱"',
    "minutes": "0.0",
    "count": "#,##0",
}
_ILLEGAL = re.compile(r"[\[\]:*?/\\]")
_WIDTH_SAMPLE = 2000
Formatter = Callable[[dict[str, Any], str], Format | None]
"""A cell's format from its row and column (None: the column's default)."""


def sheet_name(text: str, used: set[str]) -> str:
    """A legal, unique sheet name: no []:*?/\\, at most 31 characters, not blank, no
    apostrophe at either end."""
    base = _ILLEGAL.sub("_", text).strip("' ") or "Sheet"
    name, n = base[:31].rstrip("' "), 2
    while name.lower() in used:
        suffix = f"~{n}"
        name, n = base[: 31 - len(suffix)].rstrip("' ") + suffix, n + 1
    used.add(name.lower())
    return name


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character counts twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def workbook(path: Path | str) -> Workbook:
    """A workbook that never turns a string into a formula, a link or a number."""
    return xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd",
        },
    )


class Styles:
    """The formats of one workbook: header, units, dates and status colours."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        font = {"font_name": "Microsoft YaHei", "font_size": 10}
        self.text = book.add_format(font)
        self.header = book.add_format(
            {**font, "bold": True, "bg_color": "#1f3a5f", "font_color": "#ffffff", "border": 1}
        )
        self.title = book.add_format({**font, "bold": True, "font_size": 14})
        self.date = book.add_format({**font, "num_format": "yyyy-mm-dd"})
        self.datetime = book.add_format({**font, "num_format": "yyyy-mm-dd hh:mm"})
        self.number = book.add_format({**font, "num_format": "#,##0.00"})
        self.integer = book.add_format({**font, "num_format": "#,##0"})
        self.units = {
            unit: book.add_format({**font, "num_format": fmt}) for unit, fmt in UNIT_FORMATS.items()
        }
        self.status = {
            status: book.add_format(
                {**font, "bg_color": fill, "font_color": ink, "bold": status == "fail"}
            )
            for status, (fill, ink) in STATUS_COLOURS.items()
        }
        self._status_units: dict[tuple[str, str], Format] = {}

    def unit(self, unit: str) -> Format:
        return self.units.get(unit, self.number)

    def status_unit(self, status: str, unit: str) -> Format:
        """A value cell coloured by its status (the heat map's cells)."""
        key = (status, unit)
        if key not in self._status_units:
            fill, ink = STATUS_COLOURS.get(status, STATUS_COLOURS["n/a"])
            self._status_units[key] = self.book.add_format(
                {
                    "font_name": "Microsoft YaHei",
                    "font_size": 10,
                    "num_format": UNIT_FORMATS.get(unit, "#,##0.00"),
                    "bg_color": fill,
                    "font_color": ink,
                    "bold": status == "fail",
                    "align": "center",
                }
            )
        return self._status_units[key]


def _default_format(styles: Styles, dtype: pl.DataType) -> Format:
    if dtype == pl.Date:
        return styles.date
    if isinstance(dtype, pl.Datetime):
        return styles.datetime
    if dtype.is_integer():
        return styles.integer
    if dtype.is_float():
        return styles.number
    return styles.text


def _write_cell(sheet: Worksheet, row: int, col: int, value: Any, fmt: Format) -> None:
    """One cell by its Python type; text always as a string, never a formula."""
    if value is None or (isinstance(value, float) and value != value):
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, fmt)
    elif isinstance(value, dt.datetime | dt.date):
        sheet.write_datetime(row, col, value, fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def _widths(frame: pl.DataFrame, headers: list[str]) -> list[int]:
    """Column widths: text by its longest sampled cell (Chinese counted twice), numbers and
    dates by their shown format, not by a float's seventeen digits."""
    sample = frame.head(_WIDTH_SAMPLE)
    widths = []
    for name, header in zip(frame.columns, headers, strict=True):
        column = sample.get_column(name)
        if column.dtype == pl.String:
            texts = column.drop_nulls().to_list()
            longest = max((display_width(t) for t in texts), default=0)
        else:
            longest = 16 if isinstance(column.dtype, pl.Datetime) else 10
        widths.append(min(max(longest, display_width(header), 6) + 2, 60))
    return widths


def write_table(
    styles: Styles,
    name: str,
    frame: pl.DataFrame,
    *,
    headers: Mapping[str, str] | None = None,
    formats: Formatter | None = None,
    top: int = 0,
) -> Worksheet:
    """A sheet holding `frame` from row `top`: header frozen and filterable, columns sized
    for Chinese text, each cell typed (`formats` may choose a cell's format by its row).

    Columns named `_x` are not shown; `formats` reads them (a row's status, its unit)."""
    sheet = styles.book.add_worksheet(name)
    columns = [c for c in frame.columns if not c.startswith("_")]
    shown = [(headers or {}).get(c, c) for c in columns]
    for col, width in enumerate(_widths(frame.select(columns), shown)):
        sheet.set_column(col, col, width)
    for col, header in enumerate(shown):
        sheet.write_string(top, col, header, styles.header)
    defaults = [_default_format(styles, frame.schema[c]) for c in columns]
    for r, row in enumerate(frame.iter_rows(named=True), start=top + 1):
        for col, column in enumerate(columns):
            chosen = formats(row, column) if formats is not None else None
            _write_cell(sheet, r, col, row[column], chosen or defaults[col])
    sheet.freeze_panes(top + 1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # printed: as wide as the page, as long as it takes
    sheet.repeat_rows(top)
    sheet.autofilter(top, 0, top + max(frame.height, 1), max(len(columns) - 1, 0))
    return sheet


def write_sheets(
    output: Path | str,
    sheets: Mapping[str, pl.DataFrame],
    *,
    formats: Callable[[Styles], Formatter] | None = None,
) -> Path:
    """A workbook of one sheet per frame, written atomically to `output`; `formats` makes
    the cell formatter from the workbook's styles."""
    with atomic_path(output) as tmp:
        book = workbook(tmp)
        styles = Styles(book)
        chosen = formats(styles) if formats is not None else None
        used: set[str] = set()
        for title, frame in sheets.items():
            write_table(styles, sheet_name(title, used), frame, formats=chosen)
        book.close()
    return Path(output)
