"""How many rows evaluation leaves out, per file: those whose values cannot be true
(`kpitool.data.validity.EXCLUDED`: NaN or infinite amounts, amounts of 1e12 or more, numbers
outside their range, a later step before the earlier one).

Each file's count reads only the columns the checks read and is remembered in the cache by
the file's content hash, so saying what was left out costs little beside an evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kpitool import cache
from kpitool.data.catalogue import DataSource
from kpitool.data.schema import dataset
from kpitool.data.validity import invalid_rows

__all__ = ["LeftOut", "left_out", "notes", "per_dataset", "remember"]


@dataclass(frozen=True)
class LeftOut:
    """Rows of one file of a dataset that evaluation left out."""

    dataset: str
    file: str
    rows: int


def _count(source: DataSource, name: str, path: Path) -> int:
    invalid = invalid_rows(dataset(name))
    if invalid is None:
        return 0
    typed = source.typed(name, source.raw(name, path, numbered=False), strict=False)
    return int(typed.select(invalid.sum()).collect().item())


def _key(source: DataSource, name: str, path: Path) -> str:
    state = (name, str(path), cache.fingerprint(path), source.spec(name), dataset(name))
    return cache.make_key("left-out", *state)


def remember(source: DataSource, name: str, path: Path, rows: int) -> None:
    """Keep a file's count found elsewhere (`data check` reads the same columns) for
    `left_out`, so a report that checks its data does not count again."""
    store = cache.store()
    if store is not None:
        store.put("left-out", _key(source, name, path), str(rows).encode())


def _count_cached(source: DataSource, name: str, path: Path) -> int:
    """`_count`, remembered by the file's content hash and catalogue entry."""
    store = cache.store()
    if store is None:
        return _count(source, name, path)
    found = store.get("left-out", _key(source, name, path))
    if found is not None:
        return int(found)
    rows = _count(source, name, path)
    remember(source, name, path, rows)
    return rows


def left_out(source: DataSource, names: Iterable[str]) -> list[LeftOut]:
    """The files of datasets `names` that have rows evaluation leaves out, with how many."""
    found = []
    for name in sorted(set(names)):
        if invalid_rows(dataset(name)) is None:
            continue
        for path in source.files(name):
            rows = _count_cached(source, name, path)
            if rows:
                found.append(LeftOut(name, source.label(name, path), rows))
    return found


def per_dataset(found: Iterable[LeftOut]) -> dict[str, int]:
    """The rows left out of each dataset, its files summed."""
    rows: dict[str, int] = {}
    for item in found:
        rows[item.dataset] = rows.get(item.dataset, 0) + item.rows
    return rows


def notes(found: Iterable[LeftOut]) -> list[str]:
    """One line per dataset: how many of its rows were left out and where they are listed."""
    return [
        f"{name}: {rows} row{'s' if rows != 1 else ''} left out (values that cannot be true; "
        "`kpitool data check` lists them)"
        for name, rows in per_dataset(found).items()
    ]
