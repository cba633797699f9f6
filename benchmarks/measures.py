"""What is measured, each run in a child process of its own (`run.py --child NAME`) so that
its peak RSS is its own: the child prints one JSON line with the seconds of every run, its
peak RSS and that of its own children (PDF workers, Spark's JVM)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from kpitool import evaluate, load_rules, open_data
from kpitool.api import use_cache
from kpitool.api.engines import EngineName
from kpitool.data.schema import DATASETS, GRAIN_COLUMNS
from kpitool.rules.expressions import parse_expression, referenced_columns

MONTH = "2015-03"
YEAR = [f"2015-{m:02d}" for m in range(1, 13)]


def needed_columns() -> dict[str, set[str]]:
    """Every canonical column any rule reads, per dataset (for the read floor): those its
    expressions name, its dates, grains, join keys and looked-up columns."""
    needed: dict[str, set[str]] = {}

    def add(dataset: str, *columns: str) -> None:
        known = set(DATASETS[dataset].column_names)
        needed.setdefault(dataset, set()).update(c for c in columns if c in known)

    for rule in load_rules():
        texts = list(rule.expressions().values())
        names = {c.split(".")[-1] for t in texts for c in referenced_columns(parse_expression(t))}
        add(rule.dataset, "branch_id", *names, *([rule.period.date] if rule.period else []))
        add(rule.dataset, *(GRAIN_COLUMNS[grain] for grain in rule.grains))
        if rule.entities is not None:
            add(rule.dataset, rule.entities.key)
        for lookup in rule.lookups:
            add(rule.dataset, *lookup.keys)
            add(lookup.dataset, *lookup.keys.values(), *lookup.columns.values(), *names)
        denominator, facts = rule.measure.denominator, rule.measure.facts
        if denominator is not None and denominator.dataset:
            period = [denominator.period.date] if denominator.period else []
            add(denominator.dataset, "branch_id", *names, *period)
        if facts is not None and facts.dataset:
            period = [facts.period.date] if facts.period else []
            add(facts.dataset, *([facts.key] if facts.key else []), *names, *period)
            add(rule.dataset, *([facts.key] if facts.key else []))
    return needed


def _timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def floor(folder: Path, runs: int) -> dict[str, Any]:
    """One streaming scan of every column the rules read, nothing computed."""
    source = open_data(folder)
    needed = needed_columns()

    def scan() -> None:
        plans = [
            source.scan(name).select(sorted(cols))
            for name, cols in needed.items()
            if source.has(name) and cols
        ]
        # Null counts force every value to be read and decoded (a bare `len` reads only the
        # files' metadata); nothing else is computed.
        pl.collect_all([p.select(pl.all().is_null().sum()) for p in plans], engine="streaming")

    columns = sum(len(c) for c in needed.values())
    return {"times": _timed(scan, runs), "columns": columns, "datasets": len(needed)}


def evaluate_months(folder: Path, runs: int, months: list[str]) -> dict[str, Any]:
    """kpitool.evaluate of every catalogue rule (what `kpitool evaluate` runs)."""
    rows: list[int] = []

    def run() -> None:
        rows.append(evaluate(months if len(months) > 1 else months[0], folder).height)

    return {"times": _timed(run, runs), "rows": rows[-1]}


def duckdb_months(folder: Path, runs: int, months: list[str]) -> dict[str, Any]:
    """The hand-written SQL of every rule, one query per rule and month, default threads."""
    import duckdb_peer

    rows: list[int] = []

    def run() -> None:
        with duckdb_peer.connect(folder) as con:
            rows.append(duckdb_peer.evaluate(con, months).height)

    import duckdb

    return {"times": _timed(run, runs), "rows": rows[-1], "duckdb": duckdb.__version__}


def check(folder: Path, runs: int, months: list[str]) -> dict[str, Any]:
    """kpitool's and the SQL's numerators and denominators, row by row (not timed)."""
    import duckdb_peer

    ours = evaluate(months, folder)
    with duckdb_peer.connect(folder) as con:
        theirs = duckdb_peer.evaluate(con, months)
    bad = duckdb_peer.compare(ours, theirs)
    compared = ours.filter(pl.col("scope").is_in(["company", "branch"])).height
    return {
        "times": [],
        "compared": compared,
        "sql_rows": theirs.height,
        "rules": ours["rule_id"].n_unique(),
        "mismatches": bad.head(50).to_dicts(),
        "mismatch_count": bad.height,
    }


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def report(folder: Path, runs: int, months: list[str]) -> dict[str, Any]:
    """`kpitool report` for every branch, HTML and PDF: cold (an empty cache and output
    folder), then the same period again with unchanged inputs (the re-run reuses what the
    inputs' fingerprints say is unchanged)."""
    from kpitool.api import report as render_reports  # `kpitool.report` may be the package

    out = Path(tempfile.mkdtemp(prefix="kpitool-bench-"))
    cache = out / "cache"
    previous = os.environ.get("KPITOOL_CACHE")
    os.environ["KPITOOL_CACHE"] = str(cache)
    try:
        runs_seen = []
        for _ in range(2):
            started = time.perf_counter()
            summary = render_reports(
                months[0], folder, out=out / "out", formats=("html", "pdf"), progress=False
            )
            runs_seen.append((time.perf_counter() - started, dict(summary.timings)))
        pdfs = sum(1 for p in summary.files if p.suffix == ".pdf")
        branches = len(open_data(folder).scan("branches").collect())
        cache_bytes = _tree_bytes(cache) if cache.is_dir() else 0
    finally:
        if previous is None:
            os.environ.pop("KPITOOL_CACHE", None)
        else:
            os.environ["KPITOOL_CACHE"] = previous
        shutil.rmtree(out, ignore_errors=True)
    (cold, timings), (again, again_timings) = runs_seen
    return {
        "times": [cold],
        "timings": timings,
        "rerun": again,
        "rerun_timings": again_timings,
        "cache_bytes": cache_bytes,
        "pdfs": pdfs,
        "branches": branches,
    }


def spark(folder: Path, runs: int, months: list[str]) -> dict[str, Any]:
    """The Spark engine in local mode beside Polars on the same data: session start-up, then
    the first month and (with more months asked) all of them, one run each."""
    import data

    from kpitool.spark.session import spark_session

    asked: list[str | list[str]] = [months[0], months] if len(months) > 1 else [months[0]]

    def timed(months: str | list[str], engine: EngineName) -> float:
        started = time.perf_counter()
        evaluate(months, folder, engine=engine)
        return time.perf_counter() - started

    polars = [timed(m, "polars") for m in asked]
    started = time.perf_counter()
    session = spark_session("local[*]", {"spark.sql.shuffle.partitions": "8"})
    session.range(1).count()
    startup = time.perf_counter() - started
    spark = [timed(m, "spark") for m in asked]
    session.stop()
    import pyspark

    return {
        "times": [],
        "data": folder.name,
        "rows": sum(data.rows(folder).values()),
        "startup": startup,
        "months": [1 if isinstance(m, str) else len(m) for m in asked],
        "polars": polars,
        "spark": spark,
        "pyspark": pyspark.__version__,
    }


XLSX_ROWS = 1_000_000


def _claims_workbook(folder: Path, rows: int) -> Path:
    """A sheet of `rows` claims (repeated from the data set) as a core system's workbook,
    written once beside the data set and reused."""
    from kpitool.xlsx import write_sheets

    target = folder.parent / f"{folder.name}-claims-{rows}" / "claims.xlsx"
    if not target.is_file():
        claims = open_data(folder).scan("claims").head(rows).collect()
        repeats = -(-rows // max(claims.height, 1))
        frame = pl.concat([claims] * repeats).head(rows)
        write_sheets(target, {"claims": frame})
    return target


def xlsx(folder: Path, runs: int, months: list[str], rows: int = XLSX_ROWS) -> dict[str, Any]:
    """Excel in and out: the read speed of a `rows`-row claims sheet (rows/s, the write
    speed once when it is made) and `report --format xlsx` for every branch (one run)."""
    from kpitool.api import report as render_reports  # `kpitool.report` may be the package

    started = time.perf_counter()
    book = _claims_workbook(folder, rows)
    made = time.perf_counter() - started
    read_rows: list[int] = []

    from kpitool.data.excel import forget_sheets

    def read() -> None:
        forget_sheets()  # time the workbook's read, not the cache
        read_rows.append(open_data(book.parent).scan("claims").collect().height)

    import fastexcel
    import xlsxwriter

    times = _timed(read, runs)
    out = Path(tempfile.mkdtemp(prefix="kpitool-bench-"))
    try:
        started = time.perf_counter()
        summary = render_reports(months[0], folder, out=out, formats=("xlsx",), progress=False)
        report_total = time.perf_counter() - started
        sizes = sum(p.stat().st_size for p in summary.files if p.suffix == ".xlsx")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "times": times,
        "rows": read_rows[-1],
        "bytes": book.stat().st_size,
        "made_seconds": made,
        "report_seconds": report_total,
        "report_timings": dict(summary.timings),
        "workbooks": sum(1 for p in summary.files if p.suffix == ".xlsx"),
        "workbook_bytes": sizes,
        "fastexcel": fastexcel.__version__,
        "xlsxwriter": xlsxwriter.__version__,
    }


MEASURES: dict[str, Callable[[Path, int, list[str]], dict[str, Any]]] = {
    "floor": lambda folder, runs, months: floor(folder, runs),
    "evaluate": evaluate_months,
    "duckdb": duckdb_months,
    "check": check,
    "report": report,
    "spark": spark,
    "xlsx": xlsx,
}


def _own_peak_mib() -> float:
    """This process's peak RSS since it started: VmHWM, not getrusage's ru_maxrss, which
    Linux carries across exec from the forked parent (the harness, which had just counted
    200 M rows, lent every child its 3 GiB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, folder: Path, runs: int, months: list[str]) -> None:
    """Run one measure and print its JSON line (the last line of stdout). Every measure but
    the report's runs without the cache (`--no-cache`): the engine's own time, each run."""
    if name != "report":
        use_cache(False)
    result = MEASURES[name](folder, runs, months)
    if result["times"]:
        result["median"] = statistics.median(result["times"])
    result["peak_rss_mib"] = _own_peak_mib()
    result["children_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result, default=str))
