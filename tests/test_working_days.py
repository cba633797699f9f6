"""Rules counted in working days use the calendar dataset's holidays and make-up workdays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kpitool import evaluate

from builders import DEFAULT_BRANCHES, write_dataset

RULE = """section: "9"
title: {zh: 测试, en: Test}
rules:
  - id: claims.closed_within_3_workdays
    title: {zh: 理赔3个工作日结案率, en: Claims closed within 3 working days}
    dataset: claims
    period: {date: reported_at}
    measure:
      kind: share
      condition: "closed_at IS NOT NULL AND working_days_between(reported_at, closed_at) <= 3"
    target: {op: ">=", value: 1.0}
"""


def _calendar() -> list[dict[str, object]]:
    # October 2015: 1-7 National Day holidays; Saturday 10 October is a make-up workday.
    days = []
    for offset in range(31):
        day = dt.date(2015, 10, 1) + dt.timedelta(days=offset)
        workday = (day.weekday() < 5 and day.day > 7) or day == dt.date(2015, 10, 10)
        days.append({"date": day, "is_workday": workday})
    return days


def test_working_days_skip_holidays_and_count_make_up_days(tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(tmp_path, "calendar", _calendar())
    write_dataset(
        tmp_path,
        "claims",
        [
            # Reported 1 Oct (a holiday), closed 9 Oct: the workdays after 1 Oct up to 9 Oct
            # are 8 and 9 Oct -> 2 <= 3, within.
            {
                "claim_id": "a",
                "branch_id": "B1",
                "reported_at": "2015-10-01",
                "closed_at": "2015-10-09",
            },
            # Reported Thu 8 Oct, closed Tue 13 Oct: 9 (Fri), 10 (make-up Sat), 12 (Mon), 13 (Tue)
            # -> 4 working days, not within 3 (12 calendar days would be 5).
            {
                "claim_id": "b",
                "branch_id": "B1",
                "reported_at": "2015-10-08",
                "closed_at": "2015-10-13",
            },
            # Reported Fri 9 Oct, closed Mon 12 Oct: 10 (make-up) and 12 -> 2, within.
            {
                "claim_id": "c",
                "branch_id": "B2",
                "reported_at": "2015-10-09",
                "closed_at": "2015-10-12",
            },
        ],
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULE, encoding="utf-8")
    results = evaluate("2015-10", tmp_path, rules)
    values = {r["scope_id"]: (r["numerator"], r["denominator"]) for r in results.to_dicts()}
    assert values == {"ALL": (2.0, 3.0), "B1": (1.0, 2.0), "B2": (1.0, 1.0)}


def test_working_days_without_a_calendar_is_na(tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {
                "claim_id": "a",
                "branch_id": "B1",
                "reported_at": "2015-10-08",
                "closed_at": "2015-10-09",
            }
        ],
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULE, encoding="utf-8")
    results = evaluate("2015-10", tmp_path, rules)
    assert set(results["status"]) == {"n/a"}
    assert set(results["reason"]) == {"dataset missing: calendar"}
