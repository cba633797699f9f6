"""Loading extracts: encodings, header mapping, formats and layouts, from files written here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from kpitool import open_data
from kpitool.errors import ConfigError, DataError

from builders import DEFAULT_BRANCHES, write_dataset

RAW_CLAIMS = (
    "赔案号,保单号,机构代码,渠道,险种类别,出险类型,出险日期,报案日期,结案日期,报案金额,是否调查,备注\n"
    'L1,P1,B1,individual,short,medical,2015/02/27,2015/03/01,2015/03/04,"12,345.60",是,急\n'
    "L2,P2,B2,group,long,death,2015/03/02,2015/03/05,,800,否,\n"
)
CATALOGUE = """datasets:
  claims:
    path: 理赔_*.csv
    {encoding}
    columns: {{赔案号: claim_id, 保单号: policy_id, 机构代码: branch_id, 渠道: channel,
               险种类别: product_line, 出险类型: claim_type, 出险日期: incident_date,
               报案日期: reported_at, 结案日期: closed_at, 报案金额: claimed_amount,
               是否调查: investigated}}
    date_format: "%Y/%m/%d"
    thousands: ","
    booleans: {{true: [是], false: [否]}}
"""


def _raw(tmp_path: Path, encoding: str, declared: bool) -> Path:
    data = RAW_CLAIMS.encode(encoding)
    (tmp_path / "理赔_2015.csv").write_bytes(data)
    line = f"encoding: {encoding.replace('utf-8-sig', 'utf-8')}" if declared else ""
    (tmp_path / "catalogue.yaml").write_text(CATALOGUE.format(encoding=line), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("utf-8", True),
        ("utf-8-sig", False),
        ("gbk", True),
        ("gb18030", True),
        ("gbk", False),
    ],
)
def test_mapped_gbk_and_utf8_exports_load(
    tmp_path: Path, encoding: str, declared: bool, monkeypatch
) -> None:
    monkeypatch.setenv("KPITOOL_CACHE", str(tmp_path / "cache"))
    claims = open_data(_raw(tmp_path, encoding, declared)).scan("claims").collect()
    assert claims["claim_id"].to_list() == ["L1", "L2"]
    assert claims["reported_at"].to_list() == [dt.date(2015, 3, 1), dt.date(2015, 3, 5)]
    assert claims["closed_at"].to_list() == [dt.date(2015, 3, 4), None]
    assert claims["claimed_amount"].to_list() == [12345.60, 800.0]
    assert claims["investigated"].to_list() == [True, False]
    assert claims["备注"].to_list() == ["急", None]  # unknown columns are kept
    assert claims["paid_amount"].dtype == pl.Float64  # nullable columns missing: typed nulls


@pytest.mark.parametrize(
    ("date_format", "text", "expected"),
    [
        ("%Y-%m-%d", "2015-03-01", dt.date(2015, 3, 1)),
        ("%Y/%m/%d", "2015/03/01", dt.date(2015, 3, 1)),
        ("%Y%m%d", "20150301", dt.date(2015, 3, 1)),
    ],
)
def test_date_formats(tmp_path: Path, date_format: str, text: str, expected: dt.date) -> None:
    (tmp_path / "calendar.csv").write_text(f"日期,是否工作日\n{text},Y\n", encoding="utf-8")
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  calendar:\n    path: calendar.csv\n"
        "    columns: {日期: date, 是否工作日: is_workday}\n"
        f'    date_format: "{date_format}"\n    booleans: {{true: [Y], false: [N]}}\n',
        encoding="utf-8",
    )
    frame = open_data(tmp_path).scan("calendar").collect()
    assert frame.row(0) == (expected, True)


def test_datetime_format_and_nulls(tmp_path: Path) -> None:
    (tmp_path / "complaints.csv").write_text(
        "complaint_id,branch_id,channel,source,received_at,due_at,closed_at,registered,"
        "flow_recorded,documents_kept\n"
        "Q1,B1,NULL,hotline,2015/03/01 08:30,2015/03/11 08:30,-,1,1,0\n",
        encoding="utf-8",
    )
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  complaints:\n    path: complaints.csv\n"
        '    datetime_format: "%Y/%m/%d %H:%M"\n    nulls: ["", NULL, "-"]\n',
        encoding="utf-8",
    )
    row = open_data(tmp_path).scan("complaints").collect().row(0, named=True)
    assert row["received_at"] == dt.datetime(2015, 3, 1, 8, 30)
    assert row["channel"] is None and row["closed_at"] is None
    assert (row["registered"], row["documents_kept"]) == (True, False)


def test_layouts_single_parquet_folder_and_glob(tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    folder = tmp_path / "inspections"
    folder.mkdir()
    header = "inspection_id,counter_id,inspected_on,findings,recheck_done\n"
    (folder / "2015-01.csv").write_text(header + "J1,C1,2015-01-05,0,\n", encoding="utf-8")
    (folder / "2015-02.csv").write_text(header + "J2,C1,2015-02-05,2,true\n", encoding="utf-8")
    source = open_data(tmp_path)
    assert source.scan("branches").collect().height == 2
    inspections = source.scan("inspections").collect()
    assert inspections["inspection_id"].to_list() == ["J1", "J2"]
    assert inspections["recheck_done"].to_list() == [None, True]


def test_monthly_files_with_different_columns_are_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "inspections"
    folder.mkdir()
    (folder / "2015-01.csv").write_text(
        "inspection_id,counter_id,inspected_on,findings\nJ1,C1,2015-01-05,0\n", encoding="utf-8"
    )
    (folder / "2015-02.csv").write_text(
        "inspection_id,counter_id,inspected_on,findings,note\nJ2,C1,2015-02-05,2,x\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DataError,
        match=r"2015-02.csv: columns differ from .*2015-01.csv "
        r"\(column note\)",
    ):
        open_data(tmp_path).scan("inspections")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("datasets:\n  claimz: {path: x.csv}\n", "datasets.claimz: unknown dataset"),
        ("datasets:\n  claims: {path: x.csv, encoding: latin1}\n", "datasets.claims.encoding"),
        (
            "datasets:\n  claims: {path: x.csv, columns: {赔案号: claim}}\n",
            "claims has no column 'claim'",
        ),
        ("datasets:\n  claims: {path: x.csv, colums: {}}\n", "datasets.claims.colums: unknown key"),
    ],
)
def test_catalogue_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "catalogue.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        open_data(tmp_path)


def test_undeclared_bad_bytes_are_reported(tmp_path: Path) -> None:
    (tmp_path / "branches.csv").write_bytes(
        b"branch_id,branch_name,parent_id,level\nB1,\xff\xfe\xfd,,city\n"
    )
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  branches: {path: branches.csv, encoding: gbk}\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"branches.csv: not valid gbk at byte"):
        open_data(tmp_path).scan("branches").collect()
