"""Typed exceptions: every failure a user can act on is a KpiError with a one-line message."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "KpiError", "OutputError", "RuleError", "UsageError"]


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
