"""Reading the history file: runs, a run's results, listed rows and inputs, and which run
is the latest of each period."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl

from kpitool.history.store import RESULT_COLUMNS, open_history
from kpitool.measure.results import RESULT_SCHEMA

__all__ = [
    "RUN_FIELDS",
    "inputs_of",
    "latest_runs",
    "listed_of",
    "recorded_runs",
    "reported_results",
    "results_of",
    "rule_history",
    "run_of",
]

RUN_FIELDS = (
    "run_id",
    "period",
    "command",
    "started_at",
    "finished_at",
    "tool_version",
    "rules_version",
    "engine",
    "data",
    "user",
    "host",
)


def run_of(conn: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """One run's row (without its inputs)."""
    row = conn.execute(f"SELECT {', '.join(RUN_FIELDS)} FROM runs WHERE run_id = ?", (run_id,))
    return dict(row.fetchone())


def inputs_of(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    """A run's input files: dataset, path, bytes, sha256."""
    rows = conn.execute(
        "SELECT dataset, path, bytes, sha256 FROM inputs WHERE run_id = ? ORDER BY rowid",
        (run_id,),
    )
    return [dict(r) for r in rows]


def recorded_runs(folder: Path | str) -> list[dict[str, Any]]:
    """Every recorded run, oldest first, each with its inputs."""
    with open_history(folder) as conn:
        if conn is None:
            return []
        runs = [dict(r) for r in conn.execute(f"SELECT {', '.join(RUN_FIELDS)} FROM runs")]
        for run in runs:
            run["inputs"] = inputs_of(conn, run["run_id"])
    return runs


def latest_runs(conn: sqlite3.Connection, command: str | None = None) -> dict[str, int]:
    """period label -> the id of its latest recorded run (of `command` only, when given:
    "report" runs are the ones holding exception lists and every rule)."""
    where = "" if command is None else "WHERE command = ?"
    rows = conn.execute(
        f"SELECT period, MAX(run_id) FROM runs {where} GROUP BY period ORDER BY period",
        () if command is None else (command,),
    )
    return {period: int(run_id) for period, run_id in rows}


def results_of(conn: sqlite3.Connection, run_id: int, period: str | None = None) -> pl.DataFrame:
    """A run's result rows of `period` (default: the run's own period)."""
    if period is None:
        period = str(run_of(conn, run_id)["period"])
    rows = conn.execute(
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM results WHERE run_id = ? AND period = ? "
        "ORDER BY rowid",
        (run_id, period),
    ).fetchall()
    dates = ("period_start", "period_end")
    schema = {n: pl.String() if n in dates else RESULT_SCHEMA[n] for n in RESULT_COLUMNS}
    frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    return frame.with_columns(pl.col(d).str.to_date() for d in dates)


def listed_of(conn: sqlite3.Connection, run_id: int) -> dict[str, dict[str, str | None]]:
    """A run's listed rows: rule id -> {key (JSON of the key columns' values): branch}."""
    found: dict[str, dict[str, str | None]] = {}
    rows = conn.execute(
        "SELECT rule_id, branch_id, key FROM exception_rows WHERE run_id = ?", (run_id,)
    )
    for rule_id, branch, key in rows:
        found.setdefault(rule_id, {})[key] = branch
    return found


def rule_history(folder: Path | str, rule: str, branch: str | None = None) -> pl.DataFrame:
    """A rule's value and status over the recorded periods (the latest run of each): one row
    per period, scope and scope id; `branch` keeps that branch's rows only."""
    columns = ("run_id", "period", "scope", "scope_id", "value", "target", "status")
    schema = {"run_id": pl.Int64(), **{c: RESULT_SCHEMA[c] for c in columns[1:]}}
    with open_history(folder) as conn:
        if conn is None:
            return pl.DataFrame(schema=schema)
        rows: list[tuple[Any, ...]] = []
        for period, run_id in latest_runs(conn).items():
            where = "run_id = ? AND period = ? AND rule_id = ?"
            args: tuple[Any, ...] = (run_id, period, rule)
            if branch is not None:
                where += " AND scope = 'branch' AND scope_id = ?"
                args += (branch,)
            rows += conn.execute(
                f"SELECT {', '.join(columns)} FROM results WHERE {where} ORDER BY rowid", args
            ).fetchall()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def key_columns_of(conn: sqlite3.Connection, run_id: int) -> dict[str, list[str]]:
    """rule id -> the columns identifying its listed rows in a run."""
    rows = conn.execute(
        "SELECT DISTINCT rule_id, key_columns FROM exception_rows WHERE run_id = ?", (run_id,)
    )
    return {rule_id: json.loads(columns) for rule_id, columns in rows}


def reported_results(
    folder: Path | str, periods: list[str], tool_version: str, rules_version: str
) -> dict[str, pl.DataFrame]:
    """period -> the results of its latest `report` run, for the periods whose latest report
    ran with this tool and rules version (others must be computed anew)."""
    found: dict[str, pl.DataFrame] = {}
    with open_history(folder) as conn:
        if conn is None:
            return found
        for period in periods:
            row = conn.execute(
                "SELECT run_id, tool_version, rules_version FROM runs "
                "WHERE period = ? AND command = 'report' ORDER BY run_id DESC LIMIT 1",
                (period,),
            ).fetchone()
            if row is not None and tuple(row)[1:] == (tool_version, rules_version):
                found[period] = results_of(conn, int(row[0]))
    return found
