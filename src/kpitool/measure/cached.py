"""Running plans through the cache: a plan's result is remembered by the plan itself (rules,
periods, deadlines are in it), the fingerprints of the files of the datasets it reads, the
engine and the code, so a re-run with unchanged inputs runs nothing again."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Sequence

import polars as pl

from kpitool import cache
from kpitool.log import logger
from kpitool.plan.engine import Engine
from kpitool.plan.steps import Plan

__all__ = ["collect", "latest"]


def _inputs(engine: Engine, datasets: frozenset[str]) -> list[object] | None:
    """The catalogue entry and file fingerprints of each dataset; None off local files."""
    source = engine.local
    if source is None:
        return None
    return [
        [name, source.spec(name), [cache.fingerprint(path) for path in source.files(name)]]
        for name in sorted(datasets)
    ]


def _key(engine: Engine, plan: Plan) -> str | None:
    inputs = _inputs(engine, plan.population.datasets)
    if inputs is None:
        return None
    return cache.make_key("plan", engine.name, engine.buckets, engine.month_by_month, plan, inputs)


def collect(engine: Engine, plans: Sequence[Plan]) -> list[pl.DataFrame]:
    """`engine.collect(plans)`, each plan's result taken from the cache when it holds it."""
    store = cache.store()
    if store is None or not plans:
        return engine.collect(plans)
    keys = [_key(engine, plan) for plan in plans]
    found: list[pl.DataFrame | None] = []
    for key in keys:
        payload = store.get("plan", key) if key is not None else None
        found.append(pl.read_ipc(io.BytesIO(payload)) if payload is not None else None)
    todo = [i for i, frame in enumerate(found) if frame is None]
    level = logging.INFO if len(plans) > 1 else logging.DEBUG  # exception lists: one each
    logger.log(level, "plans: %d from the cache, %d run", len(plans) - len(todo), len(todo))
    run = engine.collect([plans[i] for i in todo]) if todo else []
    for index, frame in zip(todo, run, strict=True):
        found[index] = frame
        key = keys[index]
        if key is not None:
            buffer = io.BytesIO()
            frame.write_ipc(buffer)
            store.put("plan", key, buffer.getvalue())
    return [frame for frame in found if frame is not None]


def latest(
    engine: Engine, dataset: str, columns: Sequence[str], untils: Sequence[dt.date]
) -> list[dt.date | None]:
    """`engine.latest(…)` (a scan of the whole dataset), remembered like a plan's result."""
    store = cache.store()
    inputs = _inputs(engine, frozenset({dataset})) if store is not None else None
    if store is None or inputs is None:
        return engine.latest(dataset, columns, untils)
    key = cache.make_key("latest", engine.name, dataset, list(columns), list(untils), inputs)
    found = store.get("latest", key)
    if found is not None:
        return [dt.date.fromisoformat(d) if d else None for d in found.decode().split(",")]
    days = engine.latest(dataset, columns, untils)
    store.put("latest", key, ",".join(d.isoformat() if d else "" for d in days).encode())
    return days
