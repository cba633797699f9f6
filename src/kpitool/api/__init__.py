"""The library API: what the command line does, as calls.

Each call takes the period, the data (a folder, a catalogue, a URL for Spark, an opened
`DataSource` or engine; None for the bundled sample data) and the rules (a folder, a
`RuleSet`; None for the bundled rules), normalises them once, picks the engine
(`engine="polars"` or `"spark"`) and masks personal data (phones, names, ID numbers) in
every row it returns unless `unmask=True`.

    import kpitool
    results = kpitool.evaluate("2015-03")
    late = kpitool.exceptions("claims.mandatory_investigation", "2015-03", "extracts/")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from kpitool.api.checks import check_branches, check_grains
from kpitool.api.engines import Data, EngineName, open_engine
from kpitool.api.explanation import Explanation, explain_figure
from kpitool.data.check import CheckReport, check_data
from kpitool.data.privacy import mask_frame
from kpitool.errors import UsageError
from kpitool.measure import evaluate as evaluating
from kpitool.measure import listing
from kpitool.plan.periods import Month, parse_month
from kpitool.report.render import ReportSummary, render_reports
from kpitool.rules.loader import load_rules
from kpitool.rules.model import RuleSet

__all__ = [
    "CheckReport",
    "Explanation",
    "ReportSummary",
    "check_data",
    "evaluate",
    "exceptions",
    "explain",
    "open_engine",
    "query",
    "report",
]

Months = Month | str | Sequence[Month | str]


def _months(months: Months) -> list[Month]:
    items = [months] if isinstance(months, Month | str) else list(months)
    if not items:
        raise UsageError("no month to evaluate")
    return [m if isinstance(m, Month) else parse_month(m) for m in items]


def _rules(rules: RuleSet | Path | str | None) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else load_rules(rules)


def evaluate(
    months: Months,
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    rule_ids: Sequence[str] | None = None,
    by: Sequence[str] = (),
    engine: EngineName = "polars",
    session: Any = None,
) -> pl.DataFrame:
    """Evaluate rules for one or more months; one row per rule, period, scope and scope id.

    Columns are `kpitool.measure.results.RESULT_SCHEMA`. `branches` limits the branch rows
    (the company row always counts every branch); `rule_ids` takes ids or prefixes ending in
    '.'; `by` adds grains (counter, channel, agent) to the rules whose population has them.
    An unknown branch, rule or grain, or a grain no chosen rule has, is a UsageError.
    """
    opened = open_engine(data, engine, session=session)
    ruleset, the_months = _rules(rules), _months(months)
    check_branches(opened, branches)
    check_grains(opened, ruleset.select(list(rule_ids) if rule_ids else None), the_months, by)
    return evaluating.evaluate(
        opened, ruleset, the_months, branches=branches, rule_ids=rule_ids, by=by
    )


def exceptions(
    rule_id: str,
    month: Month | str,
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    engine: EngineName = "polars",
    session: Any = None,
    unmask: bool = False,
) -> pl.DataFrame:
    """The exception rows of a detection rule for a month: `branch_id` first, then its
    columns; personal data masked unless `unmask`."""
    opened = open_engine(data, engine, session=session)
    check_branches(opened, branches)
    rows = listing.exceptions(
        opened, _rules(rules), rule_id, _months(month)[0], branches=tuple(branches or ())
    )
    return rows if unmask else mask_frame(rows)


def explain(
    rule_id: str,
    month: Month | str,
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branch: str | None = None,
    limit: int = 10,
    engine: EngineName = "polars",
    session: Any = None,
    unmask: bool = False,
) -> Explanation:
    """One rule's figure for the company (or a branch), with the first rows behind it."""
    if limit < 0:
        raise UsageError(f"--limit {limit}: expected 0 or more")
    opened = open_engine(data, engine, session=session)
    check_branches(opened, [branch] if branch else None)
    found = explain_figure(opened, _rules(rules), rule_id, _months(month)[0], branch, limit)
    return found if unmask else Explanation(found.rule, found.result, mask_frame(found.rows))


def query(
    sql: str,
    data: Data = None,
    *,
    limit: int | None = None,
    engine: EngineName = "polars",
    session: Any = None,
    unmask: bool = False,
) -> pl.DataFrame:
    """Run one SQL query over the datasets (tables named as in datasets.md)."""
    if limit is not None and limit < 0:
        raise UsageError(f"--limit {limit}: expected 0 or more")
    opened = open_engine(data, engine, session=session)
    rows = opened.query(sql, limit=limit)
    return rows if unmask else mask_frame(rows)


def report(
    month: Month | str,
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    out: Path | str = Path("out"),
    *,
    engine: EngineName = "polars",
    session: Any = None,
    **options: Any,
) -> ReportSummary:
    """Every branch's report and the company's for a month into `out/<label>/` (see
    `kpitool.report.render.render_reports` for the options)."""
    the_month = _months(month)[0]
    ruleset = _rules(rules)
    opened = open_engine(data, engine, session=session)
    return render_reports(the_month, opened, ruleset, out, **options)
