"""explain: one rule's figure for one month and scope, with the rows behind it, to check by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from kpitool.measure.evaluate import evaluate
from kpitool.measure.listing import numerator_rows
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.rules.model import Rule, RuleSet

__all__ = ["Explanation", "explain_figure"]


@dataclass(frozen=True)
class Explanation:
    """A rule, its result row for the scope, and the first rows behind its numerator."""

    rule: Rule
    result: dict[str, Any]
    rows: pl.DataFrame


def explain_figure(
    engine: Engine,
    ruleset: RuleSet,
    rule_id: str,
    month: Period,
    branch: str | None = None,
    limit: int = 10,
) -> Explanation:
    """Evaluate one rule for the company (or a branch) and fetch the rows behind the figure."""
    rule = ruleset.get(rule_id)
    results = evaluate(
        engine, ruleset, [month], rule_ids=[rule_id], branches=[branch] if branch else None
    )
    scope = ("branch", branch) if branch else ("company", "ALL")
    matching = results.filter((pl.col("scope") == scope[0]) & (pl.col("scope_id") == scope[1]))
    result = (
        matching.row(0, named=True)
        if matching.height
        else {
            "value": None,
            "numerator": None,
            "denominator": None,
            "target": None,
            "status": "n/a",
            "reason": "no population",
            "target_source": None,
        }
    )
    rows = numerator_rows(engine, ruleset, rule_id, month, branch=branch, limit=limit)
    return Explanation(rule, result, rows)
