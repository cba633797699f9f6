"""The command line: a thin shell. Each command parses options, calls one library function
and prints its result.

Errors become `Error: …` on stderr and an exit code in one place, `_KpiGroup.invoke`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console, RenderableType
from typer.core import TyperGroup

from kpitool import __version__
from kpitool.catalogue import open_data
from kpitool.check import check_data
from kpitool.config import Config, load_config
from kpitool.display import (
    check_tables,
    explanation_text,
    frame_table,
    mask_frame,
    results_table,
    rows_title,
    rules_table,
    trend_table,
)
from kpitool.engine import evaluate, exceptions
from kpitool.errors import KpiError, UsageError
from kpitool.explain import explain
from kpitool.log import configure_logging
from kpitool.periods import parse_month
from kpitool.query import run_query
from kpitool.report import render_reports
from kpitool.results import breaches, filter_status, results_to_records, write_frame
from kpitool.rules import load_rules, rule_yaml
from kpitool.sample import generate_sample_data

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


class _KpiGroup(TyperGroup):
    """Turns every KpiError into `Error: …` on stderr and its exit code, in one place."""

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KpiError as exc:
            stderr.print(f"Error: {exc}", markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="kpitool",
    cls=_KpiGroup,
    help="Monthly customer-service KPI reports from core-system extracts.\n\n"
    "Example: kpitool report --month 2015-03",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = typer.Typer(
    help="Inspect and check data extracts.\n\nExample: kpitool data check --data sample_data",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    help="List, show and validate KPI rules.\n\nExample: kpitool rules list", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(rules_app, name="rules")

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data directory (canonical layout or with a catalogue.yaml). "
        "Default: the bundled sample_data/.",
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Rules directory of YAML files. Default: the bundled rules/."),
]
DEFAULT_DATA = None
DEFAULT_RULES = None


def _settings(ctx: typer.Context, **given: Any) -> Config:
    """The effective settings: these options > KPITOOL_* > kpitool.toml > defaults."""
    root = ctx.find_root()
    config_file = root.obj.get("config") if isinstance(root.obj, dict) else None
    return load_config(config_file, given)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"kpitool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors on stderr (for cron).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr with timestamps.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Settings file (default: ./kpitool.toml when present)."),
    ] = None,
) -> None:
    """Monthly customer-service KPI reports from core-system extracts."""
    ctx.obj = {"config": config, "quiet": quiet}
    configure_logging(quiet=quiet, verbose=verbose)


MonthOption = Annotated[
    str,
    typer.Option("--month", "-m", help="Month to evaluate: YYYY-MM, or 'last' (previous month)."),
]
BranchOption = Annotated[
    list[str] | None, typer.Option("--branch", "-b", help="Limit to this branch id (repeatable).")
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="Output format: table, csv, json or parquet.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
]
LangOption = Annotated[
    str | None, typer.Option("--lang", help="Label language: zh (default) or en.")
]


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


def _check_output(fmt: str, output: Path | None) -> None:
    """Reject format/output combinations before any work is done."""
    if fmt == "table" and output is not None:
        raise UsageError("--output needs --format csv, json or parquet")
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet needs --output FILE")


def _emit(
    frame: pl.DataFrame,
    fmt: str,
    output: Path | None,
    records: list[dict[str, object]] | None,
    table: Callable[[], RenderableType],
) -> None:
    """Print or write a frame in the chosen format (the table goes to the terminal only)."""
    _check_output(fmt, output)
    if fmt == "table":
        stdout.print(table())
        return
    text = write_frame(frame, fmt, output, records=records)  # type: ignore[arg-type]
    if text is not None:
        sys.stdout.write(text)


@data_app.command("check")
def data_check_command(
    ctx: typer.Context,
    data: DataOption = DEFAULT_DATA,
    catalogue: Annotated[
        Path | None,
        typer.Option(
            "--catalogue",
            help="Catalogue YAML mapping the extracts (default: "
            "catalogue.yaml in the data directory, if any).",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Check every dataset: rows, columns, and each problem with file, row and column.

    Exit 2 when any error is found, 0 when clean (warnings allowed).

    Example: kpitool data check --data extracts/ --catalogue extracts/catalogue.yaml
    """
    _choice(fmt, ("table", "json"), "--format")
    cfg = _settings(ctx, data=data, catalogue=catalogue)
    report = check_data(open_data(cfg["data"], cfg["catalogue"]))
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        stdout.print(check_tables(report))
    if not report.ok:
        raise typer.Exit(2)


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    month: MonthOption,
    data: DataOption = DEFAULT_DATA,
    rules: RulesOption = DEFAULT_RULES,
    branch: BranchOption = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", "-r", help="Rule id, or a prefix such as 'claims.' (repeatable)."),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Also group by counter, channel or agent (repeatable)."),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", help="Show only results with this status (repeatable)."),
    ] = None,
    trend: Annotated[
        bool, typer.Option("--trend", help="Every month of the year to date, side by side.")
    ] = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on", help="Exit 1 when a rule is at this status or worse: warn or fail."
        ),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Evaluate the KPI rules for a month, per company and branch.

    Example: kpitool evaluate --month 2015-03 --rule claims. --format json
    """
    _choice(fmt, ("table", "csv", "json", "parquet"), "--format")
    _check_output(fmt, output)
    cfg = _settings(ctx, data=data, rules=rules, lang=lang)
    for item in by or []:
        _choice(item, ("branch", "counter", "channel", "agent"), "--by")
    for item in status or []:
        _choice(item, ("pass", "warn", "fail", "n/a"), "--status")
    if fail_on is not None:
        _choice(fail_on, ("warn", "fail"), "--fail-on")
    ruleset = load_rules(cfg["rules"])
    the_month = parse_month(month)
    results = evaluate(
        the_month.months_of_year_to_date() if trend else the_month,
        cfg["data"],
        ruleset,
        branches=branch,
        rule_ids=rule,
        by=[b for b in by or [] if b != "branch"],
    )
    shown = filter_status(results, status) if status else results
    _emit(
        shown,
        fmt,
        output,
        results_to_records(shown) if fmt == "json" else None,
        lambda: (trend_table if trend else results_table)(shown, ruleset, cfg["lang"]),
    )
    if fail_on is not None and breaches(results, fail_on, period=str(the_month)):
        raise typer.Exit(1)


@app.command("exceptions")
def exceptions_command(
    ctx: typer.Context,
    rule_id: Annotated[
        str, typer.Argument(help="A detection rule id, e.g. callbacks.agent_phone.")
    ],
    month: MonthOption,
    data: DataOption = DEFAULT_DATA,
    rules: RulesOption = DEFAULT_RULES,
    branch: BranchOption = None,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show phone numbers, names and ID numbers in full.")
    ] = False,
) -> None:
    """List the exception rows of a detection rule (personal data masked).

    Example: kpitool exceptions callbacks.shared_phone --month 2015-03 --branch B03
    """
    _choice(fmt, ("table", "csv", "json", "parquet"), "--format")
    _check_output(fmt, output)
    cfg = _settings(ctx, data=data, rules=rules)
    rows = exceptions(rule_id, month, cfg["data"], cfg["rules"], branches=branch)
    if not unmask:
        rows = mask_frame(rows)
    _emit(rows, fmt, output, None, lambda: frame_table(rows, title=f"{rule_id} · {month}"))


@app.command("explain")
def explain_command(
    ctx: typer.Context,
    rule_id: Annotated[str, typer.Argument(help="The rule id, e.g. claims.closed_within_5d_rate.")],
    month: MonthOption,
    data: DataOption = DEFAULT_DATA,
    rules: RulesOption = DEFAULT_RULES,
    branch: Annotated[
        str | None, typer.Option("--branch", "-b", help="Explain this branch's figure.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 10,
    unmask: Annotated[bool, typer.Option("--unmask", help="Show personal data in full.")] = False,
    lang: LangOption = None,
) -> None:
    """Explain a figure: the rule in words, population, numerator, target and first rows.

    Example: kpitool explain claims.closed_within_5d_rate --month 2015-03 --branch B02
    """
    cfg = _settings(ctx, data=data, rules=rules, lang=lang)
    found = explain(rule_id, month, cfg["data"], cfg["rules"], branch=branch, limit=limit)
    rows = found.rows if unmask else mask_frame(found.rows)
    stdout.print(explanation_text(found, cfg["lang"]))
    stdout.print(frame_table(rows, title=rows_title(found, cfg["lang"])))


@app.command("sample-data")
def sample_data_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the datasets into.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same files.")] = 7,
    branches: Annotated[int, typer.Option("--branches", help="Number of branches (≥ 2).")] = 8,
    year: Annotated[
        int, typer.Option("--year", help="The evaluated year (the one before is written too).")
    ] = 2015,
    scale: Annotated[
        float, typer.Option("--scale", help="Multiply the fact volumes (benchmarks use 100+).")
    ] = 1.0,
) -> None:
    """Write a realistic city company's 18 datasets, with the failures the work plan names.

    Example: kpitool sample-data --out demo --seed 3 --branches 12
    """
    summary = generate_sample_data(out, seed=seed, branches=branches, year=year, scale=scale)
    table = frame_table(
        pl.DataFrame({"dataset": list(summary.rows), "rows": list(summary.rows.values())}),
        title=f"sample data in {summary.out}",
    )
    stdout.print(table)
    stdout.print(f"{len(summary.files)} files written")


@app.command("report")
def report_command(
    ctx: typer.Context,
    month: MonthOption,
    data: DataOption = DEFAULT_DATA,
    rules: RulesOption = DEFAULT_RULES,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder; reports go to OUT/YYYY-MM/.")
    ] = None,
    branch: BranchOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="html, pdf or html,pdf (default).")
    ] = None,
    lang: LangOption = None,
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="Folder of templates overriding the bundled ones."),
    ] = None,
    reproducible: Annotated[
        bool, typer.Option("--reproducible", help="Fixed generated-at, for byte-identical HTML.")
    ] = False,
    unmask: Annotated[
        bool,
        typer.Option(
            "--unmask",
            help="Show phones, names and ID numbers in full (recorded in manifest.json).",
        ),
    ] = False,
) -> None:
    """Make every branch's report and the company's for a month: HTML and PDF.

    Example: kpitool report --month 2015-03 --branch B03 --format pdf
    """
    cfg = _settings(
        ctx, data=data, rules=rules, out=out, format=fmt, lang=lang, templates=templates
    )
    quiet = bool((ctx.find_root().obj or {}).get("quiet"))
    summary = render_reports(
        month,
        cfg["data"],
        cfg["rules"],
        cfg["out"],
        branches=branch,
        formats=[f.strip() for f in cfg["format"].split(",") if f.strip()],
        lang=cfg["lang"],
        templates=cfg["templates"],
        progress=not quiet and sys.stderr.isatty(),
        reproducible=reproducible,
        unmask=unmask,
    )
    if not quiet:
        stdout.print(
            f"{len(summary.files)} files written to {summary.folder} "
            f"in {summary.timings['total']:.1f}s"
        )


@app.command("query")
def query_command(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="One SQL query; tables are the datasets' names.")],
    data: DataOption = DEFAULT_DATA,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Return at most this many rows.")
    ] = None,
) -> None:
    """Ask an ad-hoc question in SQL over every dataset (Polars SQL, read lazily).

    Example: kpitool query "SELECT branch_id, COUNT(*) AS n FROM claims GROUP BY branch_id"
    """
    _choice(fmt, ("table", "csv", "json", "parquet"), "--format")
    _check_output(fmt, output)
    frame = run_query(sql, open_data(_settings(ctx, data=data)["data"]), limit=limit)
    _emit(frame, fmt, output, None, lambda: frame_table(frame))


@rules_app.command("list")
def rules_list(
    ctx: typer.Context,
    rules: RulesOption = DEFAULT_RULES,
    fmt: FormatOption = "table",
    lang: LangOption = None,
) -> None:
    """List every rule with its section, title, unit and default target.

    Example: kpitool rules list --lang en
    """
    _choice(fmt, ("table", "json"), "--format")
    cfg = _settings(ctx, rules=rules, lang=lang)
    ruleset = load_rules(cfg["rules"])
    if fmt == "json":
        stdout.print_json(data=[r.model_dump(mode="json", exclude_none=True) for r in ruleset])
    else:
        stdout.print(rules_table(ruleset, cfg["lang"]))


@rules_app.command("show")
def rules_show(
    ctx: typer.Context,
    rule_id: Annotated[str, typer.Argument(help="The rule id.")],
    rules: RulesOption = DEFAULT_RULES,
) -> None:
    """Show one rule as YAML, as it was loaded and validated.

    Example: kpitool rules show claims.closed_within_5d_rate
    """
    rule = load_rules(_settings(ctx, rules=rules)["rules"]).get(rule_id)
    sys.stdout.write(rule_yaml(rule))


@rules_app.command("validate")
def rules_validate(ctx: typer.Context, rules: RulesOption = DEFAULT_RULES) -> None:
    """Validate the rule files: schema, expressions, columns; exit 2 on the first error.

    Example: kpitool rules validate --rules my_rules/
    """
    ruleset = load_rules(_settings(ctx, rules=rules)["rules"])
    stdout.print(
        f"{len(ruleset)} rules valid in {len(ruleset.files)} files (version {ruleset.version})"
    )


config_app = typer.Typer(
    help="Show the effective settings.\n\nExample: kpitool config show", no_args_is_help=True
)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(ctx: typer.Context, fmt: FormatOption = "table") -> None:
    """Print every setting's effective value and where it came from.

    Example: kpitool config show --format json
    """
    _choice(fmt, ("table", "json"), "--format")
    cfg = _settings(ctx)
    rows = [
        {"setting": s.name, "value": "" if s.value is None else str(s.value), "source": s.source}
        for s in cfg.items()
    ]
    if fmt == "json":
        stdout.print_json(data=rows)
    else:
        stdout.print(frame_table(pl.DataFrame(rows), title="kpitool settings"))


def main() -> None:
    """Entry point of the `kpitool` console script."""
    app()
