"""explain: one rule's figure for one month and scope, with the rows behind it, to check by hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from kpitool.data.catalogue import DataSource, open_data
from kpitool.polars.engine import evaluate, numerator_rows
from kpitool.resources import BUNDLED_DATA
from kpitool.rules.model import Rule, RuleSet, load_rules

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True)
class Explanation:
    """A rule, its result row for the scope, and the first rows behind its numerator."""

    rule: Rule
    result: dict[str, Any]
    rows: pl.DataFrame


def explain(
    rule_id: str,
    month: str,
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branch: str | None = None,
    limit: int = 10,
) -> Explanation:
    """Evaluate one rule for the company (or a branch) and fetch the rows behind the figure."""
    source = data if isinstance(data, DataSource) else open_data(data or BUNDLED_DATA)
    ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
    rule = ruleset.get(rule_id)
    results = evaluate(
        month, source, ruleset, rule_ids=[rule_id], branches=[branch] if branch else None
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
    rows = numerator_rows(rule_id, month, source, ruleset, branch=branch, limit=limit)
    return Explanation(rule, result, rows)
