"""kpitool data check: each problem kind with its file, row and column, and the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitool.resources import BUNDLED_DATA

from builders import DEFAULT_BRANCHES, write_dataset

HEADER = "ticket_id,counter_id,branch_id,arrived_at,called_at,finished_at,satisfaction\n"
GOOD = "T1,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n"


def _visits(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path, "counters", [{"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"}]
    )
    (tmp_path / "counter_visits.csv").write_text(header + "".join(rows), encoding="utf-8")
    return tmp_path


def _problems(cli, folder: Path) -> tuple[int, list[dict[str, object]]]:
    result = cli("data", "check", "--data", str(folder), "--format", "json")
    report = json.loads(result.stdout)
    assert report["ok"] is (result.exit_code == 0)
    return result.exit_code, [p for p in report["problems"] if p["severity"] == "error"]


@pytest.mark.parametrize(
    ("row", "kind", "column", "message"),
    [
        (
            "T2,C1,B1,2015-02-30 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n",
            "unparseable",
            "arrived_at",
            "'2015-02-30 09:00:00' is not a valid datetime",
        ),
        (
            "T2,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,five\n",
            "unparseable",
            "satisfaction",
            "'five' is not a valid int",
        ),
        (
            "T2,,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n",
            "null",
            "counter_id",
            "counter_id is empty but required",
        ),
        (
            "T2,C1,B1,2015-03-02 09:20:00,2015-03-02 09:10:00,2015-03-02 09:25:00,5\n",
            "order",
            "called_at",
            "called_at (2015-03-02 09:10:00.000000) is before arrived_at",
        ),
        (
            "T1,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,4\n",
            "duplicate_key",
            "ticket_id",
            "duplicate key ticket_id=T1",
        ),
        (
            "T2,C9,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n",
            "unknown_reference",
            "counter_id",
            "'C9' is not a counter_id in counters",
        ),
        (
            "T2,C1,B7,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n",
            "unknown_reference",
            "branch_id",
            "'B7' is not a branch_id in branches",
        ),
    ],
)
def test_each_problem_names_file_row_and_column(
    cli, tmp_path: Path, row: str, kind: str, column: str, message: str
) -> None:
    code, problems = _problems(cli, _visits(tmp_path, GOOD, row))
    assert code == 2
    assert [(p["kind"], p["column"], p["row"], p["message"]) for p in problems] == [
        (kind, column, 2, message)
    ]
    assert problems[0]["file"] == str(tmp_path / "counter_visits.csv")


def test_missing_required_column(cli, tmp_path: Path) -> None:
    header = "ticket_id,counter_id,branch_id,arrived_at,called_at,satisfaction\n"
    code, problems = _problems(
        cli,
        _visits(tmp_path, "T1,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,5\n", header=header),
    )
    assert code == 2
    assert (problems[0]["kind"], problems[0]["column"], problems[0]["row"]) == (
        "missing_column",
        "finished_at",
        None,
    )


def test_value_outside_the_allowed_ones(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    (tmp_path / "agents.csv").write_text(
        "agent_id,branch_id,channel,name,phone,person_id,status\n"
        "A1,B1,individual,王伟,13800000000,3201,active\n"
        "A2,B1,telesales,李娜,13800000001,3202,active\n",
        encoding="utf-8",
    )
    code, problems = _problems(cli, tmp_path)
    assert code == 2
    assert [(p["kind"], p["column"], p["row"]) for p in problems] == [("value", "channel", 2)]
    assert "'telesales' is not one of individual, bancassurance, group, other" in str(problems)


def test_clean_data_exits_0_with_warnings_for_missing_datasets(cli, tmp_path: Path) -> None:
    result = cli("data", "check", "--data", str(_visits(tmp_path, GOOD)))
    assert result.exit_code == 0, result.stdout
    assert "✓ no errors" in result.stdout
    assert "no claims dataset" in result.stdout


def test_table_caps_listed_rows_per_kind(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bad = [
        f"T{i},C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,x\n"
        for i in range(2, 12)
    ]
    result = cli("data", "check", "--data", str(_visits(tmp_path, GOOD, *bad)))
    assert result.exit_code == 2
    assert "… and 5 more unparseable problems" in result.stdout


def test_bundled_sample_data_and_raw_exports_are_clean(cli) -> None:
    assert cli("data", "check", "--data", str(BUNDLED_DATA)).exit_code == 0
    raw = cli("data", "check", "--data", str(BUNDLED_DATA / "raw"), "--format", "json")
    report = json.loads(raw.stdout)
    rows = {d["dataset"]: d["rows"] for d in report["datasets"]}
    assert raw.exit_code == 0 and rows["claims"] > 0 and rows["branches"] == 8


@pytest.mark.parametrize("merged_above", [0, 1_000_000], ids=["merged", "anti-join"])
def test_unknown_references_and_duplicate_keys_of_referenced_data_either_way(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged_above: int
) -> None:
    """A provincial set's 30 M policy ids are checked by merging sorted hashes, a city's few
    counters by an anti-join: both find the same rows (and a repeated counter_id)."""
    monkeypatch.setattr("kpitool.data.keys.MERGED_ABOVE", merged_above)
    visit = "{t},{c},{b},2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n"
    rows = [
        visit.format(t="T1", c="C1", b="B1"),
        visit.format(t="T2", c="C9", b="B1"),
        visit.format(t="T3", c="C1", b="B7"),
        visit.format(t="T4", c="C9", b="B1"),
        visit.format(t="T5", c="C2", b="B1"),
        visit.format(t="T6", c="C0", b="B2"),
    ]
    folder = _visits(tmp_path, *rows)
    counter = {"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"}
    write_dataset(tmp_path, "counters", [counter, {**counter, "counter_id": "C2"}] * 2)
    code, problems = _problems(cli, folder)
    assert code == 2
    assert sorted((p["dataset"], p["kind"], p["column"], p["row"]) for p in problems) == [
        ("counter_visits", "unknown_reference", "branch_id", 3),
        ("counter_visits", "unknown_reference", "counter_id", 2),
        ("counter_visits", "unknown_reference", "counter_id", 4),
        ("counter_visits", "unknown_reference", "counter_id", 6),
        ("counters", "duplicate_key", "counter_id", 3),
        ("counters", "duplicate_key", "counter_id", 4),
    ]
