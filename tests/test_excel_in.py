"""Excel extracts: workbooks written here (openpyxl) read through the catalogue give the same
rows as the same data in CSV, and every broken workbook is a one-line error naming the file,
the sheet, the row as Excel numbers it and the column."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from kpitool import open_data
from kpitool.errors import DataError

from builders import DEFAULT_BRANCHES, write_dataset

HEADER = ["赔案号", "保单号", "机构代码", "渠道", "险种类别", "出险类型"]
HEADER += ["出险日期", "报案日期", "结案日期", "报案金额", "是否调查", "备注"]
ROWS: list[list[Any]] = [
    [
        *("L1", "P1", "B1", "individual", "short", "medical"),
        *(dt.date(2015, 2, 27), dt.date(2015, 3, 1), dt.date(2015, 3, 4), 12345.6, "是", "急"),
    ],
    [
        *("L2", 1234567890123, "B2", "group", "long", "death"),
        *("2015/03/02", "2015/03/05", None, 800, "否", None),
    ],
]
CSV = (
    ",".join(HEADER) + "\n"
    'L1,P1,B1,individual,short,medical,2015/02/27,2015/03/01,2015/03/04,"12,345.60",是,急\n'
    "L2,1234567890123,B2,group,long,death,2015/03/02,2015/03/05,,800,否,\n"
)
MAPPING = """    columns: {赔案号: claim_id, 保单号: policy_id, 机构代码: branch_id, 渠道: channel,
               险种类别: product_line, 出险类型: claim_type, 出险日期: incident_date,
               报案日期: reported_at, 结案日期: closed_at, 报案金额: claimed_amount,
               是否调查: investigated}
    date_format: "%Y/%m/%d"
    thousands: ","
    booleans: {true: [是], false: [否]}
"""


def _catalogue(folder: Path, path: str, extra: str = "") -> None:
    text = f"datasets:\n  claims:\n    path: {path}\n{extra}{MAPPING}"
    (folder / "catalogue.yaml").write_text(text, encoding="utf-8")


def _workbook(path: Path, rows: list[list[Any]], *, title: bool = True) -> None:
    """A 理赔清单 sheet as a core system exports it: a merged title row above the header,
    real date cells and text dates mixed, and a hidden sheet first."""
    book = openpyxl.Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "参数"
    hidden["A1"] = "内部参数"
    hidden.sheet_state = "hidden"
    sheet = book.create_sheet("理赔清单")
    if title:
        sheet.append(["2015年3月理赔清单"])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)


def test_a_workbook_reads_like_the_same_rows_in_csv(tmp_path: Path) -> None:
    xlsx, csv = tmp_path / "xlsx", tmp_path / "csv"
    xlsx.mkdir()
    csv.mkdir()
    _workbook(xlsx / "理赔清单.xlsx", ROWS)
    _catalogue(xlsx, "理赔清单.xlsx", "    header_row: 2\n")
    (csv / "理赔.csv").write_text(CSV, encoding="utf-8")
    _catalogue(csv, "理赔.csv")
    from_excel = open_data(xlsx).scan("claims").collect()
    from_csv = open_data(csv).scan("claims").collect()
    assert from_excel.equals(from_csv)
    assert from_excel["policy_id"].to_list() == ["P1", "1234567890123"]  # not 1.23e12
    assert from_excel["reported_at"].to_list() == [dt.date(2015, 3, 1), dt.date(2015, 3, 5)]
    assert from_excel["investigated"].to_list() == [True, False]
    assert from_excel["claimed_amount"].to_list() == [12345.6, 800.0]


def test_sheet_by_name_or_index_and_the_hidden_sheet_is_skipped(tmp_path: Path) -> None:
    _workbook(tmp_path / "c.xlsx", ROWS)
    for sheet in ("", "    sheet: 理赔清单\n", "    sheet: 1\n"):
        _catalogue(tmp_path, "c.xlsx", f"{sheet}    header_row: 2\n")
        claims = open_data(tmp_path).scan("claims").collect()
        assert claims["claim_id"].to_list() == ["L1", "L2"], sheet
    _catalogue(tmp_path, "c.xlsx", "    sheet: 0\n    header_row: 2\n")
    with pytest.raises(DataError, match=r"c.xlsx, sheet 参数: no header in row 2"):
        open_data(tmp_path).scan("claims").collect()
    _catalogue(tmp_path, "c.xlsx", "    sheet: 清单\n")
    with pytest.raises(DataError, match=r"c.xlsx: no sheet '清单' \(sheets: 参数, 理赔清单\)"):
        open_data(tmp_path).scan("claims")


def test_trailing_empty_rows_and_a_blank_column_are_kept_right(tmp_path: Path) -> None:
    """Formatted but empty rows at the end are not rows; a column blank for its first
    thousand rows is still read, as text, in full."""
    rows = [[f"L{i}", f"P{i}", "B1", "group", "long", "death"] for i in range(1200)]
    rows = [[*r, "2015/03/02", "2015/03/05", None, 1, "否", None] for r in rows]
    rows[-1][11] = "最后一行有备注"
    _workbook(tmp_path / "c.xlsx", rows)
    book = openpyxl.load_workbook(tmp_path / "c.xlsx")
    sheet = book["理赔清单"]
    for row in range(1203, 1210):
        sheet.cell(row=row, column=1).number_format = "0.00"
        sheet.cell(row=row, column=2).value = "   "
    book.save(tmp_path / "c.xlsx")
    _catalogue(tmp_path, "c.xlsx", "    header_row: 2\n")
    claims = open_data(tmp_path).scan("claims").collect()
    assert claims.height == 1200
    assert claims["备注"].null_count() == 1199
    assert claims["备注"][-1] == "最后一行有备注"


def test_a_header_cell_merged_down_over_two_header_rows(tmp_path: Path) -> None:
    """保单号 merged over rows 1-2 beside 日期 merged across its two columns: the header is
    row 2, and the cell merged down from row 1 gives its name."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["日期", None, "保单号", "机构代码"])
    sheet.append(["出险日期", "报案日期", None, None])
    sheet.merge_cells("A1:B1")
    sheet.merge_cells("C1:C2")
    sheet.merge_cells("D1:D2")
    sheet.append([dt.date(2015, 3, 1), dt.date(2015, 3, 2), "P1", "B1"])
    book.save(tmp_path / "policies.xlsx")
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  claims:\n    path: policies.xlsx\n    header_row: 2\n"
        "    columns: {出险日期: incident_date, 报案日期: reported_at, 保单号: policy_id,"
        " 机构代码: branch_id}\n",
        encoding="utf-8",
    )
    raw = open_data(tmp_path)
    frame = raw.raw("claims", tmp_path / "policies.xlsx").collect()
    assert frame.columns == ["__row", "incident_date", "reported_at", "policy_id", "branch_id"]
    assert frame.row(0) == (3, "2015-03-01", "2015-03-02", "P1", "B1")


def test_a_canonical_folder_may_hold_dataset_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["branch_id", "branch_name", "level", "parent_id"])
    sheet.append(["B1", "市区营业部", "city", None])
    sheet.append(["B2", "丰县支公司", "county", "B1"])
    book.save(tmp_path / "branches.xlsx")
    book.save(tmp_path / "~$branches.xlsx")  # Excel's lock file beside an open workbook
    source = open_data(tmp_path)
    assert source.files("branches") == [tmp_path / "branches.xlsx"]
    assert source.scan("branches").collect()["parent_id"].to_list() == [None, "B1"]


def _bad_date_workbook(tmp_path: Path) -> Path:
    rows = [list(ROWS[0]), list(ROWS[1]), list(ROWS[1])]
    rows[2][0], rows[2][7] = "L3", "2015/13/01"
    _workbook(tmp_path / "理赔清单.xlsx", rows)
    _catalogue(tmp_path, "理赔清单.xlsx", "    header_row: 2\n")
    return tmp_path


def test_a_bad_value_names_file_sheet_excel_row_and_column(cli, tmp_path: Path) -> None:
    data = _bad_date_workbook(tmp_path)
    write_dataset(data, "branches", DEFAULT_BRANCHES)
    result = cli("evaluate", "-m", "2015-03", "--data", str(data), "--rule", "claims.")
    assert result.exit_code == 2
    # title row 1, header row 2, L1 row 3, L2 row 4, L3 row 5
    assert result.stderr.strip() == (
        f"Error: {data / '理赔清单.xlsx'}, sheet 理赔清单: row 5: column reported_at: "
        "'2015/13/01' is not a valid date"
    )


def test_data_check_lists_the_problem_with_sheet_and_excel_row(cli, tmp_path: Path) -> None:
    data = _bad_date_workbook(tmp_path)
    result = cli("data", "check", "--data", str(data), "--format", "json")
    assert result.exit_code == 2
    problems = [p for p in json.loads(result.stdout)["problems"] if p["dataset"] == "claims"]
    assert problems[0]["file"] == f"{data / '理赔清单.xlsx'}, sheet 理赔清单"
    assert (problems[0]["row"], problems[0]["column"]) == (5, "reported_at")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 not really a zip", "not a readable workbook (corrupt?)"),
        (bytes.fromhex("D0CF11E0A1B11AE1") + bytes(1024), "the workbook is password-protected"),
        (b"", "not a readable workbook (corrupt?)"),
    ],
    ids=["corrupt", "encrypted", "empty"],
)
def test_a_corrupt_or_encrypted_workbook_is_one_line(
    cli, tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "理赔清单.xlsx").write_bytes(content)
    _catalogue(tmp_path, "理赔清单.xlsx")
    result = cli("query", "SELECT COUNT(*) AS n FROM claims", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {tmp_path / '理赔清单.xlsx'}: {message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_header_row_past_the_end_is_an_error(tmp_path: Path) -> None:
    _workbook(tmp_path / "c.xlsx", ROWS)
    _catalogue(tmp_path, "c.xlsx", "    header_row: 40\n")
    with pytest.raises(DataError, match=r"c.xlsx, sheet 理赔清单: no header in row 40"):
        open_data(tmp_path).scan("claims")


def test_excel_datetime_cells_read_as_datetimes(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["complaint_id", "branch_id", "source", "received_at", "due_at"])
    sheet.append(["Q1", "B1", "hotline", dt.datetime(2015, 3, 1, 8, 30), "2015/03/11 08:30"])
    sheet.append(["Q2", "B1", "hotline", dt.datetime(2015, 3, 2, 9, 0), None])
    for row, flag in ((1, "registered"), (2, 1), (3, True)):
        for column in (6, 7, 8):
            sheet.cell(row=row, column=column).value = (
                ["registered", "flow_recorded", "documents_kept"][column - 6] if row == 1 else flag
            )
    book.save(tmp_path / "complaints.xlsx")
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  complaints:\n    path: complaints.xlsx\n"
        '    datetime_format: "%Y/%m/%d %H:%M"\n',
        encoding="utf-8",
    )
    frame = open_data(tmp_path).scan("complaints").collect()
    assert frame["received_at"].to_list() == [
        dt.datetime(2015, 3, 1, 8, 30),
        dt.datetime(2015, 3, 2, 9, 0),
    ]
    assert frame["due_at"].to_list() == [dt.datetime(2015, 3, 11, 8, 30), None]
    assert frame["registered"].to_list() == [True, True]
    assert frame.schema["received_at"] == pl.Datetime("us")


def test_a_duplicate_key_is_named_by_its_excel_row(cli, tmp_path: Path) -> None:
    rows = [list(ROWS[0]), list(ROWS[1]), list(ROWS[0])]  # L1 again in Excel row 5
    _workbook(tmp_path / "理赔清单.xlsx", rows)
    _catalogue(tmp_path, "理赔清单.xlsx", "    header_row: 2\n")
    result = cli("data", "check", "--data", str(tmp_path), "--format", "json")
    problems = [p for p in json.loads(result.stdout)["problems"] if p["kind"] == "duplicate_key"]
    assert [(p["row"], p["file"]) for p in problems] == [
        (5, f"{tmp_path / '理赔清单.xlsx'}, sheet 理赔清单")
    ]


def test_an_old_xls_workbook_reads_like_the_xlsx(tmp_path: Path) -> None:
    """tests/files/branches_with_title.xls: sample_data/raw/机构清单.xlsx saved as Excel 97
    by LibreOffice (title row 1, header row 2)."""
    from kpitool.resources import BUNDLED_DATA

    shutil.copy(Path(__file__).parent / "files" / "branches_with_title.xls", tmp_path / "b.xls")
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  branches:\n    path: b.xls\n    header_row: 2\n"
        "    columns: {机构代码: branch_id, 机构名称: branch_name, 上级机构: parent_id,"
        " 机构级别: level}\n",
        encoding="utf-8",
    )
    old = open_data(tmp_path).scan("branches").collect()
    assert old.equals(open_data(BUNDLED_DATA / "raw").scan("branches").collect())
    assert old.height == 8 and old["branch_id"][0] == "B01"
