"""Logging for cron and terminals: timestamped lines on stderr, never on stdout."""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging", "logger"]

logger = logging.getLogger("kpitool")


def configure_logging(*, quiet: bool = False, verbose: bool = False) -> None:
    """Log to stderr with timestamps: warnings by default, progress with --verbose, errors
    only with --quiet (the `Error: …` line of a failed command is printed either way)."""
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
        )
    )
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
