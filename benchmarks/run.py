"""Benchmarks of issue 6 (`make bench`): kpitool at a provincial company's size.

Generates the seeded data sets once (benchmarks/data.py; reused while their parameters hold),
then measures each thing in a child process of its own (benchmarks/measures.py), as the
median of several runs: (1) the read floor, a streaming scan of every column the rules read;
(2) `evaluate` of every catalogue rule for one month; (3) for 12 months; (4) the same rules
as hand-written DuckDB SQL (benchmarks/duckdb_rules.sql), checked to give the same numbers;
(5) peak RSS of each; (6) `report` of every branch, HTML and PDF; (issue 17) reading a
1 M-row xlsx sheet and `report --format xlsx`; and (issue 7) the Spark engine in local
mode. Writes benchmarks/results.md. A benchmark, never a timed test.

    python benchmarks/run.py                      # everything (as `make bench`)
    python benchmarks/run.py --scale 1 --branches 20 --skip large,spark,report   # develop
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import data
import measures
import results

HERE = Path(__file__).resolve().parent
STEPS = ("floor", "evaluate", "duckdb", "check", "report", "xlsx", "spark", "large")
SPARK_SCALE = 10.0  # the mid-size set Spark and Polars are compared on (20 branches)
SPARK_TIMEOUT = 600.0


def _child(
    name: str, folder: Path, runs: int, months: list[str], timeout: float | None = None
) -> dict[str, Any]:
    """Run one measure in a fresh interpreter; its last stdout line is the JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name]
    command += ["--data", str(folder), "--runs", str(runs), "--months", ",".join(months)]
    print(f"  {name} {months[0]}{'…' + months[-1] if len(months) > 1 else ''} …", flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s (stopped)"}
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"    {json.dumps({k: v for k, v in result.items() if k != 'mismatches'})[:300]}")
    return result


def measure_set(
    folder: Path, runs: int, year_runs: int, skip: set[str], full: bool
) -> dict[str, Any]:
    """Every measure of one data set (`full`: also the check, reports and Spark)."""
    one, year = [measures.MONTH], measures.YEAR
    found: dict[str, Any] = {"rows": data.rows(folder), "rows_2015": data.rows_in_year(folder)}
    found["floor"] = _child("floor", folder, runs, one)
    found["evaluate_1"] = _child("evaluate", folder, runs, one)
    found["evaluate_12"] = _child("evaluate", folder, year_runs, year)
    found["evaluate_year"] = _child("evaluate", folder, year_runs, [measures.YEAR[0][:4]])
    if not full:
        return found
    if "duckdb" not in skip:
        found["duckdb_1"] = _child("duckdb", folder, runs, one)
        found["duckdb_12"] = _child("duckdb", folder, year_runs, year)
        found["duckdb_year"] = _child("duckdb", folder, year_runs, [measures.YEAR[0][:4]])
    if "check" not in skip:
        found["check"] = _child("check", folder, 1, year)
    if "report" not in skip:
        found["report"] = _child("report", folder, 1, one)
    if "xlsx" not in skip:
        found["xlsx"] = _child("xlsx", folder, runs, one)
    if "spark" not in skip:
        # Spark against Polars on a mid-size set (both engines, one month and 12), and on
        # this set for one month, given a time limit: local Spark on 2 cores may not finish.
        mid = data.ensure(data.small(SPARK_SCALE, 20)) if folder.name == "provincial" else folder
        found["spark"] = [_child("spark", mid, 1, year)]
        if mid != folder:
            found["spark"].append(_child("spark", folder, 1, one, timeout=SPARK_TIMEOUT))
    return found


def _versions() -> dict[str, str]:
    import duckdb
    import polars
    import weasyprint

    import kpitool

    return {
        "python": platform.python_version(),
        "kpitool": kpitool.__version__,
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
        "weasyprint": weasyprint.__version__,
        "commit": subprocess.run(
            ["git", "-C", str(HERE), "log", "-1", "--format=%h %cs"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
    }


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        gib = f", {int(memory) / 2**20:.0f} GiB RAM"
    except OSError:
        gib = ""
    return f"{platform.machine()} {model}, {os.cpu_count()} cores{gib}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--year-runs", type=int, default=1, help="runs of the 12-month timings")
    parser.add_argument("--scale", type=float, help="a small set instead (to develop)")
    parser.add_argument("--branches", type=int, default=20, help="with --scale")
    parser.add_argument("--skip", default="", help=f"comma-separated: {', '.join(STEPS)}")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--months", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measures.child(args.child, args.data, args.runs, args.months.split(","))
        return
    skip = {s for s in args.skip.split(",") if s}
    if unknown := skip - set(STEPS):
        parser.error(f"--skip: unknown {', '.join(sorted(unknown))}")
    main_set = data.small(args.scale, args.branches) if args.scale else data.SETS["provincial"]
    found: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": _machine(),
        "versions": _versions(),
        "runs": args.runs,
        "year_runs": args.year_runs,
    }
    print(f"data set {main_set.name}:", flush=True)
    found["main"] = {
        "name": main_set.name,
        "branches": main_set.branches,
        **measure_set(data.ensure(main_set), args.runs, args.year_runs, skip, True),
    }
    if "large" not in skip and not args.scale:
        large = data.SETS["large"]
        print(f"data set {large.name}:", flush=True)
        found["large"] = {
            "name": large.name,
            "branches": large.branches,
            **measure_set(data.ensure(large), args.runs, args.year_runs, skip, False),
        }
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "data" / "last_run.json").write_text(json.dumps(found, indent=2, default=str))
    text = results.render(found)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
