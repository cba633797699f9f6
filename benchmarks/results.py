"""benchmarks/results.md from one run's figures: every figure beside its target, with the
ratios, and by how much a missed target is missed. benchmarks/notes.md (written by hand:
what the profile shows) is appended as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GIB = 1024.0  # MiB
WELL_UNDER = 6.0  # "well under 12x": at most half of it
FLOOR_TARGET = 2.5  # issue 18: one month at most 2.5x the read floor
MEMORY_TARGET = 2.0  # GiB, issue 18: one month at 100 M visits
ISSUE_ROWS = {
    "counter_visits": 20e6,
    "claims": 5e6,
    "policies": 10e6,
    "callbacks": 5e6,
    "renewals": 10e6,
    "lapse_cleanup": 1e6,
    "customer_info": 5e6,
}


def _s(result: dict[str, Any] | None, key: str = "median") -> float | None:
    if not result or "error" in result or key not in result:
        return None
    return float(result[key])


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:.2f} s" if value < 100 else f"{value:,.0f} s"


def _verdict(value: float | None, limit: float, lower_is_better: bool = True) -> str:
    if value is None:
        return "not measured"
    if lower_is_better:
        return "met" if value <= limit else f"**missed** by {value / limit:.1f}x"
    return "met" if value >= limit else f"**missed** by {limit / value:.1f}x"


def _rss(result: dict[str, Any] | None) -> str:
    if not result or "error" in result:
        return "—"
    own = result["peak_rss_mib"]
    kids = result.get("children_peak_rss_mib", 0.0)
    return _fmt(own, "MiB") + (f" (+ {_fmt(kids, 'MiB')} in children)" if kids > 50 else "")


def _errors(found: dict[str, Any]) -> list[str]:
    return [
        f"- {name}: failed: `{value['error']}`"
        for name, value in found.items()
        if isinstance(value, dict) and "error" in value
    ]


def _rows_table(main: dict[str, Any], large: dict[str, Any] | None) -> list[str]:
    lines = [
        "| dataset | issue (a year) | rows in 2015 | rows on disk |"
        + (" large set: on disk |" if large else ""),
        "|---|---|---|---|" + ("---|" if large else ""),
    ]
    for name, wanted in ISSUE_ROWS.items():
        in_year = main["rows_2015"].get(name)
        line = f"| {name} | {wanted / 1e6:g} M | {in_year:,} | {main['rows'][name]:,} |"
        if large:
            line += f" {large['rows'][name]:,} |"
        lines.append(line)
    return lines


def _main_table(m: dict[str, Any], runs: int) -> list[str]:
    floor, one, twelve = _s(m.get("floor")), _s(m.get("evaluate_1")), _s(m.get("evaluate_12"))
    duck1, duck12 = _s(m.get("duckdb_1")), _s(m.get("duckdb_12"))
    lines = [
        f"| measure (median of {runs} runs, own process) | seconds | ratio | target | "
        "verdict | peak RSS |",
        "|---|---|---|---|---|---|",
        f"| (1) floor: scan every column the rules read | {_fmt(floor)} | 1.0x | | | "
        f"{_rss(m.get('floor'))} |",
    ]
    ratio = one / floor if one and floor else None
    lines.append(
        f"| (2) kpitool evaluate, every rule, one month (2015-03) | {_fmt(one)} | "
        f"{_fmt_ratio(ratio)} floor | ≤ {FLOOR_TARGET:g}x floor | "
        f"{_verdict(ratio, FLOOR_TARGET)} | {_rss(m.get('evaluate_1'))} |"
    )
    vs_duck = one / duck1 if one and duck1 else None
    lines.append(
        f"| (2) … against the DuckDB SQL, one month | | {_fmt_ratio(vs_duck)} "
        "DuckDB's time | ≤ 1.0x DuckDB's time | "
        f"{_verdict(vs_duck, 1.0) if vs_duck else 'not measured'} | |"
    )
    ratio12 = twelve / one if twelve and one else None
    lines.append(
        f"| (3) kpitool evaluate, every rule, 12 months | {_fmt(twelve)} | "
        f"{_fmt_ratio(ratio12)} one month | well under 12x (≤ {WELL_UNDER:g}x) | "
        f"{_verdict(ratio12, WELL_UNDER)} | {_rss(m.get('evaluate_12'))} |"
    )
    whole, duck_year = _s(m.get("evaluate_year")), _s(m.get("duckdb_year"))
    ratio_year = whole / one if whole and one else None
    vs_duck_year = whole / duck_year if whole and duck_year else None
    lines.append(
        f"| (3) kpitool evaluate, every rule, the year (--period 2015) | {_fmt(whole)} | "
        f"{_fmt_ratio(ratio_year)} one month; {_fmt_ratio(vs_duck_year)} DuckDB's year | "
        f"≤ 1.0x DuckDB's time | {_verdict(vs_duck_year, 1.0)} | "
        f"{_rss(m.get('evaluate_year'))} |"
    )
    duck_ratio = duck12 / duck1 if duck1 and duck12 else None
    vs_duck12 = duck12 / twelve if duck12 and twelve else None
    lines.append(
        f"| (4) DuckDB SQL, every rule, one month | {_fmt(duck1)} | "
        f"{_fmt_ratio(duck1 / floor if duck1 and floor else None)} floor | (the peer) | | "
        f"{_rss(m.get('duckdb_1'))} |"
    )
    lines.append(
        f"| (4) DuckDB SQL, every rule, the year (the month statements with the year's "
        f"bounds, timing only) | {_fmt(duck_year)} | | (the peer) | | "
        f"{_rss(m.get('duckdb_year'))} |"
    )
    lines.append(
        f"| (4) DuckDB SQL, every rule, 12 months | {_fmt(duck12)} | "
        f"{_fmt_ratio(duck_ratio)} one month; {_fmt_ratio(vs_duck12)} kpitool's 12 | "
        f"kpitool ≤ 1.0x DuckDB's time | "
        f"{_verdict(vs_duck12, 1.0, False) if vs_duck12 else 'not measured'} | "
        f"{_rss(m.get('duckdb_12'))} |"
    )
    return lines


def _fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _report(m: dict[str, Any]) -> list[str]:
    rep = m.get("report")
    if not rep or "error" in rep:
        return ["(6) reports: not measured." if not rep else f"(6) reports failed: {rep['error']}"]
    t, again, branches = rep["timings"], rep.get("rerun_timings", {}), rep["branches"]
    pdf = t.get("pdf", 0.0) / branches
    total, rerun = rep["median"], rep.get("rerun")

    def row(label: str, key: str, target: str = "", verdict: str = "") -> str:
        per = f"{t[key] / branches:.3f} s" if key in ("html", "pdf") and key in t else ""
        return (
            f"| {label} | {_fmt(t.get(key))} | {_fmt(again.get(key))} | {per} | {target} | "
            f"{verdict} |"
        )

    return [
        f"(6) `kpitool report --month {m.get('month', '2015-03')}` for all {branches} branches "
        f"(+ the company page), HTML and PDF: cold (empty cache and output folder), then the "
        f"same period again with unchanged inputs ({rep['pdfs']} PDFs; peak RSS {_rss(rep)}; "
        f"cache on disk after both: {rep.get('cache_bytes', 0) / 2**20:,.0f} MiB):",
        "",
        "| step | cold | re-run | per branch (cold) | target | verdict |",
        "|---|---|---|---|---|---|",
        row("data check (quality note)", "data_check"),
        row("evaluate (YTD, prior month, same month last year)", "evaluate"),
        row("exception lists and drill-downs", "exceptions"),
        row("HTML", "html"),
        row("PDF (WeasyPrint, process pool)", "pdf", "≤ 0.5 s per branch", _verdict(pdf, 0.5)),
        f"| total | {_fmt(total)} | {_fmt(rerun)} | {total / branches:.3f} s | ≤ 90 s cold, "
        f"≤ 20 s re-run | cold {_verdict(total, 90.0)}; re-run {_verdict(rerun, 20.0)} |",
    ]


def _xlsx(m: dict[str, Any]) -> list[str]:
    x = m.get("xlsx")
    if not x or "error" in x:
        return ["Excel: not measured." if not x else f"Excel failed: {x['error']}"]
    t, branches = x["report_timings"], max(x["workbooks"] - 1, 1)
    return [
        f"Read: a {x['rows']:,}-row claims sheet ({x['bytes'] / 2**20:.0f} MiB xlsx, written "
        f"once in {_fmt(x['made_seconds'])}) through the catalogue: {_fmt(x['median'])}, "
        f"**{x['rows'] / x['median']:,.0f} rows/s** (fastexcel {x['fastexcel']}; peak RSS "
        f"{_rss(x)}).",
        "",
        f"`kpitool report --format xlsx` for {branches} branches and the company: "
        f"{_fmt(x['report_seconds'])} in all, of which writing the {x['workbooks']} workbooks "
        f"({x['workbook_bytes'] / 2**20:.1f} MiB, XlsxWriter {x['xlsxwriter']}) "
        f"{_fmt(t.get('xlsx'))}, {t.get('xlsx', 0.0) / branches:.3f} s per branch.",
    ]


def _check(m: dict[str, Any]) -> list[str]:
    c = m.get("check")
    if not c or "error" in c:
        return [
            "Same numbers check: not run." if not c else f"Same numbers check failed: {c['error']}"
        ]
    lines = [
        f"Same numbers: every company and branch row of the {c['rules']} rules for the 12 months "
        f"({c['compared']:,} kpitool rows, {c['sql_rows']:,} SQL rows) compared on numerator and "
        f"denominator: **{c['mismatch_count']} mismatches**."
    ]
    if c["mismatch_count"]:
        lines += ["", "| rule | period | scope | id | kpitool num / den | SQL num / den |"]
        lines += ["|---|---|---|---|---|---|"]
        for row in c["mismatches"]:
            lines.append(
                f"| {row['rule_id']} | {row['period']} | {row['scope']} | {row['scope_id']} | "
                f"{row['numerator']} / {row['denominator']} | "
                f"{row['numerator_sql']} / {row['denominator_sql']} |"
            )
    return lines


def _large(main: dict[str, Any], large: dict[str, Any] | None) -> list[str]:
    if not large:
        return ["The 100 M visit set was not measured in this run."]
    visits_main = main["rows"]["counter_visits"]
    visits_large = large["rows"]["counter_visits"]
    lines = [
        f"Same rules on {visits_large:,} counter visits ({large['rows_2015']['counter_visits']:,} "
        f"in 2015; {visits_large / visits_main:.1f}x the provincial set's, generated a month at "
        "a time; the other datasets are the provincial set's):",
        "",
        "| measure | seconds | peak RSS | RSS vs provincial | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("floor", "floor"),
        ("evaluate_1", "evaluate, one month"),
        ("evaluate_12", "evaluate, 12 months"),
    ):
        big, small = large.get(key), main.get(key)
        rss_big = _s(big, "peak_rss_mib")
        rss_small = _s(small, "peak_rss_mib")
        growth = rss_big / rss_small if rss_big and rss_small else None
        target, verdict = "", ""
        if key == "evaluate_1":
            target = f"≤ {MEMORY_TARGET:g} GiB"
            verdict = _verdict(rss_big / GIB if rss_big else None, MEMORY_TARGET)
        elif key.startswith("evaluate"):
            target = f"≤ 4 GiB, growing much less than rows ({visits_large / visits_main:.1f}x)"
            verdict = _verdict(rss_big / GIB if rss_big else None, 4.0)
        lines.append(
            f"| {label} | {_fmt(_s(big))} | {_fmt(rss_big, 'MiB')} | {_fmt_ratio(growth)} | "
            f"{target} | {verdict} |"
        )
    return lines


def _spark(m: dict[str, Any]) -> list[str]:
    runs = m.get("spark")
    if not runs:
        return ["Spark: not measured."]
    lines = [
        "Spark engine (issue 7) in local mode (`local[*]`, shuffle partitions 8) beside Polars,",
        "same process, same data, one run each (the JVM is a child process: its memory is not",
        "in these figures). Start-up is the Spark session's, paid once per process.",
        "",
        "| data set (rows on disk) | months | Spark start-up | Spark | Polars | Spark / Polars |",
        "|---|---|---|---|---|---|",
    ]
    for sp in runs:
        if "error" in sp:
            lines.append(f"| provincial | 1 | | {sp['error']} | | |")
            continue
        for months, spark, polars in zip(sp["months"], sp["spark"], sp["polars"], strict=True):
            lines.append(
                f"| {sp['data']} ({sp['rows']:,}) | {months} | {_fmt(sp['startup'])} | "
                f"{_fmt(spark)} | {_fmt(polars)} | {_fmt_ratio(spark / polars)} |"
            )
    return lines


def render(found: dict[str, Any]) -> str:
    main, large = found["main"], found.get("large")
    v = found["versions"]
    lines = [
        "# Benchmark results (issues 6 and 18)",
        "",
        "Written by `make bench` (benchmarks/run.py); a benchmark, never a timed test. Each",
        "figure is measured in a process of its own (peak RSS is that process's), as the median",
        f"of {found['runs']} runs ({found.get('year_runs', found['runs'])} for 12 months) unless "
        "it says otherwise. Figures from a machine other engineers",
        "were using at the same time are noisy: take final figures on an idle machine.",
        "",
        f"- date: {found['date']}; machine: {found['machine']}",
        f"- versions: Python {v['python']}, kpitool {v['kpitool']} ({v['commit']}), polars "
        f"{v['polars']}, duckdb {v['duckdb']}, weasyprint {v['weasyprint']}",
        f"- data set `{main['name']}` (benchmarks/data/, seeded, written once and reused): "
        f"{main['branches']} branches",
        "",
        *_rows_table(main, large),
        "",
        "## Evaluation against the floor and the DuckDB peer",
        "",
        *_main_table(main, found["runs"]),
        "",
        *_check(main),
        "",
        "## Memory at 100 M counter visits",
        "",
        *_large(main, large),
        "",
        "## Reports",
        "",
        *_report(main),
        "",
        "## Excel (xlsx) in and out",
        "",
        *_xlsx(main),
        "",
        "## Spark local mode against Polars",
        "",
        *_spark(main),
        "",
    ]
    errors = _errors(main) + (_errors(large) if large else [])
    if errors:
        lines += ["## Failed measures", "", *errors, ""]
    notes = HERE / "notes.md"
    if notes.is_file():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)
