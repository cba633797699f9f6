"""The library calls over the history file and the data's freshness: `history`, `diff`,
`freshness`, and recording an evaluation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from kpitool import __version__
from kpitool.api.engines import Data, EngineName, open_engine
from kpitool.history.compare import Diff, diff_periods
from kpitool.history.query import recorded_runs, rule_history
from kpitool.history.store import Run, hash_inputs, record_run
from kpitool.measure.freshness import Freshness
from kpitool.measure.freshness import freshness as measure_freshness
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period, parse_period
from kpitool.rules.model import RuleSet

__all__ = ["diff", "freshness", "history", "record_evaluation"]

_RUN_SCHEMA = {
    "run_id": pl.Int64(),
    "period": pl.String(),
    "command": pl.String(),
    "started_at": pl.String(),
    "finished_at": pl.String(),
    "tool_version": pl.String(),
    "rules_version": pl.String(),
    "engine": pl.String(),
    "data": pl.String(),
    "user": pl.String(),
    "host": pl.String(),
    "inputs": pl.List(
        pl.Struct(
            {
                "dataset": pl.String(),
                "path": pl.String(),
                "bytes": pl.Int64(),
                "sha256": pl.String(),
            }
        )
    ),
}


def history(
    out: Path | str = Path("out"), *, rule: str | None = None, branch: str | None = None
) -> pl.DataFrame:
    """The runs recorded in `out` (one row each, with its `inputs`), or, with `rule`, that
    rule's value and status over the recorded periods (the latest run of each); `branch`
    keeps one branch's rows."""
    if rule is not None:
        return rule_history(out, rule, branch)
    runs = recorded_runs(out)
    return pl.DataFrame(runs, schema=_RUN_SCHEMA) if runs else pl.DataFrame(schema=_RUN_SCHEMA)


def diff(out: Path | str, period: Period | str, period2: Period | str | None = None) -> Diff:
    """Period against period (the latest run of each), or the last two runs of one period."""
    return diff_periods(out, str(period), None if period2 is None else str(period2))


def freshness(
    month: Period | str,
    data: Data = None,
    *,
    stale_days: int = 3,
    engine: EngineName = "polars",
) -> Freshness:
    """Each fact dataset's latest date for a month, and which are stale (cli.md Freshness)."""
    the_month = month if isinstance(month, Period) else parse_period(month)
    return measure_freshness(open_engine(data, engine), the_month, stale_days)


def record_evaluation(
    out: Path | str, month: Period, opened: Engine, ruleset: RuleSet, results: pl.DataFrame
) -> int:
    """Record an evaluation in `out`'s history (results and input hashes, no lists)."""
    local = opened.local
    run = Run(
        period=str(month),
        command="evaluate",
        started_at=dt.datetime.now().replace(microsecond=0).isoformat(sep=" "),
        tool_version=__version__,
        rules_version=ruleset.version,
        engine=opened.name,
        data=opened.root,
        results=results,
        inputs=hash_inputs(local) if local is not None else [],
    )
    return record_run(out, run)
