"""Running lazy plans on Polars' streaming engine, with data errors a user can act on.

When a plan fails on a value that does not parse, the error names the dataset's file, row
and column (`DataSource.explain_failure`) instead of Polars' message.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kpitool.data.catalogue import DataSource
from kpitool.errors import DataError

__all__ = ["collect", "diagnose"]


def collect(
    plans: list[pl.LazyFrame],
    source: DataSource,
    datasets: list[set[str]],
    populations: Sequence[object | None],
) -> list[pl.DataFrame]:
    """Collect the plans one after another; `datasets[i]` names what plan i reads.

    One at a time, each plan has both cores and only its own hash tables in memory: on the
    provincial set a month's 31 rules peak at 1.7 GiB this way against 4.6 GiB for
    `collect_all`, which runs them side by side, and finish sooner. Plans over an equal
    population (`populations[i]`, None: none to share; three callback lists) are collected
    together, so Polars builds their rows once: the three lists in 2 s, not 6. (A distinct
    count's scopes side by side hold a hash table each: 12 months took 4.1 GiB, not 2.4.)"""
    groups: list[tuple[object, list[int]]] = []
    for i, population in enumerate(populations):
        group = next((g for p, g in groups if population is not None and p == population), None)
        if group is None:
            groups.append((population, [i]))
        else:
            group.append(i)
    frames: dict[int, pl.DataFrame] = {}
    for _, indexes in groups:
        try:
            if len(indexes) == 1:
                found = [plans[indexes[0]].collect(engine="streaming")]
            else:
                found = pl.collect_all([plans[i] for i in indexes], engine="streaming")
        except pl.exceptions.PolarsError as exc:
            raise diagnose(source, set().union(*(datasets[i] for i in indexes)), exc) from None
        frames.update(zip(indexes, found, strict=True))
    return [frames[i] for i in range(len(plans))]


def diagnose(source: DataSource, names: set[str], exc: Exception) -> DataError:
    """The most precise error for a failed plan: a dataset's bad value (file, row, column)."""
    found: list[DataError] = []
    for name in sorted(names):
        try:
            found.append(source.explain_failure(name, exc))
        except pl.exceptions.PolarsError:
            continue
    precise = [e for e in found if ": row " in str(e)]
    if precise or found:
        return (precise or found)[0]
    return DataError(f"cannot evaluate: {str(exc).strip().splitlines()[0]}")
