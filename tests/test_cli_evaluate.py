"""evaluate, exceptions and rules through the command line, on data the tests write."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from builders import DEFAULT_BRANCHES, write_dataset


@pytest.fixture
def claims_dir(tmp_path: Path) -> Path:
    """Three March claims: B1 closes one in 3 days and one in 9; B2 one in 5 (exactly)."""
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {
                "claim_id": "c1",
                "branch_id": "B1",
                "reported_at": "2015-03-02",
                "closed_at": "2015-03-05",
                "product_line": "short",
                "claimed_amount": 2500,
                "investigated": True,
            },
            {
                "claim_id": "c2",
                "branch_id": "B1",
                "reported_at": "2015-03-10",
                "closed_at": "2015-03-19",
                "product_line": "short",
                "claimed_amount": 3000,
                "investigated": False,
            },
            {
                "claim_id": "c3",
                "branch_id": "B2",
                "reported_at": "2015-03-20",
                "closed_at": "2015-03-25",
                "product_line": "long",
                "claimed_amount": 100,
            },
        ],
    )
    return tmp_path


def test_evaluate_json_has_the_kpis_md_shape(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate",
        "--month",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["scope"], r["scope_id"]) for r in rows] == [
        ("company", "ALL"),
        ("branch", "B1"),
        ("branch", "B2"),
    ]
    company, b1, b2 = rows
    # 2 of 3 claims closed within 5 days (3 days, exactly 5 days); 9 days is late.
    assert company == {
        "rule_id": "claims.closed_within_5d_rate",
        "period": "2015-03",
        "period_start": "2015-03-01",
        "period_end": "2015-03-31",
        "scope": "company",
        "scope_id": "ALL",
        "value": 0.666666666667,  # 2/3 to 12 significant digits
        "numerator": 2.0,
        "denominator": 3.0,
        "target": 0.98,
        "status": "fail",
    }
    assert (b1["value"], b1["status"]) == (0.5, "fail")
    assert (b2["value"], b2["status"]) == (1.0, "pass")


def test_evaluate_rule_prefix_status_filter_and_fail_on(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.",
        "--status",
        "fail",
        "--format",
        "json",
        "--fail-on",
        "fail",
    )
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert rows and all(r["status"] == "fail" for r in rows)
    assert all(r["rule_id"].startswith("claims.") for r in rows)
    # claims.mandatory_investigation: B1 has 2 short claims over 2000, 1 investigated.
    mandatory = {r["scope_id"]: r for r in rows if r["rule_id"] == "claims.mandatory_investigation"}
    assert mandatory["B1"]["value"] == 0.5


def test_evaluate_fail_on_passes_when_nothing_fails(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--branch",
        "B2",
        "--rule",
        "claims.closed_within_5d_rate",
        "--status",
        "pass",
        "--format",
        "csv",
    )
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("rule_id,period,period_start,period_end,scope,scope_id,value")
    assert len(lines) == 2 and ",branch,B2,1.0," in lines[1]


def test_evaluate_parquet_output_written_atomically(cli, claims_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.parquet"
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
        "--format",
        "parquet",
        "--output",
        str(target),
    )
    assert result.exit_code == 0, result.stderr
    frame = pl.read_parquet(target)
    assert frame.filter(pl.col("scope") == "company")["numerator"].to_list() == [2.0]
    assert [p.name for p in target.parent.iterdir()] == ["results.parquet"]


def test_evaluate_table_shows_chinese_titles(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
    )
    assert result.exit_code == 0
    assert "理赔5日结案率" in result.stdout and "66.7%" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2015-13"], "month must be 01..12"),
        (["--month", "March"], "expected one of 2015-03 (month), 2015-04-17"),
        (["--month", "0000-01"], "--period '0000-01': the year must be between 1901 and 9998"),
        (["--month", "9999-12"], "--period '9999-12': the year must be between 1901 and 9998"),
        (["--month", "2015-03", "--format", "xml"], "--format 'xml': expected one of"),
        (["--month", "2015-03", "--rule", "claims.closed_in_5d"], "unknown rule id"),
        (["--month", "2015-03", "--format", "parquet"], "--format parquet needs --output"),
        (["--month", "2015-03", "--fail-on", "maybe"], "--fail-on 'maybe'"),
    ],
)
def test_evaluate_usage_errors_are_one_line_exit_2(
    cli, claims_dir: Path, args: list[str], message: str
) -> None:
    result = cli("evaluate", "--data", str(claims_dir), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_missing_dataset_makes_rules_na_not_a_crash(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "complaints.on_time_rate",
        "--format",
        "json",
    )
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {r["status"] for r in rows} == {"n/a"}


def test_exceptions_lists_uninvestigated_claims(cli, claims_dir: Path) -> None:
    result = cli(
        "exceptions",
        "claims.mandatory_investigation",
        "--month",
        "2015-03",
        "--data",
        str(claims_dir),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["branch_id"], r["claim_id"]) for r in rows] == [("B1", "c2")]


def test_exceptions_of_a_non_detection_rule_is_an_error(cli, claims_dir: Path) -> None:
    result = cli(
        "exceptions",
        "claims.closed_within_5d_rate",
        "--month",
        "2015-03",
        "--data",
        str(claims_dir),
    )
    assert result.exit_code == 2
    assert "lists no exceptions" in result.stderr


def test_rules_validate_list_and_show(cli) -> None:
    validate = cli("rules", "validate")
    assert validate.exit_code == 0 and "33 rules valid" in validate.stdout
    listing = cli("rules", "list", "--format", "json")
    ids = [r["id"] for r in json.loads(listing.stdout)]
    assert "claims.closed_within_5d_rate" in ids and len(ids) == 33
    shown = cli("rules", "show", "counter.queue_time_avg")
    assert "minutes_between(arrived_at, called_at)" in shown.stdout


def test_trend_shows_months_of_the_year_side_by_side(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
        "--trend",
        "--format",
        "json",
    )
    rows = json.loads(result.stdout)
    assert sorted({r["period"] for r in rows}) == ["2015-01", "2015-02", "2015-03"]
    january = [r for r in rows if r["period"] == "2015-01"]
    assert {r["status"] for r in january} == {"n/a"}  # no claims reported in January
    table = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
        "--trend",
    )
    assert "67✗" in table.stdout and "01" in table.stdout  # 2/3 as a whole percent


def test_month_last_is_the_previous_calendar_month(cli, claims_dir: Path) -> None:
    import datetime as dt

    today = dt.date.today()
    expected = f"{today.year - (today.month == 1)}-{(today.month - 2) % 12 + 1:02d}"
    result = cli(
        "evaluate",
        "--month",
        "last",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
        "--format",
        "json",
        "--allow-empty",  # the test data is of 2015: last month has none
    )
    assert result.exit_code == 0
    assert {r["period"] for r in json.loads(result.stdout)} == {expected}


def test_logs_go_to_stderr_with_timestamps_and_quiet_silences_them(cli, claims_dir: Path) -> None:
    args = [
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(claims_dir),
        "--rule",
        "claims.closed_within_5d_rate",
        "--format",
        "json",
    ]
    verbose = cli("--verbose", *args)
    assert verbose.exit_code == 0
    json.loads(verbose.stdout)  # stdout stays clean JSON
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO kpitool: evaluated 1 rules", verbose.stderr, re.M
    )
    quiet = cli("--quiet", *args)
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_target_for_an_unknown_branch_is_a_one_line_error(cli, claims_dir: Path) -> None:
    write_dataset(
        claims_dir,
        "targets",
        [
            {
                "rule_id": "claims.closed_within_5d_rate",
                "branch_id": "B1",
                "period_end": "2015-12-31",
                "target": 0.9,
            },
            {
                "rule_id": "claims.closed_within_5d_rate",
                "branch_id": "B9",
                "period_end": "2015-12-31",
                "target": 0.9,
            },
        ],
    )
    result = cli("evaluate", "-m", "2015-03", "--data", str(claims_dir), "--format", "json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"Error: {claims_dir / 'targets.parquet'}: row 2: branch_id 'B9' is not a branch in "
        "branches"
    )


def test_json_is_byte_identical_across_runs(cli, claims_dir: Path) -> None:
    args = ["evaluate", "-m", "2015-03", "--data", str(claims_dir), "--format", "json"]
    assert cli(*args).stdout == cli(*args).stdout


def test_unparseable_value_names_file_row_and_column(cli, tmp_path: Path) -> None:
    header = (
        "claim_id,policy_id,branch_id,channel,agent_id,product_line,claim_type,"
        "incident_date,reported_at,closed_at,claimed_amount,paid_amount,expense_amount,"
        "investigated,investigation_positive,investigator_id\n"
    )
    good = "c1,p1,B1,individual,,short,medical,2015-03-01,2015-03-02,2015-03-04,100,,,false,,\n"
    bad = "c2,p1,B1,individual,,short,medical,2015-03-01,2015-02-30,2015-03-04,100,,,false,,\n"
    (tmp_path / "claims.csv").write_text(header + good + bad, encoding="utf-8")
    out = tmp_path / "results.json"
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(tmp_path),
        "--rule",
        "claims.closed_within_5d_rate",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {tmp_path / 'claims.csv'}: row 2: column reported_at: "
        "'2015-02-30' is not a valid date\n"
    )
    assert not out.exists()


def test_branch_option_limits_counter_rows_to_its_counters(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "counters",
        [
            {"counter_id": "C1", "branch_id": "B1", "counter_name": "市区柜面"},
            {"counter_id": "C2", "branch_id": "B2", "counter_name": "丰县柜面"},
        ],
    )
    write_dataset(
        tmp_path,
        "counter_visits",
        [
            {
                "ticket_id": "t1",
                "counter_id": "C1",
                "branch_id": "B1",
                "arrived_at": "2015-03-02 09:00:00",
                "called_at": "2015-03-02 09:04:00",
                "finished_at": "2015-03-02 09:10:00",
            },
            {
                "ticket_id": "t2",
                "counter_id": "C2",
                "branch_id": "B2",
                "arrived_at": "2015-03-02 09:00:00",
                "called_at": "2015-03-02 09:30:00",
                "finished_at": "2015-03-02 09:31:00",
            },
        ],
    )
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(tmp_path),
        "--rule",
        "counter.queue_time_avg",
        "--branch",
        "B2",
        "--format",
        "json",
    )
    rows = [(r["scope"], r["scope_id"], r["value"]) for r in json.loads(result.stdout)]
    # The company still counts both visits: (4 + 30) / 2 = 17 minutes.
    assert rows == [("company", "ALL", 17.0), ("branch", "B2", 30.0), ("counter", "C2", 30.0)]


def test_by_channel_adds_channel_rows(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {
                "claim_id": "c1",
                "branch_id": "B1",
                "channel": "individual",
                "reported_at": "2015-03-02",
                "closed_at": "2015-03-03",
            },
            {
                "claim_id": "c2",
                "branch_id": "B2",
                "channel": "individual",
                "reported_at": "2015-03-02",
                "closed_at": "2015-03-20",
            },
            {
                "claim_id": "c3",
                "branch_id": "B2",
                "channel": "group",
                "reported_at": "2015-03-02",
                "closed_at": "2015-03-04",
            },
        ],
    )
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(tmp_path),
        "--rule",
        "claims.closed_within_5d_rate",
        "--by",
        "channel",
        "--format",
        "json",
    )
    channels = {
        r["scope_id"]: r["value"] for r in json.loads(result.stdout) if r["scope"] == "channel"
    }
    assert channels == {"group": 1.0, "individual": 0.5}
    bad = cli("evaluate", "-m", "2015-03", "--data", str(tmp_path), "--by", "region")
    assert bad.exit_code == 2 and "--by 'region': expected one of" in bad.stderr


def test_version_and_every_command_help_has_an_example(cli) -> None:
    from kpitool import __version__

    version = cli("--version")
    assert version.exit_code == 0 and version.stdout.strip() == f"kpitool {__version__}"
    for command in (
        ["evaluate"],
        ["exceptions"],
        ["explain"],
        ["query"],
        ["report"],
        ["sample-data"],
        ["data", "check"],
        ["rules", "list"],
        ["rules", "show"],
        ["rules", "validate"],
        ["config", "show"],
    ):
        shown = cli(*command, "--help")
        assert shown.exit_code == 0, command
        assert "Example: kpitool" in shown.stdout, command


def test_csv_export_neutralises_spreadsheet_formulas(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {
                "claim_id": '=HYPERLINK("http://x")',
                "branch_id": "B1",
                "product_line": "short",
                "claimed_amount": 3000,
                "closed_at": "2015-03-02",
            },
            {
                "claim_id": "-2+3",
                "branch_id": "B1",
                "product_line": "short",
                "claimed_amount": 3000,
                "closed_at": "2015-03-03",
            },
        ],
    )
    result = cli(
        "exceptions",
        "claims.mandatory_investigation",
        "-m",
        "2015-03",
        "--data",
        str(tmp_path),
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("B1,'-2+3,") for line in lines)
    assert any(line.startswith("B1,\"'=HYPERLINK(") for line in lines)


def test_query_writes_parquet_output(cli, claims_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "q.parquet"
    result = cli(
        "query",
        "SELECT branch_id, COUNT(*) AS n FROM claims GROUP BY branch_id ORDER BY branch_id",
        "--data",
        str(claims_dir),
        "--format",
        "parquet",
        "--output",
        str(target),
    )
    assert result.exit_code == 0, result.stderr
    assert pl.read_parquet(target).rows() == [("B1", 2), ("B2", 1)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - id: claims.x\n    title: {zh: x, en: x\n", "YAML syntax error"),
        (
            "  - id: claims.x\n    title: {zh: x, en: x}\n    dataset: claims\n"
            "    measure: {kind: share, condition: investigated}\n"
            "    target: {op: '=>', value: 1}\n",
            "claims.x: target.op: expected one of <=, >=, =",
        ),
        (
            "  - id: claims.x\n    title: {zh: x, en: x}\n    dataset: claims\n"
            '    where: "claimd_amount > 2000"\n'
            "    measure: {kind: share, condition: investigated}\n",
            "claims.x: where: unknown column 'claimd_amount'",
        ),
        (
            "  - id: claims.x\n    title: {zh: x, en: x}\n    dataset: claims\n    colour: red\n"
            "    measure: {kind: count}\n",
            "claims.x: colour: unknown key",
        ),
        (
            "  - id: claims.x\n    title: {zh: x, en: x}\n    dataset: claims\n"
            "    measure: {kind: median, of: claimed_amount}\n",
            "claims.x: measure.kind: expected one of mean, sum, count",
        ),
    ],
)
def test_broken_rule_files_are_one_line_errors(
    cli, tmp_path: Path, body: str, message: str
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "section: '9'\ntitle: {zh: 测试, en: Test}\nrules:\n" + body, encoding="utf-8"
    )
    for command in (["evaluate", "-m", "2015-03"], ["rules", "validate"]):
        result = cli(*command, "--rules", str(tmp_path))
        assert result.exit_code == 2
        assert result.stderr.startswith(f"Error: {tmp_path / 'bad.yaml'}: ")
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
