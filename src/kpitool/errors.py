"""Typed exceptions: every failure a user can act on is a KpiError with a one-line message."""

from __future__ import annotations

from typing import Any

__all__ = [
    "INTERRUPTED",
    "ConfigError",
    "DataError",
    "Interrupted",
    "KpiError",
    "OutputError",
    "RuleError",
    "UsageError",
    "quoted",
]

INTERRUPTED = 130
"""The exit code of a run stopped by Ctrl-C/SIGINT (128 + 2, as shells report it)."""

_QUOTED = 80  # characters of a value an error quotes: a 200 MB field stays one short line


def quoted(value: Any) -> str:
    """A value as an error quotes it: repr'd (so one line), cut to about 80 characters."""
    text = repr(value)
    return text if len(text) <= _QUOTED else f"{text[: _QUOTED - 1]}… ({len(str(value))} chars)"


class KpiError(Exception):
    """Base of every error kpitool reports to a user; the CLI prints it and exits 2."""

    exit_code = 2


class DataError(KpiError):
    """An extract cannot be read or does not match the catalogue (names file, row, column)."""


class RuleError(KpiError):
    """A rules file is invalid (names file, rule id and key)."""


class ConfigError(KpiError):
    """kpitool.toml, an environment variable or a catalogue YAML is wrong."""


class UsageError(KpiError):
    """An option or argument on the command line is wrong."""


class OutputError(KpiError):
    """An output cannot be written (locked, unwritable, unsafe name)."""


class Interrupted(KpiError):
    """The run was stopped by a signal (SIGTERM); its partial outputs were removed. The exit
    code is the shell's for the signal: 128 + its number (143 for SIGTERM, 130 for SIGINT)."""

    def __init__(self, signum: int) -> None:
        super().__init__("interrupted")
        self.exit_code = 128 + signum
