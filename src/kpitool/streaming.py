"""Running lazy plans on Polars' streaming engine, with data errors a user can act on.

All plans of an evaluation are collected together, so each dataset is scanned once. When a
plan fails on a value that does not parse, the failing plan is found and the error names the
dataset's file, row and column (`DataSource.explain_failure`) instead of Polars' message.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kpitool.catalogue import DataSource
from kpitool.errors import DataError

__all__ = ["collect", "diagnose"]


def collect(
    plans: list[pl.LazyFrame],
    source: DataSource,
    datasets: list[set[str]],
    apart: Sequence[bool] = (),
) -> list[pl.DataFrame]:
    """Collect every plan in one streaming pass; `datasets[i]` names what plan i reads.

    Plans marked `apart` (entity group-bys: millions of groups) run one after another once
    the rest are done, so their hash tables are never in memory beside the others'."""
    if any(apart):
        together = [i for i in range(len(plans)) if not apart[i]]
        found = collect([plans[i] for i in together], source, [datasets[i] for i in together])
        frames = dict(zip(together, found, strict=True))
        for i in range(len(plans)):
            if apart[i]:
                frames[i] = collect([plans[i]], source, [datasets[i]])[0]
        return [frames[i] for i in range(len(plans))]
    try:
        return pl.collect_all(plans, engine="streaming")
    except pl.exceptions.PolarsError as exc:
        for plan, names in zip(plans, datasets, strict=True):
            try:
                plan.collect(engine="streaming")
            except pl.exceptions.PolarsError as inner:
                raise diagnose(source, names, inner) from None
        raise DataError(f"cannot evaluate: {str(exc).splitlines()[0]}") from None


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
