"""The history of runs in OUT/history.sqlite: what each report (and `evaluate --record`)
computed, so later runs can say what changed (`kpitool history`, `kpitool diff`)."""

from kpitool.history.compare import Diff, diff_periods
from kpitool.history.query import recorded_runs, rule_history
from kpitool.history.store import HISTORY_FILE, Run, hash_inputs, record_run

__all__ = [
    "HISTORY_FILE",
    "Diff",
    "Run",
    "diff_periods",
    "hash_inputs",
    "record_run",
    "recorded_runs",
    "rule_history",
]
