"""What a report reads besides the results: facts about the data (branches, the as-of
date, the quality note, the inputs' hashes) and the detection rules' exception lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kpitool.data.check import CheckReport, check_data
from kpitool.data.excluded import LeftOut, left_out, per_dataset
from kpitool.data.privacy import mask_frame
from kpitool.data.schema import DATASETS
from kpitool.errors import DataError
from kpitool.history.store import hash_inputs
from kpitool.measure import cached
from kpitool.measure.freshness import Freshness
from kpitool.measure.listing import exception_plan
from kpitool.plan.analysis import datasets_of
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.plan.steps import Listing
from kpitool.report.format import Lang
from kpitool.report.labels import LABELS
from kpitool.rules.model import RuleSet

__all__ = ["AS_OF_DATASETS", "Facts", "exception_lists", "report_facts"]

AS_OF_DATASETS = ("counter_visits", "claims")
"""Where a report's "data as of" date comes from: their latest event date (`EVENT_DATES`:
arrival, report) up to the month's end."""


def _quality(report: CheckReport, found: list[LeftOut], lang: Lang) -> list[str]:
    """The data check's errors per dataset, the rows the figures leave out, what is missing."""
    L = LABELS[lang]
    lines = [
        L["dq_errors"].format(dataset=d.dataset, errors=d.errors)
        for d in report.datasets
        if d.errors
    ]
    excluded = per_dataset(found).items()
    lines += [L["dq_left_out"].format(dataset=d, rows=n) for d, n in excluded]
    missing = [d.dataset for d in report.datasets if d.files == 0]
    if missing:
        lines.append(L["dq_missing"].format(datasets=", ".join(missing)))
    return lines or [L["dq_clean"]]


def _as_of(fresh: Freshness, month: Period) -> str:
    """The latest date in the counter visits or claims up to the month's end (data as-of)."""
    days = [d.latest for d in fresh.datasets if d.dataset in AS_OF_DATASETS and d.latest]
    return str(max(days) if days else month.last_day)


@dataclass
class Facts:
    """What a report reads besides results: branches, the data's as-of date, the quality
    note, the inputs recorded in the manifest and the rows the figures leave out."""

    branches: pl.DataFrame
    as_of: str
    quality: list[str]
    inputs: list[dict[str, Any]]
    left_out: list[LeftOut] = field(default_factory=list)


def report_facts(
    engine: Engine, month: Period, fresh: Freshness, ruleset: RuleSet, lang: Lang
) -> Facts:
    """The report's facts about the data: checked row by row when it is local, else (a URL
    only Spark reaches: hdfs://, s3a:// …) said so on the quality note."""
    branches = engine.reference("branches")
    if branches is None:
        raise DataError(f"{engine.root}: no dataset 'branches' (branches.csv, .parquet or folder)")
    table = branches.select("branch_id", "branch_name")
    local = engine.local
    if local is None:
        names = [name for name in DATASETS if engine.columns(name) is not None]
        inputs = [{"dataset": name, "path": engine.where(name)} for name in names]
        return Facts(table, _as_of(fresh, month), [LABELS[lang]["dq_spark"]], inputs)
    checked = check_data(local)  # first: it counts the rows left out as it goes
    found = left_out(local, {name for rule in ruleset for name in datasets_of(rule)})
    quality = _quality(checked, found, lang)
    return Facts(table, _as_of(fresh, month), quality, hash_inputs(local), found)


def exception_lists(
    month: Period, engine: Engine, ruleset: RuleSet, *, unmask: bool
) -> dict[str, pl.DataFrame]:
    """Every detection rule's exception rows, masked unless `unmask`; rules whose data is
    missing are left out (their scorecard line already says n/a and why)."""
    plans: dict[str, Listing] = {}
    for rule in ruleset:
        if rule.detection:
            try:
                plans[rule.id] = exception_plan(engine, ruleset, rule.id, month)
            except DataError:
                continue
    found = cached.collect(engine, list(plans.values()))  # lists over the same rows together
    return {
        rule_id: rows if unmask else mask_frame(rows)
        for rule_id, rows in zip(plans, found, strict=True)
    }
