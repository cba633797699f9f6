"""The command line: a thin shell. Each command parses options, calls one library function
and prints its result.

Errors become `Error: …` on stderr and an exit code in one place, `_KpiGroup.invoke`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

from kpitool import __version__
from kpitool.errors import KpiError

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

PACKAGE_ROOT = Path(__file__).resolve().parents[2]

DataOption = Annotated[
    Path, typer.Option("--data", help="Data directory (canonical layout or with a catalogue).")
]
RulesOption = Annotated[Path, typer.Option("--rules", help="Rules directory of YAML files.")]


def _version(value: bool) -> None:
    if value:
        stdout.print(f"kpitool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Monthly customer-service KPI reports from core-system extracts."""


def main() -> None:
    """Entry point of the `kpitool` console script."""
    app()
