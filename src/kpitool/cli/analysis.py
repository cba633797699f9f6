"""The command line: a thin shell. Each command parses options, calls one library function
and prints its result.

Errors become `Error: …` on stderr and an exit code in one place: `KpiGroup.invoke`
(kpitool.cli.shell).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from typer.core import TyperArgument, TyperCommand

from kpitool import __version__, cache
from kpitool.cli.admin import (
    cache_app,
    config_app,
    data_app,
    rules_app,
    sample_data_command,
)
from kpitool.cli.options import (
    DEFAULT_DATA,
    DEFAULT_RULES,
    BranchOption,
    DataOption,
    EngineOption,
    FormatOption,
    Grain,
    LangOption,
    MonthOption,
    OutputOption,
    RulesOption,
    SparkMasterOption,
    Status,
    TrendUnit,
    check_output,
    choice,
    emit,
    engine_of,
    print_left_out,
    settings,
    stdout,
)
from kpitool.cli.shell import KpiGroup
from kpitool.log import configure_logging


class _TablesHelp(TyperCommand):
    """query's help names the tables, read from the schema only when the help is shown."""

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        from kpitool.data.schema import DATASETS

        for param in self.params:
            if isinstance(param, TyperArgument) and param.name == "sql":
                param.help = "One SQL query over the tables: " + ", ".join(DATASETS) + "."
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="kpitool",
    cls=KpiGroup,
    help="Monthly customer-service KPI reports from core-system extracts.\n\n"
    "Example: kpitool report --month 2015-03",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(data_app, name="data")
app.add_typer(rules_app, name="rules")
app.add_typer(config_app, name="config")
app.add_typer(cache_app, name="cache")
app.command("sample-data")(sample_data_command)


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
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Neither read nor write the cache: check and evaluate everything anew.",
        ),
    ] = False,
) -> None:
    """Monthly customer-service KPI reports from core-system extracts."""
    ctx.obj = {"config": config, "quiet": quiet}
    configure_logging(quiet=quiet, verbose=verbose)
    cache.configure(enabled=not no_cache)  # the store itself, without the api's imports


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
        list[Grain] | None,
        typer.Option("--by", help="Also group by counter, channel or agent (repeatable)."),
    ] = None,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", help="Show only results with this status (repeatable)."),
    ] = None,
    trend: Annotated[
        bool,
        typer.Option(
            "--trend",
            help="The period's parts side by side: a month's year to date, a quarter's or a "
            "year's months, a week's or a month to date's days (see --trend-by).",
        ),
    ] = False,
    trend_by: Annotated[
        TrendUnit | None,
        typer.Option("--trend-by", help="With --trend: split the period by month, week or day."),
    ] = None,
    ids: Annotated[bool, typer.Option("--ids", help="Show rule ids beside the titles.")] = False,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    fail_on: Annotated[
        Literal["warn", "fail"] | None,
        typer.Option(
            "--fail-on", help="Exit 1 when a rule is at this status or worse: warn or fail."
        ),
    ] = None,
    lang: LangOption = None,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
    record: Annotated[
        bool,
        typer.Option("--record", help="Record the run in OUT/history.sqlite (see --out)."),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="With --record: the folder of the history.")
    ] = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Evaluate a month without any fact row anyway.")
    ] = False,
) -> None:
    """Evaluate the KPI rules for a period, per company and branch.

    Example: kpitool evaluate --period 2015-04-17 --rule cleanup. --by channel
    """
    from kpitool import api
    from kpitool.cli.display import results_table, trend_table
    from kpitool.measure.results import breaches, filter_status, results_to_records
    from kpitool.plan.periods import parse_period, trend_periods
    from kpitool.rules.loader import load_rules

    choice(fmt, ("table", "csv", "json", "parquet", "xlsx"), "--format")
    check_output(fmt, output)
    cfg = settings(
        ctx, data=data, rules=rules, lang=lang, engine=engine, spark_master=spark_master, out=out
    )
    ruleset = load_rules(cfg["rules"])
    the_month = parse_period(month)
    results = api.evaluate(
        trend_periods(the_month, trend_by.value if trend_by else None) if trend else the_month,
        cfg["data"],
        ruleset,
        branches=branch,
        rule_ids=rule,
        by=[g.value for g in by or []],
        engine=engine_of(cfg),
        record=cfg["out"] if record else None,
        allow_empty=allow_empty,
    )
    print_left_out(ctx, lambda: api.left_out(cfg["data"], ruleset, rule_ids=rule or None))
    shown = filter_status(results, [s.value for s in status]) if status else results
    emit(
        shown,
        fmt,
        output,
        results_to_records(shown) if fmt == "json" else None,
        lambda: (
            trend_table(shown, ruleset, cfg["lang"])
            if trend
            else results_table(shown, ruleset, cfg["lang"], ids=ids)
        ),
        units={r.id: r.unit for r in ruleset},
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
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Reports folder: mark rows listed in earlier months."),
    ] = None,
) -> None:
    """List the exception rows of a detection rule (personal data masked).

    Example: kpitool exceptions callbacks.shared_phone --month 2015-03 --branch B03
    """
    from kpitool import api
    from kpitool.cli.display import frame_table

    choice(fmt, ("table", "csv", "json", "parquet", "xlsx"), "--format")
    check_output(fmt, output)
    cfg = settings(ctx, data=data, rules=rules, engine=engine, spark_master=spark_master)
    from kpitool.rules.loader import load_rules

    ruleset = load_rules(cfg["rules"])  # once, for the rows and the note
    rows = api.exceptions(
        rule_id,
        month,
        cfg["data"],
        ruleset,
        branches=branch,
        engine=engine_of(cfg),
        unmask=unmask,
        out=out,
    )
    print_left_out(ctx, lambda: api.left_out(cfg["data"], ruleset, rule_ids=[rule_id]))
    emit(
        rows,
        fmt,
        output,
        None,
        lambda: frame_table(rows, title=f"{rule_id} · {month}", width=stdout.width),
    )


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
    from kpitool import api
    from kpitool.cli.display import explanation_text, frame_table, rows_title

    cfg = settings(ctx, data=data, rules=rules, lang=lang)
    found = api.explain(
        rule_id, month, cfg["data"], cfg["rules"], branch=branch, limit=limit, unmask=unmask
    )
    stdout.print(explanation_text(found, cfg["lang"]))
    stdout.print(frame_table(found.rows, title=rows_title(found, cfg["lang"])))


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
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="html|pdf|xlsx[,…]",
            help="One format or a list such as html,pdf (default).",
        ),
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
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
    stale_days: Annotated[
        int,
        typer.Option(
            "--stale-days", help="Flag a dataset ending more than N days before the period's end."
        ),
    ] = 3,
    require_fresh: Annotated[
        bool,
        typer.Option("--require-fresh", help="Exit 2, writing nothing, when data is stale (cron)."),
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Write a period without any fact row anyway.")
    ] = False,
) -> None:
    """Make every branch's report and the company's for a month: HTML and PDF.

    Example: kpitool report --month 2015-03 --branch B03 --format pdf
    """
    from kpitool import api

    cfg = settings(
        ctx,
        data=data,
        rules=rules,
        out=out,
        format=fmt,
        lang=lang,
        templates=templates,
        engine=engine,
        spark_master=spark_master,
    )
    quiet = bool((ctx.find_root().obj or {}).get("quiet"))
    from kpitool.rules.loader import load_rules

    ruleset = load_rules(cfg["rules"])  # once, for the report and the note
    summary = api.report(
        month,
        cfg["data"],
        ruleset,
        cfg["out"],
        branches=branch,
        formats=[f.strip() for f in cfg["format"].split(",") if f.strip()],
        lang=cfg["lang"],
        templates=cfg["templates"],
        progress=not quiet and sys.stderr.isatty(),
        reproducible=reproducible,
        unmask=unmask,
        engine=engine_of(cfg),
        stale_days=stale_days,
        require_fresh=require_fresh,
        allow_empty=allow_empty,
    )
    print_left_out(ctx, lambda: summary.left_out)  # counted by the report itself
    if not quiet:
        stdout.print(
            f"{len(summary.files)} files written to {summary.folder} "
            f"in {summary.timings['total']:.1f}s"
        )


@app.command("query", cls=_TablesHelp)
def query_command(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="One SQL query over the tables.")],
    data: DataOption = DEFAULT_DATA,
    fmt: FormatOption = "table",
    output: OutputOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Return at most this many rows.")
    ] = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show phone numbers, names and ID numbers in full.")
    ] = False,
    engine: EngineOption = None,
    spark_master: SparkMasterOption = None,
) -> None:
    """Ask an ad-hoc question in SQL over every dataset (Polars SQL read lazily, or Spark SQL).

    Example: kpitool query "SELECT branch_id, COUNT(*) AS n FROM claims GROUP BY branch_id"
    """
    from kpitool import api
    from kpitool.cli.display import frame_table

    choice(fmt, ("table", "csv", "json", "parquet", "xlsx"), "--format")
    check_output(fmt, output)
    cfg = settings(ctx, data=data, engine=engine, spark_master=spark_master)
    frame = api.query(sql, cfg["data"], limit=limit, engine=engine_of(cfg), unmask=unmask)
    emit(frame, fmt, output, None, lambda: frame_table(frame))
