"""Shared plans (`kpitool.plan.measures.Grouping`) measure exactly what each rule's own plan
measures.

Rules reading the same rows share one scan, their `where` as masks, and windows are summed
from monthly sums; each rule's figures must stay those of the rule measured alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from kpitool import evaluate, load_rules, open_data
from kpitool.data.schema import GRAIN_COLUMNS
from kpitool.measure.evaluate import broken_down, read_tables, scoped_plans, source_of
from kpitool.measure.evaluate import evaluate as evaluate_on
from kpitool.measure.listing import exception_plan
from kpitool.measure.scoring import prior_month
from kpitool.plan.analysis import bucketable, denominator_rule, scopes
from kpitool.plan.measures import Grouping, summable, with_denominator
from kpitool.plan.periods import Month, parse_month
from kpitool.plan.population import population
from kpitool.plan.steps import PERIOD
from kpitool.polars.engine import PolarsEngine
from kpitool.resources import BUNDLED_DATA

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


@pytest.mark.parametrize(
    "months", [("2015-03",), ("2015-12", "2015-06"), ("2015-03", "2014-03"), YEAR]
)
@pytest.mark.parametrize("by", [(), ("counter", "channel", "agent")])
@pytest.mark.parametrize("buckets", [1, 3])
def test_every_shared_rule_measures_what_it_measures_alone(
    months: tuple[str, ...], by: tuple[str, ...], buckets: int
) -> None:
    engine = PolarsEngine(open_data(BUNDLED_DATA))
    source = source_of(engine, read_tables(engine))
    asked = [parse_month(m) for m in months]
    grouping = Grouping(source, buckets=buckets, month_by_month=True)
    alone: dict[str, pl.DataFrame] = {}
    rules = [rule for rule in load_rules() if summable(rule)]
    for rule in rules:
        needed: set[Month] = set(asked)
        needed |= {p for m in asked if (p := prior_month(rule, m)) is not None}
        wanted = sorted(needed)
        found = scopes(rule, by, population(rule, source, wanted).columns)
        den_columns = population(denominator_rule(rule), source, wanted).columns
        held = [s for s in found if s == "company" or GRAIN_COLUMNS[s] in den_columns]
        grouping.add(rule, wanted, found, held)
        own = engine.collect(scoped_plans(rule, source, wanted, found))
        alone[rule.id] = own[0] if len(own) == 1 else with_denominator(*own)
    plans = grouping.build()
    shared = [{m.part.name for m in group.members} for group in grouping.groups.values()]
    assert any(len(names) > 1 for names in shared)  # some rules did share a scan
    # With buckets, the entity groups that can be split are: a plan per bucket of keys.
    assert max(len(group) for group in plans) == buckets
    together = grouping.measured([engine.collect(group) for group in plans])
    assert set(together) == set(alone)
    for rule_id, frame in together.items():
        mine, theirs = _rows(frame), _rows(alone[rule_id])
        assert mine.keys() == theirs.keys(), rule_id
        for key, (numerator, denominator) in mine.items():
            want = theirs[key]
            assert _same(numerator, want[0]) and _same(denominator, want[1]), (rule_id, key)


def test_only_rules_whose_rows_carry_a_grain_are_evaluated_by_it() -> None:
    # The report looks for the counters and agents behind a missed figure: a rule whose
    # rows carry neither (old customers carry a branch and a channel) is not evaluated again.
    engine = PolarsEngine(open_data(BUNDLED_DATA))
    rules = load_rules()
    month = parse_month("2015-03")
    grains = ("counter", "agent")
    kept = broken_down(engine, rules, [r.id for r in rules], grains, month)
    assert "counter.queue_time_avg" in kept and "callbacks.agent_phone" in kept
    assert "customers.repeat_purchase_rate" not in kept
    by_grain = evaluate_on(engine, rules, [month], by=grains)
    found = set(by_grain.filter(pl.col("scope").is_in(grains))["rule_id"])
    assert found == set(kept)


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
    engine = PolarsEngine(open_data(BUNDLED_DATA))
    source = source_of(engine, read_tables(engine))
    months = [parse_month("2015-03")]
    rule = load_rules().get("customers.repeat_purchase_rate")
    assert bucketable(rule)
    key = rule.entities.key if rule.entities else ""

    def keys(bucket: tuple[int, int] | None) -> pl.Series:
        pop = population(rule, source, months, bucket=bucket)
        return engine.translator.population(pop).select(key).collect()[key]

    every = keys(None)
    parts = [keys((i, 3)) for i in range(3)]
    assert all(part.len() > 0 for part in parts)
    assert sum(part.len() for part in parts) == every.len() == every.n_unique()
    assert set(pl.concat(parts).to_list()) == set(every.to_list())
    assert not bucketable(load_rules().get("investigators.low_positive_rate"))  # OVER ()


def test_plans_over_the_same_rows_collected_together_give_each_its_own_rows() -> None:
    """The three callback lists read the same population (the engine builds it once for
    them); each list is the one its plan alone gives, in the order the plans were asked."""
    engine = PolarsEngine(open_data(BUNDLED_DATA))
    rules = load_rules()
    month = parse_month("2015-03")
    ids = ["callbacks.agent_phone", "claims.mandatory_investigation", "callbacks.shared_phone"]
    ids.append("callbacks.suspected_total")
    plans = [exception_plan(engine, rules, rule_id, month) for rule_id in ids]
    assert plans[0].population == plans[2].population == plans[3].population
    assert plans[0].population != plans[1].population
    together = engine.collect(plans)
    alone = [engine.collect([plan])[0] for plan in plans]
    assert [f.height for f in together] == [f.height for f in alone]
    assert all(a.equals(b) for a, b in zip(together, alone, strict=True))
    assert together[0].height > 0 and together[1].height > 0  # each list has rows to compare
    assert together[2].columns != together[1].columns
