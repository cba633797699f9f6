"""The command group every kpitool command runs in: errors become one `Error: …` line and
an exit code in one place, and the help shows flags as flags and choices as choices."""

from __future__ import annotations

import re
import signal
import threading
from types import FrameType
from typing import Any

import typer
from typer.core import TyperGroup

from kpitool.cli.options import stderr
from kpitool.errors import INTERRUPTED, Interrupted, KpiError, UsageError

__all__ = ["KpiGroup"]

_NOT_ONE_OF = re.compile(r"(?:Value error, )?(?P<value>.+) is not one of (?P<choices>.+?)\.?$")


def _tidy(params: list[Any]) -> None:
    """Boolean flags take no value: no `<bool>` beside them in the help."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def _usage_error(exc: typer.BadParameter) -> UsageError:
    """A bad option value in the house words: `--lang 'fr': expected one of zh, en`."""
    option = exc.param.opts[0] if exc.param is not None and exc.param.opts else "value"
    found = _NOT_ONE_OF.match(exc.message)
    if found is None:
        return UsageError(f"{option}: {exc.message}")
    choices = found["choices"].replace("'", "")
    return UsageError(f"{option} {found['value']}: expected one of {choices}")


def _terminated(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM as an exception, so a run cleans up (a report's staging folder) as on Ctrl-C."""
    raise Interrupted(signum)


class KpiGroup(TyperGroup):
    """Turns every KpiError (and a bad option value) into `Error: …` on stderr and its exit
    code, a SIGINT or SIGTERM into `Error: interrupted` and 130 or 143, and tidies each
    command's help before it is shown."""

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _tidy(command.get_params(ctx))
        return command

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:  # type: ignore[override]
        _tidy(self.get_params(ctx))
        super().format_help(ctx, formatter)

    def invoke(self, ctx: typer.Context) -> object:  # type: ignore[override]
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminated) if main else None
        try:
            try:
                return super().invoke(ctx)
            except typer.BadParameter as exc:
                raise _usage_error(exc) from None
        except KeyboardInterrupt:
            stderr.print("Error: interrupted", markup=False, highlight=False)
            raise typer.Exit(INTERRUPTED) from None
        except KpiError as exc:
            stderr.print(f"Error: {exc}", markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
