"""`kpitool report`: every branch's HTML and PDF report and the company's, for one month.

Writes OUT/YYYY-MM/<branch>.html and .pdf, index.html and company.pdf (and with xlsx,
<branch>.xlsx and company.xlsx: `report.workbook`), and manifest.json.
The rules are evaluated once for the year's months not already recorded in OUT's history by a
report of the same tool and rules version (one pass per rule); pages are rendered
from Jinja2 templates (autoescaped) and PDFs in a process pool. The folder is one set
(`report.reportset`): built in a staging folder and swapped in whole, so a run killed or
failing at any moment leaves the previous set whole; identical pages reuse their PDFs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
from kpitool.data.excluded import LeftOut
from kpitool.errors import UsageError
from kpitool.log import logger
from kpitool.measure.freshness import freshness, require_data
from kpitool.output import atomic_write, folder_lock, safe_filename
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period, trend_periods
from kpitool.report.changes import read_changes, record, results_with_history
from kpitool.report.columns import colgroup
from kpitool.report.context import ReportData, branch_context, company_context
from kpitool.report.findings import find
from kpitool.report.format import Lang, period_title
from kpitool.report.freshness import freshness_note
from kpitool.report.inputs import exception_lists, report_facts
from kpitool.report.labels import LABELS
from kpitool.report.pdf import check_cjk_font, render_pdfs
from kpitool.report.progress import measure_progress
from kpitool.report.reportset import ReportSet, staged_set
from kpitool.report.summary import branch_drills, page_summary
from kpitool.report.workbook import Notes, write_workbooks
from kpitool.resources import BUNDLED_TEMPLATES
from kpitool.rules.model import RuleSet

__all__ = ["ReportSummary", "render_reports"]


@dataclass
class ReportSummary:
    """What a report run wrote, and how long each step took."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)
    """The rows the figures left out (values that cannot be true), per file."""


def _environment(templates: Path | None) -> jinja2.Environment:
    folders = [str(templates)] if templates is not None else []
    if templates is not None and not templates.is_dir():
        raise UsageError(f"--templates {templates}: not a folder")
    loader = jinja2.FileSystemLoader([*folders, str(BUNDLED_TEMPLATES)])
    environment = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["colgroup"] = colgroup
    return environment


_COMPANY_FILES = ("index", "company")
"""Names of the company's own files (index.html, company.pdf/.xlsx) a branch may not take."""


def _file_names(ids: list[str]) -> dict[str, str]:
    """A distinct safe file name per branch id: ids that clean to the same name (`B/08`,
    `B_08`) or to a company file's (`index`) get a short hash of the id added, so no
    report overwrites another."""
    cleaned = {b: safe_filename(b) for b in ids}
    taken: dict[str, int] = {name: 1 for name in _COMPANY_FILES}
    for name in cleaned.values():
        taken[name] = taken.get(name, 0) + 1
    return {
        b: name if taken[name] == 1 else f"{name}-{hashlib.sha256(b.encode()).hexdigest()[:8]}"
        for b, name in cleaned.items()
    }


def _branches(table: pl.DataFrame, wanted: Sequence[str] | None) -> list[dict[str, str]]:
    files = _file_names([b for b, _ in table.iter_rows()])
    branches = [{"id": b, "name": n, "file": files[b]} for b, n in table.iter_rows()]
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


def render_reports(
    the_month: Period,
    engine: Engine,
    ruleset: RuleSet,
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
    stale_days: int = 3,
    require_fresh: bool = False,
    allow_empty: bool = False,
) -> ReportSummary:
    """Render the month's branch and company reports into `out/YYYY-MM/`, evaluated on
    `engine` (its data) with `ruleset`, and record the run in `out`'s history. A month
    without fact rows is refused unless `allow_empty`; stale data too with `require_fresh`."""
    started = time.perf_counter()
    started_at = dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
    unknown_formats = sorted(set(formats) - {"html", "pdf", "xlsx"})
    if unknown_formats or not formats:
        raise UsageError(
            f"--format {','.join(formats)}: expected html, pdf, xlsx or a list such as html,pdf"
        )
    if "pdf" in formats:
        check_cjk_font()
    env = _environment(templates)
    summary = ReportSummary(Path(out) / str(the_month))
    timings = summary.timings
    fresh = freshness(engine, the_month, stale_days)
    require_data(fresh, allow_empty=allow_empty, require_fresh=require_fresh)
    facts = report_facts(engine, the_month, fresh, ruleset, lang)
    summary.left_out = facts.left_out
    every = _branches(facts.branches, None)
    chosen = _branches(facts.branches, branches)
    timings["data_check"] = time.perf_counter() - started
    step = time.perf_counter()
    months = sorted(
        {
            *trend_periods(the_month),
            the_month,
            the_month.previous(),
            the_month.same_period_last_year(),
        }
    )
    results = results_with_history(out, the_month, months, engine, ruleset)
    timings["evaluate"] = time.perf_counter() - step
    step = time.perf_counter()
    listed = exception_lists(the_month, engine, ruleset, unmask=unmask)
    findings = find(engine, ruleset, the_month, results, unmask=unmask, listed=listed)
    timings["exceptions"] = time.perf_counter() - step
    campaign = measure_progress(engine, ruleset, the_month)
    changes = read_changes(out, the_month, ruleset, results, listed, every, lang)
    quality = [*facts.quality, *freshness_note(fresh, lang)]
    report_data = ReportData(
        the_month,
        ruleset,
        results,
        changes.listed,
        every,
        quality,
        lang,
        campaign,
        changes.lines,
        findings,
    )
    generated = (
        "reproducible"
        if reproducible
        else dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
    )
    title = period_title(the_month, lang)
    common = _common(
        lang, templates, str(the_month), facts.as_of, generated, ruleset.version, title
    )
    step = time.perf_counter()
    pages = None
    if {"html", "pdf"} & set(formats):
        pages = _pages(env, common, report_data, chosen, formats, progress)
    timings["html"] = time.perf_counter() - step
    with folder_lock(summary.folder):
        own = [f"{b['file']}.{ext}" for b in chosen for ext in ("html", "pdf", "xlsx")]
        keep = branches is not None and len(chosen) < len(every)
        with staged_set(summary.folder, own, keep_others=keep, stamp=generated) as report_set:
            if pages is not None:
                _write(report_set, pages, formats, workers, progress, timings)
            if "xlsx" in formats:
                step = time.perf_counter()
                notes = Notes(
                    str(the_month), facts.as_of, ruleset.version, __version__, generated, unmask
                )
                write_workbooks(report_data, chosen, notes, report_set.staging)
                timings["xlsx"] = time.perf_counter() - step
            timings["total"] = time.perf_counter() - started
            files = report_set.files()
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
                "outputs": sorted(files),
                "files": files,
                "pdfs": {"rendered": report_set.rendered, "reused": report_set.reused},
                "pages_kept": report_set.kept_pages,
                "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
            }
            text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
            atomic_write(report_set.staging / "manifest.json", text)
        summary.files = [summary.folder / name for name in [*files, "manifest.json"]]
        record(out, the_month, ruleset, engine, results, changes.listed, facts.inputs, started_at)
    return summary


def _common(
    lang: Lang,
    templates: Path | None,
    period: str,
    as_of: Any,
    generated: str,
    version: str,
    title: str = "",
) -> dict[str, Any]:
    """What every page's template reads besides its own context."""
    css = BUNDLED_TEMPLATES / "report.css"
    if templates is not None and (templates / "report.css").is_file():
        css = templates / "report.css"
    return {
        "L": LABELS[lang],
        "lang": lang,
        "css": css.read_text(encoding="utf-8"),
        "period": period,
        "period_title": title,
        "as_of": as_of,
        "generated": generated,
        "version": version,
    }


@dataclass
class _Pages:
    """The rendered HTML: each branch's page, the index and the company's printable page."""

    branches: list[tuple[str, str]]
    index: str
    company: str


def _pages(
    env: jinja2.Environment,
    common: dict[str, Any],
    report_data: ReportData,
    chosen: list[dict[str, Any]],
    formats: Sequence[str],
    progress: bool,
) -> _Pages:
    pages: list[tuple[str, str]] = []
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task("HTML", total=len(chosen) + 1)
        for branch in chosen:
            context = branch_context(report_data, branch)
            summary = page_summary(report_data, "branch", branch["id"])
            drills = branch_drills(report_data, branch["id"])
            html = env.get_template("branch.html").render(
                **common, **context, summary=summary, drills=drills, pdf="pdf" in formats
            )
            pages.append((branch["file"], html))
            bar.advance(task)
        company = {
            **company_context(report_data),
            "summary": page_summary(report_data, "company", "ALL"),
        }
        every = report_data.branches
        linked = [{**b, "pdf": "pdf" in formats} for b in chosen]
        template = env.get_template("company.html")
        pdf = "pdf" in formats
        index = template.render(
            **common, **company, branches=every, linked=linked, links=True, pdf=pdf
        )
        printable = template.render(
            **common, **company, branches=every, linked=[], links=False, pdf=False
        )
        bar.advance(task)
    return _Pages(pages, index, printable)


def _write(
    report_set: ReportSet,
    pages: _Pages,
    formats: Sequence[str],
    workers: int | None,
    progress: bool,
    timings: dict[str, float],
) -> None:
    """Write the HTML files into staging and make the PDFs whose page changed in a process
    pool (the others are linked from the current set)."""
    staging = report_set.staging
    named = pages.branches
    if "html" in formats:
        for name, html in [
            *((f"{stem}.html", html) for stem, html in named),
            ("index.html", pages.index),
        ]:
            if not report_set.keep_html(name, html):
                atomic_write(staging / name, html)
    if "pdf" not in formats:
        return
    step = time.perf_counter()
    wanted = [(html, f"{stem}.pdf") for stem, html in named]
    wanted.append((pages.company, "company.pdf"))
    jobs = [(h, staging / name) for h, name in wanted if not report_set.reuse_pdf(name, h)]
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:
        task = bar.add_task("PDF", total=len(jobs))
        render_pdfs(jobs, workers, lambda _done: bar.advance(task))
    report_set.rendered = len(jobs)
    logger.info(
        "pages: %d HTML kept unchanged; PDFs: %d rendered, %d reused unchanged",
        report_set.kept_pages,
        len(jobs),
        report_set.reused,
    )
    timings["pdf"] = time.perf_counter() - step
