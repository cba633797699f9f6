"""What the commands share: option types with help text, settings resolution, output."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console, RenderableType

from kpitool.config import Config, load_config
from kpitool.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from kpitool.api.engines import EngineName
    from kpitool.data.excluded import LeftOut

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_RULES",
    "BranchOption",
    "DataOption",
    "EngineOption",
    "FormatOption",
    "Grain",
    "LangOption",
    "MonthOption",
    "OutputOption",
    "RulesOption",
    "SparkMasterOption",
    "Status",
    "TableOrJson",
    "TrendUnit",
    "check_output",
    "choice",
    "emit",
    "engine_of",
    "settings",
    "stderr",
    "stdout",
]

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


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


def settings(ctx: typer.Context, **given: Any) -> Config:
    """The effective settings: these options > KPITOOL_* > kpitool.toml > defaults."""
    root = ctx.find_root()
    config_file = root.obj.get("config") if isinstance(root.obj, dict) else None
    config = load_config(config_file, given)
    size = config.setting("cache_size")
    from kpitool.api.caching import use_cache

    use_cache(size=size.value, origin=f"{size.source}: cache_size")
    return config


class TrendUnit(StrEnum):
    """What a trend splits a period into."""

    month = "month"
    week = "week"
    day = "day"


MonthOption = Annotated[
    str,
    typer.Option(
        "--period",
        "--month",
        "-p",
        "-m",
        metavar="PERIOD",
        help="Period: 2015-03, 2015-04-17 (month to that day), 2015-W16, 2015-Q1, 2015, "
        "2015-01-05..2015-02-20, last, yesterday, last-week, last-quarter or last-year "
        "(--month is the same option).",
    ),
]
BranchOption = Annotated[
    list[str] | None, typer.Option("--branch", "-b", help="Limit to this branch id (repeatable).")
]
FormatOption = Annotated[
    Literal["table", "csv", "json", "parquet", "xlsx"],
    typer.Option("--format", "-f", help="Output format."),
]
TableOrJson = Annotated[
    Literal["table", "json"], typer.Option("--format", "-f", help="Output format.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout."),
]
EngineOption = Annotated[
    Literal["polars", "spark"] | None,
    typer.Option(
        "--engine",
        help="Evaluation engine: polars (default, this machine) or spark (a cluster, "
        "or local[*]; needs the spark extra).",
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark, e.g. yarn or spark://host:7077 "
        "(default local[*], or spark-submit's).",
    ),
]
LangOption = Annotated[
    Literal["zh", "en"] | None, typer.Option("--lang", help="Label language (default zh).")
]


class Grain(StrEnum):
    """What `evaluate --by` groups by besides company and branch."""

    branch = "branch"
    counter = "counter"
    channel = "channel"
    agent = "agent"


class Status(StrEnum):
    """A result's status, for `evaluate --status`."""

    passed = "pass"
    warn = "warn"
    fail = "fail"
    na = "n/a"


def choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


def check_output(fmt: str, output: Path | None) -> None:
    """Reject format/output combinations before any work is done."""
    if fmt == "table" and output is not None:
        raise UsageError("--output needs --format csv, json, parquet or xlsx")
    if fmt in ("parquet", "xlsx") and output is None:
        raise UsageError(f"--format {fmt} needs --output FILE (a workbook is not terminal text)")


def emit(
    frame: pl.DataFrame,
    fmt: str,
    output: Path | None,
    records: list[dict[str, object]] | None,
    table: Callable[[], RenderableType],
    *,
    units: dict[str, str] | None = None,
) -> None:
    """Print or write a frame in the chosen format (the table goes to the terminal only);
    `units` (rule id -> unit) formats a workbook's values."""
    check_output(fmt, output)
    if fmt == "table":
        stdout.print(table())
        return
    from kpitool.measure.results import write_frame

    text = write_frame(frame, fmt, output, records=records, units=units or {})  # type: ignore[arg-type]
    if text is not None:
        sys.stdout.write(text)


def engine_of(config: Config) -> EngineName:
    """The configured engine; for spark, its session is started first from the settings
    (spark_master when set, else spark-submit's or local[*]; kpitool.toml's [spark] table),
    so the evaluation uses it."""
    engine: EngineName = "spark" if config["engine"] == "spark" else "polars"
    if engine == "spark":
        setting = config.setting("spark_master")
        master = None if setting.source == "default" else str(setting.value)
        from kpitool.api.engines import start_spark

        start_spark(master, config.spark_conf())
    return engine


def print_left_out(ctx: typer.Context, found: Callable[[], Iterable[LeftOut]]) -> None:
    """A `Note:` on stderr per dataset the figures left rows out of (none with --quiet, and
    `found` then not asked)."""
    root = ctx.find_root().obj
    if isinstance(root, dict) and root.get("quiet"):
        return
    from kpitool.data.excluded import notes

    for line in notes(found()):
        sys.stderr.write(f"Note: {line}\n")
