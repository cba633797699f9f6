"""Periods of periods.md through the public surface: the grammar, what each period covers,
the previous and same-last-year periods, results' dates, trends and reports' titles.

Window kinds per rule (month to date, ISO weeks across a year end, quarter and month pairs,
milestones on a mid-month day, deadlines inside a period) are hand-worked rule cases in
tests/rule_cases/ (counter.queue_time_avg, counters.inspection_coverage,
staff.appraisal_coverage, cleanup.*), run on both engines.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from kpitool import evaluate, parse_period
from kpitool.errors import UsageError

from builders import DEFAULT_BRANCHES, write_dataset

D = dt.date


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2015-03", "2015-03", D(2015, 3, 1), D(2015, 3, 31)),
        ("2015-04-17", "2015-04-17", D(2015, 4, 1), D(2015, 4, 17)),
        ("2015-W16", "2015-W16", D(2015, 4, 13), D(2015, 4, 19)),
        ("2015-W53", "2015-W53", D(2015, 12, 28), D(2016, 1, 3)),
        ("2015-Q1", "2015-Q1", D(2015, 1, 1), D(2015, 3, 31)),
        ("2015-Q4", "2015-Q4", D(2015, 10, 1), D(2015, 12, 31)),
        ("2015", "2015", D(2015, 1, 1), D(2015, 12, 31)),
        ("2015-01-05..2015-02-20", "2015-01-05..2015-02-20", D(2015, 1, 5), D(2015, 2, 20)),
        ("2016-02-29", "2016-02-29", D(2016, 2, 1), D(2016, 2, 29)),
    ],
)
def test_each_form_names_its_days(text: str, label: str, start: dt.date, end: dt.date) -> None:
    period = parse_period(text)
    assert (period.label, period.start, period.end) == (label, start, end)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("last", "2026-11"),
        ("yesterday", "2026-12-01"),
        ("last-week", "2026-W48"),  # 2 December 2026 is a Wednesday of W49
        ("last-quarter", "2026-Q3"),
        ("last-year", "2025"),
    ],
)
def test_relative_forms_count_back_from_today(text: str, label: str) -> None:
    assert parse_period(text, today=D(2026, 12, 2)).label == label


def test_yesterday_on_the_first_of_a_month_is_the_whole_previous_month_to_its_last_day() -> None:
    period = parse_period("yesterday", today=D(2015, 4, 1))
    assert (period.start, period.end, period.label) == (D(2015, 3, 1), D(2015, 3, 31), "2015-03-31")


@pytest.mark.parametrize(
    ("text", "previous", "last_year"),
    [
        ("2015-03", "2015-02", "2014-03"),
        ("2015-01", "2014-12", "2014-01"),
        ("2015-04-17", "2015-04-16", "2014-04-17"),
        ("2016-02-29", "2016-02-28", "2015-02-28"),  # 29 February one year on
        ("2015-W01", "2014-W52", "2014-W01"),
        ("2015-W53", "2015-W52", "2014-W52"),  # 2014 has no week 53
        ("2015-Q1", "2014-Q4", "2014-Q1"),
        ("2015", "2014", "2014"),
        ("2015-01-05..2015-01-14", "2014-12-26..2015-01-04", "2014-01-05..2014-01-14"),
    ],
)
def test_previous_and_same_period_last_year(text: str, previous: str, last_year: str) -> None:
    period = parse_period(text)
    assert period.previous().label == previous
    assert period.same_period_last_year().label == last_year


def test_the_same_day_last_year_covers_that_month_to_that_day() -> None:
    before = parse_period("2016-02-29").same_period_last_year()
    assert (before.start, before.end) == (D(2015, 2, 1), D(2015, 2, 28))


@pytest.mark.parametrize(
    "text", ["2015-13", "2015-02-30", "2015-W54", "2015-Q5", "March", "0000-01"]
)
def test_a_bad_form_is_a_usage_error_listing_the_forms(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_period(text)
    message = str(caught.value)
    assert message.startswith(f"--period {text!r}: ") and "\n" not in message
    assert "2015-04-17" in message and "2015-W16" in message and "last-quarter" in message


def test_the_cli_refuses_a_bad_period_with_exit_2(cli) -> None:
    result = cli("evaluate", "--period", "2015-W60")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --period '2015-W60': 2015 has ISO weeks 01..53")


@pytest.fixture
def visits(tmp_path: Path) -> Path:
    """Queue times of 10, 20 and 40 minutes on 30 March, 1 and 2 April 2015 (branch B1)."""
    rows = []
    for i, (day, minutes) in enumerate(
        [("2015-03-30", 10), ("2015-04-01", 20), ("2015-04-02", 40)]
    ):
        arrived = dt.datetime.fromisoformat(f"{day} 09:00:00")
        called = arrived + dt.timedelta(minutes=minutes)
        rows.append(
            {
                "ticket_id": f"t{i}",
                "counter_id": "C1",
                "branch_id": "B1",
                "arrived_at": arrived,
                "called_at": called,
                "finished_at": called + dt.timedelta(minutes=5),
            }
        )
    write_dataset(tmp_path, "counter_visits", rows)
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    return tmp_path


def test_json_results_carry_the_label_and_the_dates(cli, visits: Path) -> None:
    result = cli(
        "evaluate", "--period", "2015-W14", "--data", str(visits),
        "--rule", "counter.queue_time_avg", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    company = next(r for r in json.loads(result.stdout) if r["scope"] == "company")
    # W14 of 2015 is 30 March .. 5 April: (10 + 20 + 40) / 3
    assert company["period"] == "2015-W14"
    assert (company["period_start"], company["period_end"]) == ("2015-03-30", "2015-04-05")
    assert company["value"] == pytest.approx(70 / 3)


def test_month_is_the_same_option_as_period(cli, visits: Path) -> None:
    args = ["--data", str(visits), "--rule", "counter.queue_time_avg", "--format", "json"]
    by_month = cli("evaluate", "--month", "2015-04-01..2015-04-02", *args)
    by_period = cli("evaluate", "--period", "2015-04-01..2015-04-02", *args)
    assert by_month.stdout == by_period.stdout
    company = next(r for r in json.loads(by_period.stdout) if r["scope"] == "company")
    assert company["value"] == 30.0  # (20 + 40) / 2


def test_a_trend_of_a_week_shows_its_days(visits: Path) -> None:
    from kpitool.plan.periods import trend_periods

    days = trend_periods(parse_period("2015-W14"))
    assert [str(d) for d in days][:3] == [
        "2015-03-30..2015-03-30",
        "2015-03-31..2015-03-31",
        "2015-04-01..2015-04-01",
    ]
    results = evaluate(days, visits, rule_ids=["counter.queue_time_avg"])
    company = results.filter(results["scope"] == "company")
    assert company["value"].to_list() == [10.0, None, 20.0, 40.0, None, None, None]


def test_a_trend_keeps_the_decimals_that_decide_a_status(cli, tmp_path: Path) -> None:
    # 48 of 49 claims closed within 5 days: 97.96 %, which must not print as "98" beside a
    # target of >= 98 %.
    rows = [
        {
            "claim_id": f"c{i}",
            "branch_id": "B1",
            "policy_id": f"p{i}",
            "reported_at": dt.datetime(2015, 3, 2),
            "closed_at": dt.datetime(2015, 3, 11 if i == 0 else 3),
        }
        for i in range(49)
    ]
    write_dataset(tmp_path, "claims", rows)
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    result = cli(
        "evaluate", "--period", "2015-Q1", "--trend", "--data", str(tmp_path),
        "--rule", "claims.closed_within_5d_rate",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "97.96✗" in result.stdout and "目标" in result.stdout


@pytest.mark.parametrize(
    ("period", "title"),
    [
        ("2015-04-17", "截至2015年4月17日"),
        ("2015-W16", "2015年第16周"),
        ("2015-Q1", "2015年第一季度"),
        ("2015", "2015年度"),
    ],
)
def test_reports_for_a_period_are_titled_by_it(
    cli, tmp_path: Path, period: str, title: str
) -> None:
    result = cli(
        "report", "--period", period, "--out", str(tmp_path), "--branch", "B01",
        "--format", "pdf",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / period
    text = subprocess.run(
        ["pdftotext", "-l", "1", str(folder / "B01.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert f"{title} 客服运营指标报告" in text
    company = subprocess.run(
        ["pdftotext", "-l", "1", str(folder / "company.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert f"{title} 市公司客服运营指标汇总" in company


def test_a_mid_month_report_tracks_the_campaign(cli, tmp_path: Path) -> None:
    result = cli("report", "--period", "2015-04-17", "--out", str(tmp_path), "--branch", "B07")
    assert result.exit_code == 0, result.stderr
    page = (tmp_path / "2015-04-17" / "B07.html").read_text(encoding="utf-8")
    assert "进度跟踪" in page and "较前一日" in page
    company = (tmp_path / "2015-04-17" / "index.html").read_text(encoding="utf-8")
    tasks = company[company.index("各单位任务完成情况 · 清理完成率") :]
    # The sample's B07 (sample/generate.py plants its lag): 120 tasks, 32 completed by
    # 17 April (26.7 %), so 88 to do.
    assert '<td class="num">120</td><td class="num">32</td><td class="num">88</td>' in tasks
