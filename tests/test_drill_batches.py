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

from builders import holder_policy, write_dataset

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


def _drilled(
    folder: Path, engine_name: str, rule_id: str, branches: list[str], column: str
) -> list[tuple[object, ...]]:
    """(branch, `column`, the branch's row count) of each row drilled, two a branch, sorted."""
    rows = drill_rows(
        open_engine(folder, engine_name),
        load_rules(),
        rule_id,
        parse_period("2015-03"),
        branches=branches,
        limit=None,
        per_branch=2,
    )
    assert rows is not None
    return sorted((r["branch_id"], r[column], r[BRANCH_ROWS]) for r in rows.iter_rows(named=True))


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
    got = _drilled(tmp_path, engine_name, "cards.manual_share", ["B1", "B2", "B3"], "policy_id")
    # the first two of B1's three in sort order (p1, p2), with B1's count 3; B2's one
    assert got == [("B1", "p1", 3), ("B1", "p2", 3), ("B2", "q1", 1)]


OLD_CUSTOMERS = [
    holder_policy("a1", "B1", "H1", "2014-05-01"),
    holder_policy("a2", "B2", "H1", "2014-11-01"),  # H1 belongs to B2, buys nothing: listed
    holder_policy("b1", "B1", "H2", "2013-01-01"),
    holder_policy("b2", "B1", "H2", "2015-03-01", "long"),  # H2 bought: not listed
    holder_policy("c1", "B1", "H3", "2014-12-31"),  # H3 in B1: listed
    holder_policy("d1", "B1", "H4", "2014-02-02"),  # H4 in B1: listed
    holder_policy("e1", "B1", "H5", "2014-03-03"),  # H5 in B1: listed
    holder_policy("f1", "B2", "H6", "2014-06-06"),
    holder_policy("f2", "B2", "H6", "2015-01-20", "long"),  # H6 bought
    holder_policy("g1", "B3", "H7", "2014-07-07"),  # B3 not asked for
]


@pytest.mark.parametrize(
    ("asked", "want"),
    [
        (["B1"], [("B1", "H3", 3), ("B1", "H4", 3)]),  # H1 has a row in B1, but is B2's
        (["B2"], [("B2", "H1", 1)]),
        (["B1", "B2"], [("B1", "H3", 3), ("B1", "H4", 3), ("B2", "H1", 1)]),
    ],
)
def test_a_few_branches_entities_are_grouped_from_their_holders_rows_alone(
    tmp_path: Path, engine_name: str, asked: list[str], want: list[tuple[str, str, int]]
) -> None:
    # Of 12 branches, one or two: only the holders with a row there are grouped, in one
    # table; a holder belongs to the branch of their latest policy all the same.
    branches = [
        {"branch_id": f"B{i}", "branch_name": str(i), "level": "city"} for i in range(1, 13)
    ]
    write_dataset(tmp_path, "branches", branches)
    write_dataset(tmp_path, "policies", OLD_CUSTOMERS)
    rule = "customers.repeat_purchase_rate"
    assert _drilled(tmp_path, engine_name, rule, asked, "policyholder_id") == want


def test_entity_drill_downs_in_buckets_list_what_one_plan_would(
    tmp_path: Path, engine_name: str
) -> None:
    # customers.repeat_purchase_rate: the old customers (a policy before 1 January, in the
    # branch of their latest one) who bought no long policy this year. The Polars engine
    # groups them in buckets of keys; the listing must not depend on that.
    write_dataset(tmp_path, "branches", BRANCHES)
    write_dataset(tmp_path, "policies", OLD_CUSTOMERS)
    rule = "customers.repeat_purchase_rate"
    got = _drilled(tmp_path, engine_name, rule, ["B1", "B2"], "policyholder_id")
    # B1: H3, H4, H5 not covered (3), the first two in order; B2: H1 (1)
    assert got == [("B1", "H3", 3), ("B1", "H4", 3), ("B2", "H1", 1)]


def test_drill_rows_come_oldest_first_then_by_their_columns(
    tmp_path: Path, engine_name: str
) -> None:
    # cards.manual_share's drill-down (no `order`): by issued_at, oldest first, so p9 (1 March)
    # leads although its id sorts last.
    policies = [
        _policy("p1", "B1", True, day=20),
        _policy("p2", "B1", True, day=5),
        _policy("p9", "B1", True, day=1),
    ]
    write_dataset(tmp_path, "branches", BRANCHES)
    write_dataset(tmp_path, "policies", policies)
    rows = drill_rows(
        open_engine(tmp_path, engine_name),
        load_rules(),
        "cards.manual_share",
        parse_period("2015-03"),
        branches=["B1"],
        limit=None,
        per_branch=2,
    )
    assert rows is not None
    assert rows["policy_id"].to_list() == ["p9", "p2"]
