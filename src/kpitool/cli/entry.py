"""The `kpitool` entry point. It imports nothing heavy itself, so a Ctrl-C while Polars,
Typer and the commands load is `Error: interrupted` (exit 130), not a traceback; stdout and
stderr replace what a non-UTF-8 locale cannot encode instead of failing on Chinese text."""

from __future__ import annotations

import os
import sys

from kpitool.errors import INTERRUPTED

__all__ = ["main"]


def _tolerant_streams() -> None:
    """A terminal or pipe that cannot encode a character shows `?`, never a traceback."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def main() -> None:
    """Entry point of the `kpitool` console script and of `python -m kpitool`."""
    _tolerant_streams()
    try:
        from kpitool.cli.commands import app
    except KeyboardInterrupt:  # half-imported libraries: leave without their clean-up
        sys.stderr.write("Error: interrupted\n")
        sys.stderr.flush()
        os._exit(INTERRUPTED)
    try:
        app()
    except KeyboardInterrupt:  # outside a command (a command's own is caught in the group)
        sys.stderr.write("Error: interrupted\n")
        sys.exit(INTERRUPTED)
