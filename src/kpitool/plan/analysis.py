"""What a rule's text says about how it can be measured, decided once for both engines.

Which period parameters an expression reads, whether entities are grouped once a year,
whether they can be split into buckets of keys, the rule a ratio's denominator is counted
by, which scopes a rule is reported for and which datasets it reads.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from sqlglot import exp

from kpitool.data.schema import GRAIN_COLUMNS
from kpitool.rules.expressions import parse_expression
from kpitool.rules.model import Rule

__all__ = [
    "branch_of_a_row",
    "bucketable",
    "datasets_of",
    "denominator_rule",
    "entities_by_year",
    "pair_unit",
    "parameters",
    "parsed",
    "scopes",
    "uses_parameters",
]

_YEARLY = frozenset({"year", "year_start"})


@functools.lru_cache(maxsize=4096)
def parsed(text: str) -> exp.Expression:
    """A rule expression parsed once per process (sqlglot takes ~0.5 ms a text, and every
    evaluation compiles the same texts again); shared, so never modified."""
    return parse_expression(text)


@functools.lru_cache(maxsize=4096)
def parameters(text: str) -> frozenset[str]:
    """The period parameters an expression reads (`year_start` for `:year_start` …)."""
    return frozenset(n.name for n in parsed(text).walk() if isinstance(n, exp.Placeholder))


def uses_parameters(text: str) -> bool:
    """Whether an expression reads a period parameter (`:period_end` …)."""
    return bool(parameters(text))


def entities_by_year(rule: Rule) -> bool:
    """Whether a rule's entities are the same for every month of a year: it has no period,
    and the rows and entity columns read at most `:year` and `:year_start`. Such entities
    are grouped once a year, not once a month (an old customer stays one all year)."""
    if rule.entities is None or rule.period is not None:
        return False
    texts = [rule.where, *rule.columns.values(), *rule.entities.columns.values()]
    return all(parameters(text) <= _YEARLY for text in texts if text)


def branch_of_a_row(rule: Rule) -> bool:
    """Whether an entity's `branch_id` is the branch of one of its rows (`MAX_BY(branch_id,
    …)`, `MIN(branch_id)` …): then a branch's entities are among the keys with a row there."""
    if rule.entities is None or "branch_id" not in rule.entities.columns:
        return False
    node = parsed(rule.entities.columns["branch_id"])
    picks = exp.ArgMax | exp.ArgMin | exp.Max | exp.Min
    return (
        isinstance(node, picks)
        and isinstance(node.this, exp.Column)
        and node.this.name == "branch_id"
        and not node.this.table
    )


def pair_unit(rule: Rule) -> str | None:
    """What a rule counts once each over a long period (periods.md): (entity, quarter) pairs
    for a quarter window, (entity, month) pairs for a rule reading `:month` (appraisals)."""
    facts = rule.measure.facts
    windows = [spec.window for spec in (rule.period, facts.period if facts else None) if spec]
    if "quarter" in windows:
        return "quarter"
    if any("month" in parameters(text) for text in rule.expressions().values()):
        return "month"
    return None


def bucketable(rule: Rule) -> bool:
    """Whether a rule's entities can be measured in disjoint sets of keys whose sums add up:
    no expression looks beyond one entity (a window) and no denominator is measured apart."""
    if rule.entities is None or rule.window_columns or rule.measure.denominator is not None:
        return False
    texts = [rule.where, rule.measure.condition, rule.measure.of, rule.entities.where]
    texts += [*rule.columns.values(), *rule.entities.columns.values()]
    return not any(parsed(t).find(exp.Window) for t in texts if t)


def denominator_rule(rule: Rule) -> Rule:
    """The rule whose population is a ratio's denominator (the rule itself when it has no
    dataset of its own)."""
    denominator = rule.measure.denominator
    if denominator is None or denominator.dataset is None:
        return rule
    return rule.model_copy(
        update={
            "dataset": denominator.dataset,
            "lookups": [],
            "columns": {},
            "entities": None,
            "window_columns": {},
            "where": denominator.where,
            "deadline": None,
            "period": denominator.period,
            "measure": rule.measure.model_copy(update={"kind": "count", "facts": None}),
        }
    )


def scopes(rule: Rule, by: Sequence[str], columns: Iterable[str]) -> list[str]:
    """The rule's scopes, with the grains (its own and those asked `by`) its rows carry."""
    found: list[str] = list(rule.scopes)
    if "company" not in found:
        return found
    held = set(columns)
    for grain in [*rule.grains, *by]:
        if grain not in found and GRAIN_COLUMNS.get(grain, "") in held:
            found.append(grain)
    return found


def datasets_of(rule: Rule) -> set[str]:
    """Every dataset a rule reads."""
    names = {rule.dataset, *(lk.dataset for lk in rule.lookups)}
    for part in (rule.measure.denominator, rule.measure.facts):
        if part is not None and part.dataset:
            names.add(part.dataset)
    return names
