"""The command line: a thin Typer shell over `kpitool.api`.

`main` is light; `app` (every command) is imported on first use, so that start-up itself
runs under `main`'s handling of Ctrl-C."""

from typing import Any

from kpitool.cli.entry import main

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name == "app":
        from kpitool.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
