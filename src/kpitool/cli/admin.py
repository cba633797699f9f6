"""Administrative commands: data check, rules list/show/validate, config show, sample-data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from kpitool.cli.options import (
    DEFAULT_DATA,
    DEFAULT_RULES,
    DataOption,
    LangOption,
    OutputOption,
    RulesOption,
    TableOrJson,
    check_output,
    choice,
    settings,
    stdout,
)
from kpitool.cli.shell import KpiGroup
from kpitool.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from kpitool.data.check import CheckReport

__all__ = ["cache_app", "config_app", "data_app", "rules_app", "sample_data_command"]

data_app = typer.Typer(
    help="Inspect and check data extracts.\n\nExample: kpitool data check --data sample_data",
    no_args_is_help=True,
    cls=KpiGroup,
)
rules_app = typer.Typer(
    help="List, show and validate KPI rules.\n\nExample: kpitool rules list",
    no_args_is_help=True,
    cls=KpiGroup,
)


cache_app = typer.Typer(
    help="See or clear the cache of checks and results.\n\nExample: kpitool cache info",
    no_args_is_help=True,
    cls=KpiGroup,
)
config_app = typer.Typer(
    help="Show the effective settings.\n\nExample: kpitool config show",
    no_args_is_help=True,
    cls=KpiGroup,
)


@config_app.command("show")
def config_show(ctx: typer.Context, fmt: TableOrJson = "table") -> None:
    """Print every setting's effective value and where it came from.

    Example: kpitool config show --format json
    """
    import polars as pl

    from kpitool.cli.display import frame_table

    choice(fmt, ("table", "json"), "--format")
    cfg = settings(ctx)
    rows = [
        {"setting": s.name, "value": "" if s.value is None else str(s.value), "source": s.source}
        for s in cfg.items()
    ]
    if fmt == "json":
        stdout.print_json(data=rows)
    else:
        stdout.print(frame_table(pl.DataFrame(rows), title="kpitool settings"))


@cache_app.command("info")
def cache_info_command(ctx: typer.Context, fmt: TableOrJson = "table") -> None:
    """Where the cache lives, how many entries and bytes it holds, and its bound.

    Example: kpitool cache info --format json
    """
    import polars as pl

    from kpitool import api
    from kpitool.cli.display import frame_table

    choice(fmt, ("table", "json"), "--format")
    settings(ctx)  # kpitool.toml's cache_size
    info = api.cache_info()
    row = {"location": info.location, "entries": info.entries, "bytes": info.bytes}
    if fmt == "json":
        stdout.print_json(data={**row, "limit": info.limit})
        return
    shown = {**row, "size": f"{info.bytes / 2**20:.1f} MiB of {info.limit / 2**20:.0f} MiB"}
    stdout.print(frame_table(pl.DataFrame([shown]), title="kpitool cache"))


@cache_app.command("clear")
def cache_clear_command(ctx: typer.Context) -> None:
    """Delete every cache entry (the next run checks and evaluates everything anew).

    Example: kpitool cache clear
    """
    from kpitool import api

    settings(ctx)
    removed = api.clear_cache()
    stdout.print(f"removed {removed} cache entries from {api.cache_info().location}")


def check_frames(report: CheckReport) -> dict[str, pl.DataFrame]:
    """A data check as the sheets of a workbook: datasets, then every problem listed."""
    import polars as pl

    found = report.to_dict()
    problems = ("severity", "dataset", "file", "row", "column", "kind", "message")
    schema = {c: pl.Int64 if c == "row" else pl.String for c in problems}
    return {
        "数据集": pl.DataFrame(found["datasets"]),
        "问题": pl.DataFrame(found["problems"], schema=schema),
        "问题计数": pl.DataFrame(
            found["counts"],
            schema={"dataset": pl.String, "kind": pl.String, "column": pl.String, "rows": pl.Int64},
        ),
    }


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
    fmt: Annotated[
        Literal["table", "json", "xlsx"], typer.Option("--format", "-f", help="Output format.")
    ] = "table",
    output: OutputOption = None,
    period: Annotated[
        str | None,
        typer.Option("--period", "--month", help="Also each fact dataset's latest date for it."),
    ] = None,
    stale_days: Annotated[
        int, typer.Option("--stale-days", help="With --period: stale after N days.")
    ] = 3,
) -> None:
    """Check every dataset: rows, columns, and each problem with file, row and column.

    Exit 2 when any error is found, 0 when clean (warnings allowed). With --period, each
    fact dataset's latest date, flagged stale when it stops short of the period's end.

    Example: kpitool data check --data extracts/ --catalogue extracts/catalogue.yaml
    """
    import polars as pl

    from kpitool import api
    from kpitool.cli.display import check_tables, frame_table
    from kpitool.data.catalogue import open_data
    from kpitool.data.check import check_data
    from kpitool.xlsx import write_sheets

    choice(fmt, ("table", "json", "xlsx"), "--format")
    if fmt != "xlsx" and output is not None:
        raise UsageError("data check: --output needs --format xlsx")
    check_output(fmt, output)
    cfg = settings(ctx, data=data, catalogue=catalogue)
    source = open_data(cfg["data"], cfg["catalogue"])
    report = check_data(source)
    fresh = None if period is None else api.freshness(period, source, stale_days=stale_days)
    latest = pl.DataFrame(
        [vars(d) for d in fresh.datasets] if fresh else [],
        schema={"dataset": pl.String, "column": pl.String, "latest": pl.Date, "ends": pl.Date}
        | {"stale": pl.Boolean},
    )
    if fmt == "xlsx" and output is not None:
        write_sheets(output, check_frames(report))
    elif fmt == "json":
        found = report.to_dict()
        if fresh is not None:
            found["freshness"] = {"period": fresh.period, "datasets": latest.to_dicts()}
        sys.stdout.write(json.dumps(found, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        stdout.print(check_tables(report))
        if fresh is not None:
            stdout.print(frame_table(latest, title=f"latest dates · {fresh.period}"))
    if not report.ok:
        raise typer.Exit(2)


@rules_app.command("list")
def rules_list(
    ctx: typer.Context,
    rules: RulesOption = DEFAULT_RULES,
    fmt: TableOrJson = "table",
    lang: LangOption = None,
) -> None:
    """List every rule with its section, title, unit and default target.

    Example: kpitool rules list --lang en
    """
    from kpitool.cli.display import rules_table
    from kpitool.rules.loader import load_rules

    choice(fmt, ("table", "json"), "--format")
    cfg = settings(ctx, rules=rules, lang=lang)
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
    from kpitool.rules.loader import load_rules, rule_yaml

    rule = load_rules(settings(ctx, rules=rules)["rules"]).get(rule_id)
    sys.stdout.write(rule_yaml(rule))


@rules_app.command("validate")
def rules_validate(ctx: typer.Context, rules: RulesOption = DEFAULT_RULES) -> None:
    """Validate the rule files: schema, expressions, columns; exit 2 on the first error.

    Example: kpitool rules validate --rules my_rules/
    """
    from kpitool.rules.loader import load_rules

    ruleset = load_rules(settings(ctx, rules=rules)["rules"])
    stdout.print(
        f"{len(ruleset)} rules valid in {len(ruleset.files)} files (version {ruleset.version})"
    )


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
    import polars as pl

    from kpitool.cli.display import frame_table
    from kpitool.sample.generate import generate_sample_data

    summary = generate_sample_data(out, seed=seed, branches=branches, year=year, scale=scale)
    table = frame_table(
        pl.DataFrame({"dataset": list(summary.rows), "rows": list(summary.rows.values())}),
        title=f"sample data in {summary.out}",
    )
    stdout.print(table)
    stdout.print(f"{len(summary.files)} files written")
