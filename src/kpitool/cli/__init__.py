"""The command line: a thin Typer shell over `kpitool.api`."""

from kpitool.cli.analysis import app, main

__all__ = ["app", "main"]
