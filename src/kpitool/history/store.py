"""The history file: one SQLite database in OUT recording every run, so a period's figures,
exception rows and inputs can be compared with earlier runs.

Readable by any SQLite tool (`sqlite3 OUT/history.sqlite 'SELECT * FROM runs'`). The schema
is versioned by `PRAGMA user_version` and migrated forward on open; the journal is WAL and
each run is written in one `BEGIN IMMEDIATE` transaction, so concurrent runs wait their turn
(busy timeout) and a run killed mid-write leaves every earlier run intact.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kpitool import cache
from kpitool.data.catalogue import DataSource
from kpitool.errors import DataError
from kpitool.measure.results import RESULT_SCHEMA

__all__ = [
    "HISTORY_FILE",
    "SCHEMA_VERSION",
    "Listed",
    "Run",
    "hash_inputs",
    "open_history",
    "record_run",
]

HISTORY_FILE = "history.sqlite"
BUSY_TIMEOUT_MS = 120_000
RESULT_COLUMNS: tuple[str, ...] = tuple(RESULT_SCHEMA)
"""A result row as kpitool.measure.results has it, every column kept."""

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY AUTOINCREMENT,
            period TEXT NOT NULL,
            command TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            tool_version TEXT NOT NULL,
            rules_version TEXT NOT NULL,
            engine TEXT NOT NULL,
            data TEXT NOT NULL,
            user TEXT NOT NULL,
            host TEXT NOT NULL)""",
        """CREATE TABLE results (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            rule_id TEXT NOT NULL, period TEXT NOT NULL,
            scope TEXT NOT NULL, scope_id TEXT NOT NULL,
            value REAL, numerator REAL, denominator REAL, target REAL,
            status TEXT NOT NULL, reason TEXT, target_source TEXT,
            milestone REAL, milestone_date TEXT, pace_needed REAL)""",
        "CREATE INDEX results_by_run ON results(run_id, period)",
        """CREATE TABLE exception_rows (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            rule_id TEXT NOT NULL, branch_id TEXT,
            key_columns TEXT NOT NULL, key TEXT NOT NULL)""",
        "CREATE INDEX exception_rows_by_run ON exception_rows(run_id, rule_id)",
        """CREATE TABLE inputs (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            dataset TEXT NOT NULL, path TEXT NOT NULL, bytes INTEGER, sha256 TEXT)""",
    ),
    (
        # periods of any kind (periods.md): a result row carries its period's dates
        "ALTER TABLE results ADD COLUMN period_start TEXT",
        "ALTER TABLE results ADD COLUMN period_end TEXT",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema this kpitool writes: migration N brings a file from user_version N-1 to N."""


@dataclass(frozen=True)
class Listed:
    """A detection rule's listed rows as the history keeps them: the columns identifying a
    row and each row's values of them (with its branch)."""

    rule_id: str
    key_columns: tuple[str, ...]
    keys: list[tuple[str | None, str]]
    """(branch_id, key as JSON) per row."""


@dataclass(frozen=True)
class Run:
    """One run to record: what it was asked and what it computed."""

    period: str
    command: str
    started_at: str
    tool_version: str
    rules_version: str
    engine: str
    data: str
    results: pl.DataFrame
    inputs: Sequence[dict[str, Any]] = ()
    listed: Sequence[Listed] = field(default_factory=tuple)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not a kpitool history file ({exc})") from None
    return conn


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL; a new file's switch needs the file to itself, which SQLite does not
    wait for (busy_timeout does not apply), so a run that meets another retries."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file's schema to SCHEMA_VERSION, each step in its own transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise DataError(
            f"{path}: history schema {version} is newer than this kpitool's "
            f"({SCHEMA_VERSION}); upgrade kpitool"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for step in _MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@contextmanager
def open_history(
    folder: Path | str, *, create: bool = False
) -> Iterator[sqlite3.Connection | None]:
    """The history connection of `folder` (its schema current), or None when the folder has
    no history file and `create` is false."""
    path = Path(folder) / HISTORY_FILE
    if not path.exists() and not create:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path)
    try:
        try:
            _migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path}: not a kpitool history file ({exc})") from None
        conn.row_factory = sqlite3.Row
        yield conn
    finally:
        conn.close()


def hash_inputs(source: DataSource) -> list[dict[str, Any]]:
    """Every input file of a local data source with its size and SHA-256 (a re-run costs a
    stat per unchanged file: the cache remembers each file state's hash)."""
    entries = []
    for name in source.available():
        for path in source.files(name):
            entries.append(
                {
                    "dataset": name,
                    "path": str(path),
                    "bytes": path.stat().st_size,
                    "sha256": cache.fingerprint(path, "sha256"),  # once per file state
                }
            )
    return entries


def _result_rows(run_id: int, results: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    for row in results.select(RESULT_COLUMNS).iter_rows():
        yield (run_id, *(v.isoformat() if isinstance(v, dt.date) else v for v in row))


def record_run(folder: Path | str, run: Run) -> int:
    """Append a run, its result rows, listed rows and inputs to `folder`'s history in one
    transaction (waiting for a concurrent run to finish); returns its run id."""
    finished = dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    with open_history(folder, create=True) as conn:
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(
                "INSERT INTO runs (period, command, started_at, finished_at, tool_version, "
                "rules_version, engine, data, user, host) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run.period,
                    run.command,
                    run.started_at,
                    finished,
                    run.tool_version,
                    run.rules_version,
                    run.engine,
                    run.data,
                    user,
                    socket.gethostname(),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            marks = ",".join("?" * (len(RESULT_COLUMNS) + 1))
            conn.executemany(
                f"INSERT INTO results (run_id, {', '.join(RESULT_COLUMNS)}) VALUES ({marks})",
                _result_rows(run_id, run.results),
            )
            conn.executemany(
                "INSERT INTO exception_rows VALUES (?,?,?,?,?)",
                (
                    (run_id, listed.rule_id, branch, json.dumps(listed.key_columns), key)
                    for listed in run.listed
                    for branch, key in listed.keys
                ),
            )
            conn.executemany(
                "INSERT INTO inputs VALUES (?,?,?,?,?)",
                (
                    (run_id, i["dataset"], i["path"], i.get("bytes"), i.get("sha256"))
                    for i in run.inputs
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return run_id
