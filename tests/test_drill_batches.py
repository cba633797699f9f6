"""Drill-downs of many branches in one plan: each branch's first rows and its own count,
the same on both engines (a report gathers one plan a rule, not one a rule and branch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitool.api.engines import open_engine
from kpitool.measure.listing import drill_rows
from kpitool.plan.periods import parse_period
from kpitool.plan.steps import BRANCH_ROWS
from kpitool.rules.loader import load_rules

from builders import write_dataset

BRANCHES = [
    {"branch_id": "B1", "branch_name": "一", "level": "city"},
    {"branch_id": "B2", "branch_name": "二", "level": "county", "parent_id": "B1"},
    {"branch_id": "B3", "branch_name": "三", "level": "county", "parent_id": "B1"},
]


def _policy(pid: str, branch: str, manual: bool, day: int = 5) -> dict[str, object]:
    return {
        "policy_id": pid,
        "branch_id": branch,
        "is_manual_card": manual,
        "issued_at": f"2015-03-{day:02d}",
        "applied_at": f"2015-03-{day:02d}",
    }


@pytest.fixture(params=["polars", "spark"])
def engine_name(request: pytest.FixtureRequest) -> str:
    if request.param == "spark":
        request.getfixturevalue("spark")
    return str(request.param)


def test_each_branch_gets_its_first_rows_and_its_count(tmp_path: Path, engine_name: str) -> None:
    # cards.manual_share: lower is better, so the drill-down lists the manual cards.
    # B1 has three (p3, p1, p2 in file order) and one automatic card, B2 one, B3 none.
    policies = [
        _policy("p3", "B1", True),
        _policy("p1", "B1", True),
        _policy("p9", "B1", False),
        _policy("p2", "B1", True),
        _policy("q1", "B2", True),
        _policy("r1", "B3", False),
        _policy("z1", "B1", True, day=1) | {"issued_at": "2015-04-01"},  # April: not listed
    ]
    write_dataset(tmp_path, "branches", BRANCHES)
    write_dataset(tmp_path, "policies", policies)
    engine = open_engine(tmp_path, engine_name)
    rows = drill_rows(
        engine,
        load_rules(),
        "cards.manual_share",
        parse_period("2015-03"),
        branches=["B1", "B2", "B3"],
        limit=None,
        per_branch=2,
    )
    assert rows is not None
    got = sorted(
        (r["branch_id"], r["policy_id"], r[BRANCH_ROWS]) for r in rows.iter_rows(named=True)
    )
    # the first two of B1's three in sort order (p1, p2), with B1's count 3; B2's one
    assert got == [("B1", "p1", 3), ("B1", "p2", 3), ("B2", "q1", 1)]
