"""Every command on one Typer app (`kpitool.cli.app`), imported once start-up can be
interrupted cleanly (`kpitool.cli.entry`)."""

from kpitool.cli.analysis import app
from kpitool.cli.history import diff_command, history_command

app.command("history")(history_command)
app.command("diff")(diff_command)

__all__ = ["app"]
