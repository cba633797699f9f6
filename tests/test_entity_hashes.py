"""Old customers are grouped by a hash of their id on the Polars engine: the figures are
those of the ids themselves, also when two ids share a hash (then grouped again by id)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from kpitool import evaluate
from kpitool.polars import entities

from builders import holder_policy, write_dataset

BRANCHES = [
    {"branch_id": "B1", "branch_name": "一", "level": "city"},
    {"branch_id": "B2", "branch_name": "二", "level": "city"},
    {"branch_id": "B3", "branch_name": "三", "level": "city"},
]


POLICIES = [
    holder_policy("a1", "B1", "H1", "2014-05-01"),
    holder_policy("a2", "B2", "H1", "2014-11-01"),  # H1: B2's (its latest), bought nothing
    holder_policy("b1", "B1", "H2", "2013-01-01"),
    holder_policy("b2", "B1", "H2", "2015-03-01", "long"),  # H2: B1's, bought
    holder_policy("c1", "B1", "H3", "2014-12-31"),
    holder_policy("d1", "B1", "H4", "2014-02-02"),
    holder_policy("e1", "B1", "H5", "2014-03-03"),
    holder_policy("f1", "B2", "H6", "2014-06-06"),
    holder_policy("f2", "B2", "H6", "2015-01-20", "long"),  # H6: B2's, bought
    holder_policy("g1", "B3", "H7", "2014-07-07"),
    holder_policy("h1", "B3", "H8", "2015-02-02", "long"),  # H8: new this year, not old
]

# worked out by hand: old customers and those who bought a long policy this year
WANT = {"B1": (1, 4), "B2": (1, 2), "B3": (0, 1), "ALL": (2, 7)}


def _old_customers(folder: Path) -> dict[str, tuple[float, float]]:
    found = evaluate("2015-03", folder, rule_ids=["customers.repeat_purchase_rate"])
    rows = found.filter(pl.col("scope").is_in(["company", "branch"]))
    return {r["scope_id"]: (r["numerator"], r["denominator"]) for r in rows.iter_rows(named=True)}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_dataset(tmp_path, "branches", BRANCHES)
    write_dataset(tmp_path, "policies", POLICIES)
    return tmp_path


def test_old_customers_grouped_by_hash_are_counted_as_by_id(data: Path) -> None:
    assert _old_customers(data) == WANT


def test_ids_sharing_a_hash_are_grouped_again_by_id(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every id given the same hash: one group would hold all 7 old customers; the second
    # hash tells them apart, and the plan is run again on the ids.
    real = entities.hashed

    def one_hash(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
        return real(frame, key).with_columns(pl.lit(1, dtype=pl.UInt64).alias(key))

    monkeypatch.setattr("kpitool.polars.translate.hashed", one_hash)
    assert _old_customers(data) == WANT
