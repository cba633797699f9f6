"""Shared plans (`kpitool.polars.shared`) measure exactly what each rule's own plan measures.

Rules reading the same rows share one scan, their `where` as masks, and windows are summed
from monthly sums; each rule's figures must stay those of the rule measured alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from kpitool import evaluate, load_rules, open_data
from kpitool.measure.periods import Month, parse_month
from kpitool.measure.scoring import prior_month
from kpitool.polars.engine import BUNDLED_DATA, _measure_plan, _read_tables, _scopes
from kpitool.polars.population import PERIOD, Context, bucketable, population
from kpitool.polars.shared import SharedPlans, shareable

YEAR = tuple(f"2015-{m:02d}" for m in range(1, 13))


def _rows(frame: pl.DataFrame) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
    return {
        (r[PERIOD], r["scope"], r["scope_id"]): (r["numerator"], r["denominator"])
        for r in frame.iter_rows(named=True)
    }


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("months", [("2015-03",), ("2015-12", "2015-06"), YEAR])
@pytest.mark.parametrize("by", [(), ("counter", "channel", "agent")])
@pytest.mark.parametrize("buckets", [1, 3])
def test_every_shared_rule_measures_what_it_measures_alone(
    months: tuple[str, ...], by: tuple[str, ...], buckets: int
) -> None:
    source = open_data(BUNDLED_DATA)
    asked = [parse_month(m) for m in months]
    ctx = Context(source, asked, _read_tables(source))
    shared = SharedPlans(ctx, lambda rule, columns: _scopes(rule, by, columns), buckets)
    alone: dict[str, pl.DataFrame] = {}
    rules = [rule for rule in load_rules() if shareable(rule)]
    for rule in rules:
        needed: set[Month] = set(asked)
        needed |= {p for m in asked if (p := prior_month(rule, m)) is not None}
        shared.add(rule, sorted(needed))
        plan = _measure_plan(rule, ctx.with_months(sorted(needed)), by)
        alone[rule.id] = plan.collect()
    plans, members, failed = shared.build()
    assert not failed
    assert len(plans) < len(rules)  # some rules did share a scan
    # With buckets, the entity groups that can be split are: a plan per bucket of keys.
    assert max(len(group) for group in plans) == buckets
    frames = [pl.collect_all(group) for group in plans]
    together = shared.measured([r for group in members for r in group], frames)
    assert set(together) == set(alone)
    for rule_id, frame in together.items():
        mine, theirs = _rows(frame), _rows(alone[rule_id])
        assert mine.keys() == theirs.keys(), rule_id
        for key, (numerator, denominator) in mine.items():
            want = theirs[key]
            assert _same(numerator, want[0]) and _same(denominator, want[1]), (rule_id, key)


def test_a_missing_lookup_dataset_makes_only_its_rules_na(tmp_path: Path) -> None:
    for item in BUNDLED_DATA.iterdir():
        if not item.name.startswith("policies"):
            (tmp_path / item.name).symlink_to(item)
    full = evaluate("2015-03", BUNDLED_DATA)
    partial = evaluate("2015-03", tmp_path)
    needs = {
        rule.id
        for rule in load_rules()
        if "policies"
        in {
            rule.dataset,
            *(lk.dataset for lk in rule.lookups),
            *(p.dataset for p in (rule.measure.denominator, rule.measure.facts) if p),
        }
    }
    assert needs  # the catalogue has rules reading policies
    gone = partial.filter(pl.col("rule_id").is_in(sorted(needs)))
    assert set(gone["reason"]) == {"dataset missing: policies"}
    kept = partial.filter(~pl.col("rule_id").is_in(sorted(needs)))
    expected = full.filter(~pl.col("rule_id").is_in(sorted(needs)))
    assert kept.height == expected.height
    for mine, theirs in zip(kept.iter_rows(), expected.iter_rows(), strict=True):
        assert all(
            _same(a, b) if isinstance(a, float) else a == b
            for a, b in zip(mine, theirs, strict=True)
        ), (mine, theirs)


def test_buckets_split_the_entities_into_disjoint_sets_that_cover_them() -> None:
    source = open_data(BUNDLED_DATA)
    ctx = Context(source, [parse_month("2015-03")], _read_tables(source))
    rule = load_rules().get("customers.repeat_purchase_rate")
    assert bucketable(rule)
    key = rule.entities.key if rule.entities else ""
    every = population(rule, ctx).select(key).collect()[key]
    parts = [population(rule, ctx.with_bucket(i, 3)).select(key).collect()[key] for i in range(3)]
    assert all(part.len() > 0 for part in parts)
    assert sum(part.len() for part in parts) == every.len() == every.n_unique()
    assert set(pl.concat(parts).to_list()) == set(every.to_list())
    assert not bucketable(load_rules().get("investigators.low_positive_rate"))  # OVER ()
