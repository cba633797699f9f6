"""What a call names must exist: branches, rules and grains are checked before any work, so
a typo is an error naming the known ones rather than an empty result."""

from __future__ import annotations

from collections.abc import Sequence

from kpitool.data.schema import GRAIN_COLUMNS
from kpitool.errors import UsageError
from kpitool.log import logger
from kpitool.measure.evaluate import branch_ids, read_tables, source_of
from kpitool.plan.analysis import scopes
from kpitool.plan.engine import Engine
from kpitool.plan.periods import Period
from kpitool.plan.population import Missing, population
from kpitool.rules.model import Rule

__all__ = ["GRAINS", "check_branches", "check_grains"]

GRAINS = ("counter", "channel", "agent")
"""The grains `by` may add; branch rows are always there."""


def check_branches(engine: Engine, branches: Sequence[str] | None) -> None:
    """Every asked branch is in the branches dataset (ids are case-sensitive)."""
    if not branches:
        return
    known = branch_ids(engine)
    for branch in branches:
        if branch not in known:
            close = [k for k in known if k.lower() == branch.lower()]
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(
                f"--branch {branch!r}: not a branch in branches ({hint}known: {', '.join(known)})"
            )


def check_grains(
    engine: Engine, rules: Sequence[Rule], months: Sequence[Period], by: Sequence[str]
) -> None:
    """Each asked grain is one `by` offers and at least one chosen rule's rows carry it; the
    rules lacking it are named in a warning (they show company and branch rows only)."""
    if not by:
        return
    for grain in by:
        if grain == "branch":
            raise UsageError(
                f"--by branch: branch rows are always shown; expected one of {', '.join(GRAINS)}"
            )
        if grain not in GRAINS:
            raise UsageError(f"--by {grain!r}: expected one of {', '.join(GRAINS)}")
    source = source_of(engine, read_tables(engine))
    held: dict[str, list[str]] = {grain: [] for grain in by}
    for rule in rules:
        try:
            columns = population(rule, source, list(months)).columns
        except Missing:
            continue
        found = scopes(rule, by, columns)
        for grain in by:
            if grain in found:
                held[grain].append(rule.id)
    for grain in by:
        lacking = [r.id for r in rules if r.id not in held[grain]]
        if not held[grain]:
            raise UsageError(
                f"--by {grain}: no chosen rule has a {grain} ({GRAIN_COLUMNS[grain]}) in its rows"
            )
        if lacking:
            logger.warning(
                "--by %s: %d rules have no %s and show company and branch rows only: %s",
                grain,
                len(lacking),
                grain,
                ", ".join(lacking[:5]) + (" …" if len(lacking) > 5 else ""),
            )
