"""A CSV line too long to be a row (a 200 MB field without a newline) is found by a pass over
the bytes before Polars reads the file: `data check` lists it with file, row and column and
checks the rest; evaluation refuses the file in one line (issue 19, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitool.data import lines

from builders import DEFAULT_BRANCHES, write_dataset

HEADER = "callback_id,policy_id,branch_id,channel,agent_id,called_at,phone,success\n"


def _row(number: int, agent: str = "A1", channel: str = "individual") -> str:
    return f"k{number},p1,B1,{channel},{agent},2015-03-02 09:00:00,13812345678,true\n"


def _callbacks(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    (folder / "callbacks.csv").write_text(HEADER + body, encoding="utf-8")
    return folder


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> int:
    """A bound of 1,000 bytes, so a test file of a few kilobytes is 'huge'."""
    monkeypatch.setattr(lines, "LONGEST_LINE", 1000)
    return 1000


def _long_lines(cli, folder: Path) -> tuple[int, list[dict[str, object]]]:
    result = cli("data", "check", "--data", str(folder), "--format", "json")
    assert "Traceback" not in result.stderr
    found = json.loads(result.stdout)
    return result.exit_code, [p for p in found["problems"] if p["kind"] == "long_line"]


def test_data_check_lists_each_long_line_with_row_and_column(
    cli, tmp_path: Path, small_bound: int
) -> None:
    body = _row(1) + _row(2, agent="A" * 5000) + _row(3) + _row(4, agent="B" * 3000)
    data = _callbacks(tmp_path, body)
    code, problems = _long_lines(cli, data)
    assert code == 2
    length = len(_row(2, agent="A" * 5000)) - 1  # the newline is not part of the line
    assert [(p["file"], p["row"], p["column"]) for p in problems] == [
        (str(data / "callbacks.csv"), 2, "agent_id"),
        (str(data / "callbacks.csv"), 4, "agent_id"),
    ]
    assert problems[0]["message"] == (
        f"a line of {length:,} bytes, beyond the 1,000 a line may hold (a broken export?); "
        "the file's other rows are not checked"
    )


def test_rows_are_counted_outside_quotes_and_columns_after_quoted_delimiters(
    cli, tmp_path: Path, small_bound: int
) -> None:
    # row 1 holds a quoted newline and row 2 a quoted comma before the long field; the last
    # row, long, has no newline after it
    body = _row(1, channel='"indi\nvidual"') + _row(2, channel='"a,b"') + _row(3)
    body += _row(4, channel='"x,y"', agent="C" * 2000).rstrip("\n")
    code, problems = _long_lines(cli, _callbacks(tmp_path, body))
    assert code == 2
    assert [(p["row"], p["column"]) for p in problems] == [(4, "agent_id")]


def test_evaluation_refuses_the_file_in_one_line(cli, tmp_path: Path, small_bound: int) -> None:
    data = _callbacks(tmp_path, _row(1) + _row(2, agent="A" * 5000))
    result = cli("evaluate", "-m", "2015-03", "--rule", "callbacks.", "--data", str(data))
    assert result.exit_code == 2
    length = len(_row(2, agent="A" * 5000)) - 1
    assert result.stderr == (
        f"Error: {data / 'callbacks.csv'}: row 2: column agent_id: a line of {length:,} "
        "bytes, beyond the 1,000 a line may hold (a broken export?)\n"
    )


def test_the_rest_of_the_data_is_still_checked(cli, tmp_path: Path, small_bound: int) -> None:
    data = _callbacks(tmp_path, _row(1, agent="A" * 5000))
    (data / "branches.parquet").unlink()
    branches = "branch_id,branch_name,parent_id,level\nB1,一,,city\nB1,二,,city\n"
    (data / "branches.csv").write_text(branches, encoding="utf-8")
    result = cli("data", "check", "--data", str(data), "--format", "json")
    kinds = {(p["dataset"], p["kind"]) for p in json.loads(result.stdout)["problems"]}
    assert {("callbacks", "long_line"), ("branches", "duplicate_key")} <= kinds


def test_lines_within_the_bound_are_read(cli, tmp_path: Path, small_bound: int) -> None:
    data = _callbacks(tmp_path, _row(1, agent="A" * 900) + _row(2))
    _, problems = _long_lines(cli, data)
    assert problems == []
    result = cli("query", "SELECT count(*) AS n FROM callbacks", "--data", str(data), "-f", "csv")
    assert result.stdout.splitlines() == ["n", "2"]


def test_the_default_bound_is_one_mebibyte(cli, tmp_path: Path) -> None:
    under = _callbacks(tmp_path / "under", _row(1, agent="A" * 1_000_000))
    assert _long_lines(cli, under)[1] == []
    over = _callbacks(tmp_path / "over", _row(1, agent="A" * (1 << 20)))
    assert [p["row"] for p in _long_lines(cli, over)[1]] == [1]


def test_a_gbk_file_is_scanned_too(cli, tmp_path: Path, small_bound: int) -> None:
    data = _callbacks(tmp_path, "")
    text = HEADER + _row(1, channel="个人") + _row(2, agent="甲" * 2000)
    (data / "callbacks.csv").write_bytes(text.encode("gbk"))
    code, problems = _long_lines(cli, data)
    assert code == 2
    assert [(p["row"], p["column"]) for p in problems] == [(2, "agent_id")]


def test_an_unknown_reference_is_quoted_short(cli, tmp_path: Path) -> None:
    data = _callbacks(tmp_path, _row(1, agent="Z" * 500_000))
    write_dataset(data, "agents", [{"agent_id": "A1", "branch_id": "B1"}])
    result = cli("data", "check", "--data", str(data), "--format", "json")
    unknown = [p for p in json.loads(result.stdout)["problems"] if p["column"] == "agent_id"]
    assert [p["message"] for p in unknown] == [
        "'" + "Z" * 78 + "… (500000 chars) is not a agent_id in agents"
    ]


def test_a_header_too_long_is_named_as_the_header(cli, tmp_path: Path, small_bound: int) -> None:
    data = _callbacks(tmp_path, _row(1))
    (data / "callbacks.csv").write_text(HEADER.rstrip("\n") + "x" * 2000 + "\n" + _row(1))
    code, problems = _long_lines(cli, data)
    assert code == 2
    assert [(p["row"], p["column"]) for p in problems] == [(None, None)]
    result = cli("query", "SELECT * FROM callbacks", "--data", str(data))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {data / 'callbacks.csv'}: header: a line of 2,")
