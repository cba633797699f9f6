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

from kpitool.api.caching import CacheInfo, cache_info, cache_stats, clear_cache, use_cache
from kpitool.api.checks import check_branches, check_grains
from kpitool.api.engines import Data, EngineName, local_source, open_engine
from kpitool.api.explanation import Explanation, explain_figure
from kpitool.api.records import diff, freshness, history, record_evaluation
from kpitool.api.sql_guard import check_query
from kpitool.data.check import CheckReport, check_data
from kpitool.data.excluded import LeftOut
from kpitool.data.excluded import left_out as left_out_of
from kpitool.data.privacy import mask_frame
from kpitool.errors import UsageError
from kpitool.measure import evaluate as evaluating
from kpitool.measure import listing
from kpitool.measure.freshness import freshness as freshness_of
from kpitool.measure.freshness import require_data
from kpitool.plan.analysis import datasets_of
from kpitool.plan.periods import Period, parse_period
from kpitool.report.changes import with_first_listed
from kpitool.report.render import ReportSummary, render_reports
from kpitool.rules.loader import load_rules
from kpitool.rules.model import RuleSet

__all__ = [
    "CacheInfo",
    "CheckReport",
    "Explanation",
    "LeftOut",
    "ReportSummary",
    "cache_info",
    "cache_stats",
    "check_data",
    "clear_cache",
    "diff",
    "evaluate",
    "exceptions",
    "explain",
    "freshness",
    "history",
    "left_out",
    "open_engine",
    "query",
    "report",
    "use_cache",
]

Periods = Period | str | Sequence[Period | str]
"""One period or several: `Period`s or texts in any form of periods.md ("2015-03",
"2015-04-17", "2015-W16", "2015-Q1", "2015", "2015-01-05..2015-02-20", "last" …)."""


def _months(months: Periods) -> list[Period]:
    items = [months] if isinstance(months, Period | str) else list(months)
    if not items:
        raise UsageError("no period to evaluate")
    return [m if isinstance(m, Period) else parse_period(m) for m in items]


def _rules(rules: RuleSet | Path | str | None) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else load_rules(rules)


def evaluate(
    months: Periods,
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    rule_ids: Sequence[str] | None = None,
    by: Sequence[str] = (),
    engine: EngineName = "polars",
    session: Any = None,
    record: Path | str | None = None,
    allow_empty: bool = True,
) -> pl.DataFrame:
    """Evaluate rules for one or more months; one row per rule, period, scope and scope id.

    Columns are `kpitool.measure.results.RESULT_SCHEMA`. `branches` limits the branch rows
    (the company row always counts every branch); `rule_ids` takes ids or prefixes ending in
    '.'; `by` adds grains (counter, channel, agent) to the rules whose population has them.
    `record` (an OUT folder) records the run in its history, as the last month's run.
    Rows whose values cannot be true are left out; `left_out` says how many, per file.
    Without `allow_empty`, a last month in which no fact dataset has a row is refused.
    An unknown branch, rule or grain, or a grain no chosen rule has, is a UsageError.
    """
    opened = open_engine(data, engine, session=session)
    ruleset, asked = _rules(rules), _months(months)
    check_branches(opened, branches)
    check_grains(opened, ruleset.select(list(rule_ids) if rule_ids else None), asked, by)
    results = evaluating.evaluate(
        opened, ruleset, asked, branches=branches, rule_ids=rule_ids, by=by
    )
    if not allow_empty:  # after evaluating, which names a bad value's file, row and column
        require_data(freshness_of(opened, max(asked)), allow_empty=False, require_fresh=False)
    if record is not None:
        record_evaluation(record, max(asked), opened, ruleset, results)
    return results


def exceptions(
    rule_id: str,
    month: Period | str,
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    engine: EngineName = "polars",
    session: Any = None,
    unmask: bool = False,
    out: Path | str | None = None,
) -> pl.DataFrame:
    """The exception rows of a detection rule for a month: `branch_id` first, then its
    columns; personal data masked unless `unmask`. With `out` (a reports folder), each row
    also has `first_listed` and `periods_listed` from its history."""
    opened = open_engine(data, engine, session=session)
    check_branches(opened, branches)
    ruleset, the_month = _rules(rules), _months(month)[0]
    rows = listing.exceptions(opened, ruleset, rule_id, the_month, branches=tuple(branches or ()))
    if out is not None:
        rows = with_first_listed(out, the_month, ruleset, rule_id, rows)
    return rows if unmask else mask_frame(rows)


def left_out(
    data: Data = None,
    rules: RuleSet | Path | str | None = None,
    *,
    rule_ids: Sequence[str] | None = None,
) -> list[LeftOut]:
    """The rows `evaluate`, `exceptions` and `report` leave out (values that cannot be true:
    NaN, >= 1e12, out of range, a later step before the earlier one), per file of each
    dataset the rules (`rule_ids`: ids or prefixes) read; whole files, whatever the period.
    Unknown (empty) for data only Spark reaches; `check_data` lists the rows."""
    source = local_source(data)
    if source is None:
        return []
    chosen = _rules(rules).select(list(rule_ids) if rule_ids else None)
    return left_out_of(source, {name for rule in chosen for name in datasets_of(rule)})


def explain(
    rule_id: str,
    month: Period | str,
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
    """Run one SELECT over the datasets (tables named as in datasets.md); functions that
    read files (`read_csv(…)` …) are refused; personal data masked unless `unmask`."""
    if limit is not None and limit < 0:
        raise UsageError(f"--limit {limit}: expected 0 or more")
    check_query(sql)
    opened = open_engine(data, engine, session=session)
    rows = opened.query(sql, limit=limit, masked=not unmask)
    return rows if unmask else mask_frame(rows)


def report(
    month: Period | str,
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


def _export_report() -> None:
    """`kpitool.report` is this function, though a subpackage of that name exists: importing
    the subpackage (as this module does) sets the package's attribute to the module."""
    import kpitool

    setattr(kpitool, "report", report)  # noqa: B010


_export_report()
