"""`kpitool report`: every branch's HTML and PDF report and the company's, for one month.

Writes OUT/YYYY-MM/<branch>.html and .pdf, index.html and company.pdf, and manifest.json.
The rules are evaluated once for the year's months (one pass per rule); pages are rendered
from Jinja2 templates (autoescaped) and PDFs in a process pool; every file is written to a
temporary name and renamed, so a run killed at any moment leaves the previous report whole.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import polars as pl
from rich.console import Console
from rich.progress import Progress

from kpitool import __version__
from kpitool.data.catalogue import DataSource, is_url, open_data
from kpitool.data.check import check_data
from kpitool.data.privacy import mask_frame
from kpitool.errors import DataError, UsageError
from kpitool.measure.periods import Month, parse_month
from kpitool.output import atomic_write, folder_lock, safe_filename
from kpitool.polars.engine import evaluate, exceptions
from kpitool.report.context import ReportData, branch_context, company_context
from kpitool.report.format import Lang
from kpitool.report.labels import LABELS
from kpitool.report.pdf import check_cjk_font, render_pdf
from kpitool.resources import BUNDLED_DATA, BUNDLED_TEMPLATES
from kpitool.rules.model import RuleSet, load_rules

__all__ = ["AS_OF_COLUMNS", "ReportSummary", "render_reports"]

AS_OF_COLUMNS = (("counter_visits", "arrived_at"), ("claims", "reported_at"))
"""Where a report's "data as of" date comes from: the latest of these up to the month's end."""


@dataclass
class ReportSummary:
    """What a report run wrote, and how long each step took."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _environment(templates: Path | None) -> jinja2.Environment:
    folders = [str(templates)] if templates is not None else []
    if templates is not None and not templates.is_dir():
        raise UsageError(f"--templates {templates}: not a folder")
    loader = jinja2.FileSystemLoader([*folders, str(BUNDLED_TEMPLATES)])
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _quality(source: DataSource, lang: Lang) -> list[str]:
    report = check_data(source)
    L = LABELS[lang]
    lines = [
        L["dq_errors"].format(dataset=d.dataset, errors=d.errors)
        for d in report.datasets
        if d.errors
    ]
    missing = [d.dataset for d in report.datasets if d.files == 0]
    if missing:
        lines.append(L["dq_missing"].format(datasets=", ".join(missing)))
    return lines or [L["dq_clean"]]


def _inputs(source: DataSource) -> list[dict[str, Any]]:
    entries = []
    for name in source.available():
        for path in source.files(name):
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            entries.append(
                {
                    "dataset": name,
                    "path": str(path),
                    "bytes": path.stat().st_size,
                    "sha256": digest.hexdigest(),
                }
            )
    return entries


def _as_of(source: DataSource, month: Month) -> str:
    """The latest date in the counter visits or claims up to the month's end (data as-of)."""
    latest = None
    for name, column in AS_OF_COLUMNS:
        if source.has(name):
            value = (
                source.scan(name)
                .select(pl.col(column).cast(pl.Date))
                .filter(pl.col(column) <= month.last_day)
                .max()
                .collect()
                .item()
            )
            latest = value if latest is None or (value and value > latest) else latest
    return str(latest or month.last_day)


@dataclass
class _Facts:
    """What a report reads besides results: branches, the data's as-of date, the quality
    note and the inputs recorded in the manifest."""

    branches: pl.DataFrame
    as_of: str
    quality: list[str]
    inputs: list[dict[str, Any]]


def _facts(
    data: DataSource | Path | str | None, month: Month, lang: Lang, engine: str
) -> tuple[DataSource | str, _Facts]:
    """The data as the engines take it, and the report's facts about it: read locally, or by
    Spark when the data is a URL only Spark reaches (hdfs://, s3a:// …)."""
    if engine == "spark" and not isinstance(data, DataSource) and is_url(str(data)):
        from kpitool.spark.engine import data_facts

        url = str(data)
        branches, as_of, locations = data_facts(url, month, AS_OF_COLUMNS)
        note = LABELS[lang]["dq_spark"]
        inputs = [{"dataset": name, "path": where} for name, where in locations.items()]
        return url, _Facts(branches, as_of, [note], inputs)
    source = data if isinstance(data, DataSource) else open_data(data or BUNDLED_DATA)
    table = source.scan("branches").select("branch_id", "branch_name").collect()
    return source, _Facts(table, _as_of(source, month), _quality(source, lang), _inputs(source))


def _branches(table: pl.DataFrame, wanted: Sequence[str] | None) -> list[dict[str, str]]:
    branches = [{"id": b, "name": n, "file": safe_filename(b)} for b, n in table.iter_rows()]
    if wanted:
        known = {b["id"] for b in branches}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise UsageError(
                f"--branch {unknown[0]!r}: not a branch in branches "
                f"(known: {', '.join(sorted(known))})"
            )
        branches = [b for b in branches if b["id"] in wanted]
    return branches


def _exception_lists(
    month: Month, source: DataSource | str, ruleset: RuleSet, *, unmask: bool, engine: str
) -> dict[str, pl.DataFrame]:
    """Every detection rule's exception rows, masked unless `unmask`; rules whose data is
    missing are left out (their scorecard line already says n/a and why)."""
    listed = {}
    for rule in ruleset:
        if rule.detection:
            try:
                rows = exceptions(rule.id, month, source, ruleset, engine=engine)
                listed[rule.id] = rows if unmask else mask_frame(rows)
            except DataError:
                continue
    return listed


def _pdf_job(html: str, target: str) -> str:
    render_pdf(html, Path(target))
    return target


def render_reports(
    month: Month | str,
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    out: Path | str = Path("out"),
    *,
    branches: Sequence[str] | None = None,
    formats: Sequence[str] = ("html", "pdf"),
    lang: Lang = "zh",
    templates: Path | None = None,
    progress: bool = True,
    reproducible: bool = False,
    unmask: bool = False,
    workers: int | None = None,
    engine: str = "polars",
) -> ReportSummary:
    """Render the month's branch and company reports into `out/YYYY-MM/`."""
    started = time.perf_counter()
    the_month = month if isinstance(month, Month) else parse_month(month)
    unknown_formats = sorted(set(formats) - {"html", "pdf"})
    if unknown_formats or not formats:
        raise UsageError(f"--format {','.join(formats)}: expected html, pdf or html,pdf")
    if "pdf" in formats:
        check_cjk_font()
    ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
    env = _environment(templates)
    summary = ReportSummary(Path(out) / str(the_month))
    timings = summary.timings
    source, facts = _facts(data, the_month, lang, engine)
    every = _branches(facts.branches, None)
    chosen = _branches(facts.branches, branches)
    timings["data_check"] = time.perf_counter() - started
    step = time.perf_counter()

    months = sorted(
        {
            *the_month.months_of_year_to_date(),
            the_month.previous(),
            the_month.same_month_last_year(),
        }
    )
    results = evaluate(months, source, ruleset, engine=engine)
    timings["evaluate"] = time.perf_counter() - step
    step = time.perf_counter()
    listed = _exception_lists(the_month, source, ruleset, unmask=unmask, engine=engine)
    timings["exceptions"] = time.perf_counter() - step
    report_data = ReportData(the_month, ruleset, results, listed, every, facts.quality, lang)
    generated = (
        "reproducible"
        if reproducible
        else dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
    )
    common = {
        "L": LABELS[lang],
        "lang": lang,
        "css": (BUNDLED_TEMPLATES / "report.css").read_text(encoding="utf-8")
        if templates is None or not (templates / "report.css").is_file()
        else (templates / "report.css").read_text(encoding="utf-8"),
        "period": str(the_month),
        "as_of": facts.as_of,
        "generated": generated,
        "version": ruleset.version,
    }

    step = time.perf_counter()
    folder = summary.folder
    pages: list[tuple[Path, str]] = []
    console = Console(stderr=True)
    with Progress(console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("HTML", total=len(chosen) + 1)
        for branch in chosen:
            html = env.get_template("branch.html").render(
                **common, **branch_context(report_data, branch)
            )
            pages.append((folder / f"{branch['file']}", html))
            bar.advance(task)
        company = company_context(report_data)
        index = env.get_template("company.html").render(
            **common,
            **company,
            branches=every,
            linked=[{**b, "pdf": "pdf" in formats} for b in chosen],
            links=True,
        )
        company_page = env.get_template("company.html").render(
            **common, **company, branches=every, linked=[], links=False
        )
        bar.advance(task)
    timings["html"] = time.perf_counter() - step
    with folder_lock(folder):
        if "html" in formats:
            for stem, html in pages:
                summary.files.append(atomic_write(stem.with_suffix(".html"), html))
            summary.files.append(atomic_write(folder / "index.html", index))
        if "pdf" in formats:
            step = time.perf_counter()
            jobs = [(html, str(stem.with_suffix(".pdf"))) for stem, html in pages]
            jobs.append((company_page, str(folder / "company.pdf")))
            count = workers or min(os.cpu_count() or 1, len(jobs))
            context = multiprocessing.get_context("spawn")
            with (
                Progress(console=console, disable=not progress, transient=True) as bar,
                cf.ProcessPoolExecutor(max_workers=count, mp_context=context) as pool,
            ):
                task = bar.add_task("PDF", total=len(jobs))
                for done in cf.as_completed([pool.submit(_pdf_job, *job) for job in jobs]):
                    summary.files.append(Path(done.result()))
                    bar.advance(task)
            timings["pdf"] = time.perf_counter() - step
        timings["total"] = time.perf_counter() - started
        manifest = {
            "month": str(the_month),
            "tool_version": __version__,
            "rules_version": ruleset.version,
            "generated": generated,
            "lang": lang,
            "formats": list(formats),
            "unmasked": unmask,
            "branches": [b["id"] for b in chosen],
            "inputs": facts.inputs,
            "outputs": sorted(str(p.relative_to(folder)) for p in summary.files),
            "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        }
        summary.files.append(
            atomic_write(
                folder / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
            )
        )
    return summary
