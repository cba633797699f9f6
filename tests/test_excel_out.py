"""Workbooks handed out: `--format xlsx` and `report --format xlsx`, opened with openpyxl as
Excel would, checking sheet names, typed cells, number formats, colours and masking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kpitool.xlsx import sheet_name

from builders import write_dataset

FORMULA = '=HYPERLINK("http://x")'
FAIL_FILL = "FFFBE2DF"
PASS_FILL = "FFE3F3E8"


def _data(folder: Path) -> Path:
    """B1 closes 2 of its 3 claims within 5 days (66.67%, target 98%: fail); B2 both of its
    two (100%: pass). B2's claim named like a formula is over 2000 yuan, short-term and not
    investigated: claims.mandatory_investigation lists it. Agent A1's phone answered the
    callback of policy p1 in B1: callbacks.agent_phone lists it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(
        folder,
        "branches",
        [
            {"branch_id": "B1", "branch_name": "市区营业部", "level": "city"},
            {"branch_id": "B2", "branch_name": "丰县支公司", "level": "county", "parent_id": "B1"},
        ],
    )
    claims: list[dict[str, Any]] = [
        {
            "claim_id": "c1",
            "branch_id": "B1",
            "reported_at": "2015-03-02",
            "closed_at": "2015-03-04",
        },
        {
            "claim_id": "c2",
            "branch_id": "B1",
            "reported_at": "2015-03-03",
            "closed_at": "2015-03-08",
        },
        {
            "claim_id": "c3",
            "branch_id": "B1",
            "reported_at": "2015-03-04",
            "closed_at": "2015-03-20",
        },
        {
            "claim_id": "c4",
            "branch_id": "B2",
            "reported_at": "2015-03-05",
            "closed_at": "2015-03-06",
        },
        {
            "claim_id": FORMULA,
            "branch_id": "B2",
            "product_line": "short",
            "claim_type": "medical",
            "claimed_amount": 3000,
            "reported_at": "2015-03-05",
            "closed_at": "2015-03-06",
        },
    ]
    write_dataset(folder, "claims", claims)
    write_dataset(
        folder,
        "agents",
        [
            {
                "agent_id": "A1",
                "branch_id": "B1",
                "phone": "13800005678",
                "person_id": "PA1",
                "name": "王小明",
                "channel": "individual",
                "status": "active",
            }
        ],
    )
    write_dataset(
        folder,
        "policies",
        [
            {
                "policy_id": "p1",
                "branch_id": "B1",
                "agent_id": "A9",
                "policyholder_id": "H1",
                "channel": "individual",
                "applied_at": "2015-03-01",
                "issued_at": "2015-03-02",
            }
        ],
    )
    write_dataset(
        folder,
        "callbacks",
        [
            {
                "callback_id": "k1",
                "policy_id": "p1",
                "branch_id": "B1",
                "channel": "individual",
                "phone": "13800005678",
                "called_at": "2015-03-05 10:00:00",
                "success": True,
            }
        ],
    )
    return folder


def _rows(sheet: Any) -> list[list[Any]]:
    return [[cell for cell in row] for row in sheet.iter_rows()]


def _find(sheet: Any, column: str, value: str) -> dict[str, Any]:
    """The cells of the first row whose `column` holds `value`, by header."""
    rows = _rows(sheet)
    header = [c.value for c in rows[0]]
    for row in rows[1:]:
        if row[header.index(column)].value == value:
            return dict(zip(header, row, strict=True))
    raise AssertionError(f"no row with {column} = {value}")


def test_evaluate_xlsx_keeps_rates_as_numbers_with_a_percent_format(cli, tmp_path: Path) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "results.xlsx"
    result = cli(
        "evaluate", "-m", "2015-03", "--data", str(data), "--rule", "claims.closed_within_5d_rate",
        "--format", "xlsx", "--output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    sheet = openpyxl.load_workbook(out).active
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:P4"
    values = {(r[4].value, r[5].value): r for r in _rows(sheet)[1:]}
    b1, b2, company = values["branch", "B1"], values["branch", "B2"], values["company", "ALL"]
    header = [c.value for c in _rows(sheet)[0]]
    value, status = header.index("value"), header.index("status")
    assert b1[value].value == pytest.approx(2 / 3) and b1[value].number_format == "0.00%"
    assert b2[value].value == 1.0 and company[value].value == pytest.approx(4 / 5)
    assert b1[status].value == "fail" and b1[status].fill.fgColor.rgb == FAIL_FILL
    assert b2[status].fill.fgColor.rgb == PASS_FILL
    assert b1[header.index("numerator")].value == 2  # a count, a number


def test_xlsx_to_the_terminal_is_a_usage_error(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    for command in (
        ("evaluate", "-m", "2015-03"),
        ("query", "SELECT 1 AS x"),
        ("exceptions", "claims.mandatory_investigation", "-m", "2015-03"),
        ("data", "check"),
    ):
        result = cli(*command, "--data", str(data), "--format", "xlsx")
        assert result.exit_code == 2, command
        assert result.stderr.strip() == (
            "Error: --format xlsx needs --output FILE (a workbook is not terminal text)"
        )


def test_a_formula_looking_value_is_written_as_text(cli, tmp_path: Path) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "late.xlsx"
    result = cli(
        "exceptions", "claims.mandatory_investigation", "-m", "2015-03", "--data", str(data),
        "--format", "xlsx", "--output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    cell = _find(openpyxl.load_workbook(out).active, "claim_id", FORMULA)["claim_id"]
    assert cell.data_type == "s" and cell.value == FORMULA and cell.hyperlink is None
    row = _find(openpyxl.load_workbook(out).active, "claim_id", FORMULA)
    assert row["claimed_amount"].value == 3000.0  # a number, not text


def test_query_and_data_check_write_workbooks(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    out = tmp_path / "q.xlsx"
    sql = "SELECT branch_id, COUNT(*) AS n FROM claims GROUP BY branch_id ORDER BY branch_id"
    result = cli("query", sql, "--data", str(data), "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert [[c.value for c in r] for r in _rows(openpyxl.load_workbook(out).active)] == [
        ["branch_id", "n"],
        ["B1", 3],
        ["B2", 2],
    ]
    out = tmp_path / "check.xlsx"
    result = cli("data", "check", "--data", str(data), "--format", "xlsx", "-o", str(out))
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["数据集", "问题", "问题计数"]
    claims = _find(book["数据集"], "dataset", "claims")
    assert (claims["rows"].value, claims["files"].value) == (5, 1)


def _report(cli, data: Path, out: Path, *extra: str) -> Path:
    result = cli(
        "report", "-m", "2015-03", "--data", str(data), "--out", str(out), "--format", "xlsx",
        *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out / "2015-03"


def test_branch_workbook_scorecard_lists_and_notes(cli, tmp_path: Path) -> None:
    folder = _report(cli, _data(tmp_path / "data"), tmp_path / "out")
    assert sorted(p.name for p in folder.glob("*.xlsx")) == ["B1.xlsx", "B2.xlsx", "company.xlsx"]
    assert not list(folder.glob("*.html")) and not list(folder.glob("*.pdf"))
    book = openpyxl.load_workbook(folder / "B1.xlsx")
    assert book.sheetnames[0] == "指标计分卡" and book.sheetnames[-1] == "说明"
    assert {"疑似销售人员电话", "超2000元短险必调"} <= set(book.sheetnames)
    card = _find(book["指标计分卡"], "指标编号", "claims.closed_within_5d_rate")
    assert card["指标名称"].value == "理赔5日结案率"
    assert card["本期值"].value == pytest.approx(2 / 3)
    assert card["本期值"].number_format == "0.00%" and card["目标"].value == 0.98
    assert card["状态"].value == "未达标" and card["状态"].fill.fgColor.rgb == FAIL_FILL
    assert (card["排名"].value, card["参与排名单位数"].value) == (2, 2)
    phones = [c.value for row in book["疑似销售人员电话"].iter_rows(min_row=2) for c in row]
    assert "138****5678" in phones and "13800005678" not in phones
    notes = {r[0].value: r[1].value for r in _rows(book["说明"])[1:]}
    assert notes["报告期"] == "2015-03" and "已脱敏" in notes["个人信息"]
    assert book["超2000元短险必调"].max_row == 1  # B1 has none: the header alone


def test_company_workbook_grid_flat_table_and_company_wide_lists(cli, tmp_path: Path) -> None:
    folder = _report(cli, _data(tmp_path / "data"), tmp_path / "out")
    book = openpyxl.load_workbook(folder / "company.xlsx")
    assert book.sheetnames[:2] == ["各单位达标情况", "各单位计分卡"]
    grid = _find(book["各单位达标情况"], "指标编号", "claims.closed_within_5d_rate")
    assert grid["全市"].value == pytest.approx(0.8)
    assert grid["市区营业部 B1"].fill.fgColor.rgb == FAIL_FILL
    assert grid["丰县支公司 B2"].fill.fgColor.rgb == PASS_FILL
    assert grid["丰县支公司 B2"].number_format == "0.00%"
    flat = _rows(book["各单位计分卡"])
    header = [c.value for c in flat[0]]
    rates = [
        (r[header.index("单位代码")].value, r[header.index("本期值")].value)
        for r in flat[1:]
        if r[header.index("指标编号")].value == "claims.closed_within_5d_rate"
    ]
    assert rates == [("ALL", pytest.approx(0.8)), ("B1", pytest.approx(2 / 3)), ("B2", 1.0)]
    late = _find(book["超2000元短险必调"], "赔案号", FORMULA)
    assert late["机构代码"].value == "B2" and late["赔案号"].data_type == "s"
    assert late["出险类型"].value == "医疗"  # the report's words, as in the PDF
    assert late["报案金额"].value == 3000.0


def test_unmask_and_english(cli, tmp_path: Path) -> None:
    folder = _report(
        cli, _data(tmp_path / "data"), tmp_path / "out", "--unmask", "--lang", "en", "-b", "B1"
    )
    book = openpyxl.load_workbook(folder / "B1.xlsx")
    assert book.sheetnames[0] == "Scorecard" and book.sheetnames[-1] == "Notes"
    listed = next(n for n in book.sheetnames if n.startswith("Callbacks answered on an age"))
    assert listed == "Callbacks answered on an agent"  # 31 characters less the apostrophe
    phones = [c.value for row in book[listed].iter_rows(min_row=2) for c in row]
    assert "13800005678" in phones
    card = _find(book["Scorecard"], "rule", "claims.closed_within_5d_rate")
    assert card["status"].value == "fail"


def test_sheet_names_are_legal_short_and_unique() -> None:
    used: set[str] = set()
    first = sheet_name("理赔[2015]:清单*?/\\" + "长" * 40, used)
    assert len(first) == 31 and not set("[]:*?/\\") & set(first)
    second = sheet_name("理赔[2015]:清单*?/\\" + "长" * 40, used)
    assert second != first and second.endswith("~2") and len(second) == 31
    assert sheet_name("", used) == "Sheet"
    assert sheet_name("Callbacks answered on an agent's phone", used) == (
        "Callbacks answered on an agent"
    )
