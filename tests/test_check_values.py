"""Values that parse but cannot be true: `data check` flags each with file, row and column,
and evaluation leaves out the rows that would make a figure wrong (issue 19, item 5)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from kpitool import evaluate, query

from builders import DEFAULT_BRANCHES, write_dataset

HEADER = "ticket_id,counter_id,branch_id,arrived_at,called_at,finished_at,satisfaction\n"
GOOD = "T1,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n"
CALLED_BEFORE = "T2,C1,B1,2015-03-02 09:30:00,2015-03-02 09:10:00,2015-03-02 09:40:00,5\n"


def _counters(folder: Path) -> Path:
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(
        folder, "counters", [{"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"}]
    )
    return folder


def _visits(folder: Path, *rows: str, header: str = HEADER) -> Path:
    _counters(folder)
    (folder / "counter_visits.csv").write_text(header + "".join(rows), encoding="utf-8")
    return folder


def _check(cli, folder: Path, severity: str = "error") -> tuple[int, list[dict[str, object]]]:
    """Exit code and the problems of one severity (missing-dataset warnings left out)."""
    result = cli("data", "check", "--data", str(folder), "--format", "json")
    assert "Traceback" not in result.stderr
    problems = json.loads(result.stdout)["problems"]
    wanted = [p for p in problems if p["severity"] == severity]
    return result.exit_code, [p for p in wanted if p["kind"] != "missing_dataset"]


def _company(cli, folder: Path, rule: str) -> float | None:
    result = cli(
        "evaluate", "--data", str(folder), "--month", "2015-03", "--rule", rule, "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    rows = [r for r in json.loads(result.stdout) if r["scope"] == "company"]
    value: float | None = rows[0]["value"]
    return value


def _policy(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "policy_id": "P1",
        "branch_id": "B1",
        "channel": "individual",
        "policyholder_id": "H1",
        "product_line": "long",
        "is_group": False,
        "applied_at": "2015-03-02",
        "issued_at": "2015-03-03",
        "premium": 100.0,
        "status": "in_force",
    }
    return base | values


@pytest.mark.parametrize(
    ("premium", "kind", "message"),
    [
        (float("nan"), "not_finite", "premium is 'NaN', not a number (NaN or infinite)"),
        (float("inf"), "not_finite", "premium is 'inf', not a number (NaN or infinite)"),
        (1e308, "too_large", "premium is '1e+308', beyond any real amount (>= 1e+12)"),
        (-100.0, "negative", "premium is '-100.0', a negative amount"),
    ],
)
def test_amounts_that_cannot_be_true_are_errors(
    cli, tmp_path: Path, premium: float, kind: str, message: str
) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(tmp_path, "policies", [_policy(), _policy(policy_id="P2", premium=premium)])
    code, problems = _check(cli, tmp_path)
    assert code == 2
    assert [(p["severity"], p["kind"], p["row"], p["column"], p["message"]) for p in problems] == [
        ("error", kind, 2, "premium", message)
    ]
    assert problems[0]["file"] == str(tmp_path / "policies.parquet")


def test_satisfaction_outside_1_to_5_and_a_date_in_2099_are_errors(cli, tmp_path: Path) -> None:
    folder = _visits(
        tmp_path,
        GOOD,
        "T2,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,99\n",
        "T3,C1,B1,2099-03-02 09:00:00,2099-03-02 09:10:00,2099-03-02 09:15:00,5\n",
    )
    code, problems = _check(cli, folder)
    assert code == 2
    found = [(p["kind"], p["row"], p["column"]) for p in problems]
    assert ("out_of_range", 2, "satisfaction") in found
    assert {("future", 3, c) for c in ("arrived_at", "called_at", "finished_at")} <= set(found)
    assert all(p["file"] == str(folder / "counter_visits.csv") for p in problems)


def test_a_header_naming_a_column_twice_is_an_error(cli, tmp_path: Path) -> None:
    header = HEADER.replace("satisfaction", "arrived_at")
    folder = _visits(tmp_path, GOOD, header=header)
    code, problems = _check(cli, folder)
    assert code == 2
    assert [p["message"] for p in problems] == [
        f"{folder / 'counter_visits.csv'}: column arrived_at appears twice in the header"
    ]
    result = cli("evaluate", "--data", str(folder), "--month", "2015-03")
    assert result.exit_code == 2
    assert "appears twice in the header" in result.stderr


def test_a_row_with_extra_fields_is_an_error_naming_it(cli, tmp_path: Path) -> None:
    folder = _visits(tmp_path, GOOD, GOOD.replace("T1", "T2").rstrip("\n") + ",x" * 10_000 + "\n")
    code, problems = _check(cli, folder)
    assert code == 2
    assert [(p["kind"], p["row"], p["message"]) for p in problems] == [
        ("extra_fields", 2, "row 2 has more fields than the header")
    ]


def test_rows_the_rules_ignore_are_warnings_and_valid_data_exits_0(cli, tmp_path: Path) -> None:
    _counters(tmp_path)
    write_dataset(tmp_path, "staff", [{"employee_id": "E1", "branch_id": "B1", "role": "x"}])
    write_dataset(
        tmp_path,
        "appraisals",
        [
            {"employee_id": "E1", "period": "2015-03", "appraised": True},
            {"employee_id": "E9", "period": "2015-03", "appraised": True},
        ],
    )
    write_dataset(
        tmp_path,
        "inspections",
        [{"inspection_id": "J1", "counter_id": "C9", "inspected_on": "2015-03-02", "findings": 0}],
    )
    code, problems = _check(cli, tmp_path, "warning")
    assert code == 0
    unknown = [(p["severity"], p["dataset"], p["row"]) for p in problems]
    assert sorted(unknown) == [("warning", "appraisals", 2), ("warning", "inspections", 1)]


def test_a_visit_called_before_it_arrived_is_left_out_of_the_kpi(cli, tmp_path: Path) -> None:
    folder = _visits(tmp_path, GOOD, CALLED_BEFORE)
    code, problems = _check(cli, folder)
    assert code == 2
    assert [(p["kind"], p["row"]) for p in problems] == [("order", 2)]
    # only T1's 10 minutes: T2 (-20 minutes) would make the mean -5, a pass
    assert _company(cli, folder, "counter.queue_time_avg") == 10.0


def test_a_nan_amount_is_left_out_of_the_kpi(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {"claim_id": "c1", "branch_id": "B1", "claimed_amount": 100.0},
            {"claim_id": "c2", "branch_id": "B1", "claimed_amount": float("nan")},
        ],
    )
    result = cli(
        "query",
        "SELECT COUNT(*) AS n, SUM(claimed_amount) AS s FROM claims",
        "--data",
        str(tmp_path),
        "-f",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["n,s", "1,100.0"]


def test_zoned_parquet_datetimes_are_read_as_local_time(cli, tmp_path: Path) -> None:
    _counters(tmp_path)
    local = [dt.datetime(2015, 3, 2, 9, 0), dt.datetime(2015, 3, 2, 9, 10)]
    naive = pl.DataFrame(
        {
            "ticket_id": ["T1"],
            "counter_id": ["C1"],
            "branch_id": ["B1"],
            "arrived_at": [local[0]],
            "called_at": [local[1]],
            "finished_at": [local[1]],
            "satisfaction": [5],
        }
    )
    folder = tmp_path / "counter_visits"
    folder.mkdir()
    naive.write_parquet(folder / "2015-02.parquet")
    later = naive.with_columns(
        ticket_id=pl.lit("T2"),
        called_at=pl.lit(dt.datetime(2015, 3, 2, 9, 20)),
        finished_at=pl.lit(dt.datetime(2015, 3, 2, 9, 30)),
    )
    utc = later.with_columns(
        pl.col("arrived_at", "called_at", "finished_at")
        .dt.replace_time_zone("Asia/Shanghai")
        .dt.convert_time_zone("UTC")
    )
    utc.write_parquet(folder / "2015-03.parquet")
    code, problems = _check(cli, tmp_path, "warning")
    assert code == 0
    assert {(p["severity"], p["kind"], p["column"]) for p in problems} == {
        ("warning", "time_zone", c) for c in ("arrived_at", "called_at", "finished_at")
    }
    # read as UTC wall-clock, T2 would have arrived at 01:00
    result = cli(
        "query",
        "SELECT ticket_id, arrived_at FROM counter_visits ORDER BY ticket_id",
        "--data",
        str(tmp_path),
        "-f",
        "csv",
    )
    assert result.stdout.splitlines()[1:] == [
        "T1,2015-03-02T09:00:00.000000",
        "T2,2015-03-02T09:00:00.000000",
    ]


def test_a_20_mb_field_without_newline_gives_short_messages(cli, tmp_path: Path) -> None:
    huge = "x" * 20_000_000
    folder = _visits(tmp_path, GOOD.replace(",5\n", f",{huge}"))
    code, problems = _check(cli, folder)
    assert code == 2
    assert [(p["kind"], p["row"], p["column"]) for p in problems] == [
        ("long_line", 1, "satisfaction")
    ]
    length = len(GOOD) - len(",5\n") + len(",") + len(huge)
    assert problems[0]["message"] == (
        f"a line of {length:,} bytes, beyond the 1,048,576 a line may hold (a broken export?); "
        "the file's other rows are not checked"
    )
    table = cli("data", "check", "--data", str(folder))
    assert table.exit_code == 2 and len(table.stdout) < 10_000


def test_spark_leaves_out_the_same_rows_and_reads_zoned_times_alike(
    spark: Any, tmp_path: Path
) -> None:
    folder = _visits(tmp_path, GOOD, CALLED_BEFORE)
    polars_rows = evaluate("2015-03", folder, rule_ids=["counter.queue_time_avg"])
    spark_rows = evaluate("2015-03", folder, rule_ids=["counter.queue_time_avg"], engine="spark")
    company = pl.col("scope") == "company"
    assert polars_rows.filter(company)["value"].to_list() == [10.0]
    assert spark_rows.filter(company)["value"].to_list() == [10.0]
    zoned = tmp_path / "zoned"
    zoned.mkdir()
    _counters(zoned)
    stamp = pl.lit(dt.datetime(2015, 3, 2, 9, 0)).dt.replace_time_zone("Asia/Shanghai")
    pl.DataFrame({"ticket_id": ["T1"], "counter_id": ["C1"], "branch_id": ["B1"]}).with_columns(
        arrived_at=stamp.dt.convert_time_zone("UTC"),
        called_at=stamp.dt.convert_time_zone("UTC"),
        finished_at=stamp.dt.convert_time_zone("UTC"),
        satisfaction=pl.lit(5),
    ).write_parquet(zoned / "counter_visits.parquet")
    sql = "SELECT arrived_at FROM counter_visits"
    assert query(sql, zoned, engine="spark").item() == dt.datetime(2015, 3, 2, 9, 0)
    assert query(sql, zoned).item() == dt.datetime(2015, 3, 2, 9, 0)
