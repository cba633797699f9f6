"""Rows whose values cannot be true are left out of the figures, and evaluation says so: the
library's `left_out`, a `Note:` on stderr, the report's data-quality note (issue 19, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitool import LeftOut, left_out
from kpitool.api import use_cache

from builders import DEFAULT_BRANCHES, write_dataset

HEADER = "ticket_id,counter_id,branch_id,arrived_at,called_at,finished_at,satisfaction\n"
GOOD = "T1,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n"
CALLED_BEFORE = "T2,C1,B1,2015-03-02 09:30:00,2015-03-02 09:10:00,2015-03-02 09:40:00,5\n"
RULES = ("--rule", "counter.queue_time_avg", "--rule", "claims.closed_within_5d_rate")
CLAIMS_NOTE = (
    "Note: claims: 1 row left out (values that cannot be true; `kpitool data check` lists them)"
)
VISITS_NOTE = (
    "Note: counter_visits: 1 row left out (values that cannot be true; `kpitool data check` "
    "lists them)"
)


def _data(folder: Path, *, broken: bool = True) -> Path:
    """T1 waits 10 minutes, T2 is called before it arrived; claim c1 closes in 2 days, c2
    (amount NaN) in 18."""
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(
        folder, "counters", [{"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"}]
    )
    visits = HEADER + GOOD + (CALLED_BEFORE if broken else "")
    (folder / "counter_visits.csv").write_text(visits, encoding="utf-8")
    claim = {"branch_id": "B1", "reported_at": "2015-03-02"}
    write_dataset(
        folder,
        "claims",
        [
            claim | {"claim_id": "c1", "closed_at": "2015-03-04", "claimed_amount": 100.0},
            claim
            | {
                "claim_id": "c2",
                "closed_at": "2015-03-20",
                "claimed_amount": float("nan") if broken else 200.0,
            },
        ],
    )
    return folder


def _company(stdout: str) -> dict[str, float]:
    rows = json.loads(stdout)
    return {r["rule_id"]: r["value"] for r in rows if r["scope"] == "company"}


def test_evaluate_notes_the_rows_it_left_out(cli, tmp_path: Path) -> None:
    data = _data(tmp_path)
    result = cli("evaluate", "-m", "2015-03", *RULES, "--data", str(data), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [CLAIMS_NOTE, VISITS_NOTE]
    # T1's 10 minutes alone (T2's -20 would make the mean -5); c1 alone closed in 5 days
    assert _company(result.stdout) == {
        "counter.queue_time_avg": 10.0,
        "claims.closed_within_5d_rate": 1.0,
    }


def test_a_clean_file_gives_no_note(cli, tmp_path: Path) -> None:
    data = _data(tmp_path, broken=False)
    result = cli("evaluate", "-m", "2015-03", *RULES, "--data", str(data), "-f", "json")
    assert result.exit_code == 0 and result.stderr == ""
    # T1 10 minutes; c1 within 5 days, c2 not: 1 of 2
    assert _company(result.stdout) == {
        "counter.queue_time_avg": 10.0,
        "claims.closed_within_5d_rate": 0.5,
    }


def test_only_the_datasets_the_rules_read_are_noted(cli, tmp_path: Path) -> None:
    data = _data(tmp_path)
    result = cli("evaluate", "-m", "2015-03", "--rule", "claims.", "--data", str(data))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [CLAIMS_NOTE]
    quiet = cli("-q", "evaluate", "-m", "2015-03", "--rule", "claims.", "--data", str(data))
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_exceptions_note_the_rows_they_left_out(cli, tmp_path: Path) -> None:
    data = _data(tmp_path)
    rule = "claims.mandatory_investigation"
    result = cli("exceptions", rule, "-m", "2015-03", "--data", str(data), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [CLAIMS_NOTE]


def test_the_library_says_how_many_rows_of_which_file(tmp_path: Path) -> None:
    data = _data(tmp_path)
    rules = ["counter.queue_time_avg", "claims.closed_within_5d_rate"]
    assert left_out(data, rule_ids=rules) == [
        LeftOut("claims", str(data / "claims.parquet"), 1),
        LeftOut("counter_visits", str(data / "counter_visits.csv"), 1),
    ]
    assert left_out(_data(tmp_path / "clean", broken=False), rule_ids=rules) == []


def test_a_data_check_counts_them_as_left_out_would(cli, tmp_path: Path) -> None:
    """`data check` counts each file's rows left out as it goes (a report checks first and
    reuses the count): a row wrong twice is one row, a row merely in the future none."""
    data = _data(tmp_path)
    visit = "T{n},C1,B1,2015-03-02 09:{a}:00,2015-03-02 09:10:00,2016-03-02 09:40:00,{s}\n"
    extra = [visit.format(n=3, a=30, s=9), visit.format(n=4, a="05", s=9)]
    future = "T5,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2099-03-02 09:15:00,5\n"
    with (data / "counter_visits.csv").open("a", encoding="utf-8") as out:
        out.write("".join(extra) + future)
    rules = ["counter.queue_time_avg", "claims.closed_within_5d_rate"]
    # T2 called before it arrived; T3 that and satisfaction 9; T4 satisfaction 9; c2 NaN
    wanted = [
        LeftOut("claims", str(data / "claims.parquet"), 1),
        LeftOut("counter_visits", str(data / "counter_visits.csv"), 3),
    ]
    assert cli("data", "check", "--data", str(data)).exit_code == 2
    assert left_out(data, rule_ids=rules) == wanted
    use_cache(False)
    assert left_out(data, rule_ids=rules) == wanted


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_quality_note_says_it(cli, tmp_path: Path, lang: str) -> None:
    data = _data(tmp_path / "data")
    out = tmp_path / "out"
    result = cli(
        "report",
        "-m",
        "2015-03",
        "--data",
        str(data),
        "--out",
        str(out),
        "--format",
        "html",
        "--lang",
        lang,
    )
    assert result.exit_code == 0, result.stderr
    assert CLAIMS_NOTE in result.stderr.splitlines()
    page = (out / "2015-03" / "index.html").read_text(encoding="utf-8")
    wanted = {
        "en": "counter_visits: 1 rows left out of the figures (values that cannot be true; "
        "kpitool data check lists them)",
        "zh": "counter_visits: 1 行数值不可能成立，未计入指标（kpitool data check 列出）",
    }
    assert wanted[lang] in page
