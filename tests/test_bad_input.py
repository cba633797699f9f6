"""Broken extracts: a one-line error (or a data-check problem) and exit 2, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitool.errors import KpiError
from kpitool.resources import BUNDLED_DATA

from builders import DEFAULT_BRANCHES, write_dataset

CLAIMS_HEADER = (
    "claim_id,policy_id,branch_id,channel,agent_id,product_line,claim_type,"
    "incident_date,reported_at,closed_at,claimed_amount,paid_amount,expense_amount,"
    "investigated,investigation_positive,investigator_id\n"
)
GOOD_ROW = "c1,p1,B01,individual,,short,medical,2015-03-01,2015-03-02,2015-03-04,100,,,false,,\n"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the bundled sample data to break."""
    target = tmp_path / "data"
    shutil.copytree(BUNDLED_DATA, target, ignore=shutil.ignore_patterns("raw"))
    return target


def _corrupt(folder: Path, kind: str) -> str:
    """Break the sample data one way; return the text the error must contain."""
    claims = folder / "claims.parquet"
    if kind == "truncated_parquet":
        claims.write_bytes(claims.read_bytes()[:300])
        return "claims.parquet"
    if kind == "not_parquet":
        claims.write_text("this is not parquet", encoding="utf-8")
        return "claims.parquet"
    claims.unlink()
    csv = folder / "claims.csv"
    if kind == "empty":
        csv.write_bytes(b"")
        return "claims.csv: empty file"
    if kind == "missing_column":
        csv.write_text(
            CLAIMS_HEADER.replace("reported_at,", "") + GOOD_ROW.replace("2015-03-02,", ""),
            encoding="utf-8",
        )
        return "claims.csv: missing required column reported_at"
    if kind == "impossible_date":
        csv.write_text(
            CLAIMS_HEADER + GOOD_ROW.replace("2015-03-02", "2015-02-30"), encoding="utf-8"
        )
        return "claims.csv: row 1: column reported_at: '2015-02-30' is not a valid date"
    if kind == "text_in_number":
        csv.write_text(CLAIMS_HEADER + GOOD_ROW.replace(",100,", ",1oo,"), encoding="utf-8")
        return "claims.csv: row 1: column claimed_amount: '1oo' is not a valid float"
    if kind == "truncated_csv":
        csv.write_text(CLAIMS_HEADER + GOOD_ROW + GOOD_ROW[:40], encoding="utf-8")
        return "claims.csv"
    if kind == "wrong_encoding":
        csv.write_bytes(
            (CLAIMS_HEADER + GOOD_ROW.replace("individual", "个险")).encode("gbk") + b"\xff\xfe\n"
        )
        return "claims.csv"
    raise AssertionError(kind)


KINDS = [
    "truncated_parquet",
    "not_parquet",
    "empty",
    "missing_column",
    "impossible_date",
    "text_in_number",
    "truncated_csv",
    "wrong_encoding",
]


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_gives_one_line_error_and_writes_nothing(
    cli, sample: Path, tmp_path: Path, kind: str
) -> None:
    expected = _corrupt(sample, kind)
    out = tmp_path / "results.json"
    result = cli(
        "evaluate",
        "-m",
        "2015-03",
        "--data",
        str(sample),
        "--rule",
        "claims.",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert result.exit_code == 2, (kind, result.stdout)
    assert result.stderr.startswith("Error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_data_check_reports_it_with_exit_2(cli, sample: Path, kind: str) -> None:
    expected = _corrupt(sample, kind).split(": ")[0]
    result = cli("data", "check", "--data", str(sample), "--format", "json")
    assert result.exit_code == 2, kind
    assert expected in result.stdout


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_random_csv_bytes_give_a_result_or_a_clean_error(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    from kpitool import check_data, evaluate, open_data

    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "claims.csv").write_bytes(CLAIMS_HEADER.encode() + content)
    try:
        source = open_data(folder)
        check_data(source)
        evaluate("2015-03", source, rule_ids=["claims.closed_within_5d_rate"])
    except KpiError as exc:
        assert "\n" not in str(exc)


def test_a_huge_value_is_quoted_short(cli, sample: Path) -> None:
    (sample / "claims.parquet").unlink()
    huge = "x" * 1_000_000
    (sample / "claims.csv").write_text(
        CLAIMS_HEADER + GOOD_ROW.replace(",100,", f",{huge},"), encoding="utf-8"
    )
    result = cli("evaluate", "-m", "2015-03", "--rule", "claims.", "--data", str(sample))
    assert result.exit_code == 2
    quoted = "'" + "x" * 78 + "… (1000000 chars) is not a valid float"
    assert result.stderr.endswith(f"column claimed_amount: {quoted}\n")
    assert len(result.stderr) < 400
    check = cli("data", "check", "--data", str(sample))
    assert check.exit_code == 2
    assert "claimed_amount" in check.stdout and len(check.stdout) < 8000


CALLBACKS_HEADER = "callback_id,policy_id,branch_id,channel,agent_id,called_at,phone,success\n"


def _callbacks(folder: Path, *called_at: str) -> Path:
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    rows = [f"k{i},p1,B1,individual,,{at},13812345678,true\n" for i, at in enumerate(called_at)]
    (folder / "callbacks.csv").write_text(CALLBACKS_HEADER + "".join(rows), encoding="utf-8")
    return folder


def test_iso_8601_datetimes_with_t_and_fractions_are_read(cli, tmp_path: Path) -> None:
    data = _callbacks(tmp_path, "2015-03-02T09:00:00.000", "2015-03-04 10:30:00.5")
    sql = "SELECT callback_id, called_at FROM callbacks ORDER BY callback_id"
    result = cli("query", sql, "--data", str(data), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "callback_id,called_at",
        "k0,2015-03-02T09:00:00.000000",
        "k1,2015-03-04T10:30:00.500000",
    ]


def test_a_datetime_with_an_offset_is_refused_in_one_line(cli, tmp_path: Path) -> None:
    data = _callbacks(tmp_path, "2015-03-02T09:00:00+08:00")
    result = cli("query", "SELECT called_at FROM callbacks", "--data", str(data))
    assert result.exit_code == 2
    assert "09:00:00+08:00" in result.stderr  # refused, never read as another time
    assert len(result.stderr.splitlines()) == 1
