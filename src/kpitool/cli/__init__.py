"""The command line: a thin Typer shell over `kpitool.api`."""

from kpitool.cli.analysis import app, main
from kpitool.cli.history import diff_command, history_command

app.command("history")(history_command)
app.command("diff")(diff_command)

__all__ = ["app", "main"]
