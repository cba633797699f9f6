"""What changed: one run's results against another's (two periods, or a restatement of one
period), how many recorded periods running a row has failed, and which listed exception
rows were listed before."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpitool.errors import UsageError
from kpitool.history.query import inputs_of, latest_runs, listed_of, results_of, run_of
from kpitool.history.store import HISTORY_FILE, open_history

__all__ = [
    "CHANGES",
    "Diff",
    "Outstanding",
    "compare_results",
    "diff_periods",
    "earlier_results",
    "outstanding",
]

CHANGES = (
    "newly_failing",
    "recovered",
    "still_failing",
    "value_changed",
    "unchanged",
    "new",
    "gone",
)
_KEY = ("rule_id", "scope", "scope_id")
Row = dict[str, Any]


def _rows(frame: pl.DataFrame | None) -> dict[tuple[str, str, str], Row]:
    if frame is None:
        return {}
    return {(r["rule_id"], r["scope"], r["scope_id"]): r for r in frame.iter_rows(named=True)}


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _change(before: Row | None, after: Row | None) -> str:
    """How a row moved: fail ↔ pass or warn, still failing, only its value, or not at all."""
    if before is None:
        return "new"
    if after is None:
        return "gone"
    was, now = before["status"] == "fail", after["status"] == "fail"
    if now and not was:
        return "newly_failing"
    if was and after["status"] in ("pass", "warn"):
        return "recovered"
    if was and now:
        return "still_failing"
    return "unchanged" if _same(before["value"], after["value"]) else "value_changed"


def compare_results(
    before: pl.DataFrame | None, after: pl.DataFrame, earlier: Sequence[pl.DataFrame] = ()
) -> list[Row]:
    """One row per rule, scope and scope id of either frame (each one period's results);
    `failing_periods` counts `after` and then `earlier` (newest first) while the row fails."""
    old, new = _rows(before), _rows(after)
    past = [_rows(frame) for frame in earlier]
    keys = list(new) + [k for k in old if k not in new]
    rows = []
    for key in keys:
        b, a = old.get(key), new.get(key)
        streak = 0
        if a is not None and a["status"] == "fail":
            streak = 1
            for period in past:
                if period.get(key, {}).get("status") != "fail":
                    break
                streak += 1
        delta = None
        if a is not None and b is not None and a["value"] is not None and b["value"] is not None:
            delta = a["value"] - b["value"]
        rows.append(
            {
                **dict(zip(_KEY, key, strict=True)),
                "value_before": None if b is None else b["value"],
                "value_after": None if a is None else a["value"],
                "delta": delta,
                "status_before": None if b is None else b["status"],
                "status_after": None if a is None else a["status"],
                "change": _change(b, a),
                "failing_periods": streak,
            }
        )
    return rows


def earlier_results(
    conn: sqlite3.Connection, period: str, command: str | None = None
) -> list[pl.DataFrame]:
    """The latest run's results (of `command`, when given) of each recorded period before
    `period`, newest first."""
    runs = latest_runs(conn, command)
    return [results_of(conn, runs[p]) for p in sorted(runs, reverse=True) if p < period]


@dataclass
class Diff:
    """Two runs compared: which, every row's change, and the input files that differ."""

    before: dict[str, Any]
    after: dict[str, Any]
    rows: list[Row]
    inputs_changed: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The shape of cli.md's `diff --format json`."""
        return {
            "before": self.before,
            "after": self.after,
            "rows": self.rows,
            "inputs_changed": self.inputs_changed,
        }


def _inputs_changed(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Input files added, removed or with another SHA-256, matched by dataset and path."""
    old = {(i["dataset"], i["path"]): i.get("sha256") for i in before}
    new = {(i["dataset"], i["path"]): i.get("sha256") for i in after}
    changed = []
    for key in [*new, *(k for k in old if k not in new)]:
        if old.get(key) != new.get(key):
            changed.append(
                {
                    "dataset": key[0],
                    "path": key[1],
                    "sha256_before": old.get(key),
                    "sha256_after": new.get(key),
                }
            )
    return changed


def _pick(conn: sqlite3.Connection, period: str, period2: str | None) -> tuple[int, int]:
    """The two run ids: the latest runs of two periods, or the last two runs of one."""
    if period2 is not None:
        runs = latest_runs(conn)
        for wanted in (period, period2):
            if wanted not in runs:
                known = ", ".join(runs) or "none"
                raise UsageError(f"diff {wanted}: no recorded run of it (recorded: {known})")
        return runs[period], runs[period2]
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT run_id FROM runs WHERE period = ? ORDER BY run_id DESC LIMIT 2", (period,)
        )
    ]
    if len(ids) < 2:
        raise UsageError(
            f"diff {period}: {len(ids)} recorded run(s) of it; a restatement needs two "
            "(or give a second period: diff P P2)"
        )
    return ids[1], ids[0]


def diff_periods(folder: Path | str, period: str, period2: str | None = None) -> Diff:
    """The latest runs of `period` and `period2` compared, or (no `period2`) the last two
    runs of `period`: a restatement, with the input files that changed."""
    with open_history(folder) as conn:
        if conn is None:
            raise UsageError(f"diff: no history in {folder} ({HISTORY_FILE}; run report first)")
        first, second = _pick(conn, period, period2)
        before, after = run_of(conn, first), run_of(conn, second)
        rows = compare_results(
            results_of(conn, first),
            results_of(conn, second),
            earlier_results(conn, str(after["period"])),
        )
        changed = _inputs_changed(inputs_of(conn, first), inputs_of(conn, second))
    return Diff(
        {"run_id": first, "period": before["period"]},
        {"run_id": second, "period": after["period"]},
        rows,
        changed,
    )


@dataclass
class Outstanding:
    """Listed rows against earlier periods' lists: per rule and key, the first period that
    listed it and how many periods did (this one included); per rule and branch, how many
    rows the previous recorded period listed that are gone now."""

    first_listed: dict[str, dict[str, tuple[str, int]]]
    gone: dict[tuple[str, str | None], int]
    previous: str | None


def outstanding(
    conn: sqlite3.Connection | None, period: str, keys: Mapping[str, Mapping[str, str | None]]
) -> Outstanding:
    """`keys` (rule id -> {key: branch}) of this period against the lists of the latest
    report of each recorded period before."""
    if conn is None:
        return Outstanding({}, {}, None)
    runs = latest_runs(conn, "report")
    periods = sorted(p for p in runs if p < period)
    lists = {p: listed_of(conn, runs[p]) for p in periods}
    first: dict[str, dict[str, tuple[str, int]]] = {}
    for rule_id, rows in keys.items():
        for key in rows:
            seen = [p for p in periods if key in lists[p].get(rule_id, {})]
            if seen:
                first.setdefault(rule_id, {})[key] = (seen[0], len(seen) + 1)
    gone: dict[tuple[str, str | None], int] = {}
    previous = periods[-1] if periods else None
    if previous is not None:
        for rule_id, rows in lists[previous].items():
            for key, branch in rows.items():
                if key not in keys.get(rule_id, {}):
                    gone[(rule_id, branch)] = gone.get((rule_id, branch), 0) + 1
    return Outstanding(first, gone, previous)
