"""Benchmark-scale policies, generated and written a month at a time (bounded memory).

`generate_sample_data(..., chunked=True)` uses this instead of `Facts.policies`: the same
distributions, but each applied month has its own random stream, its rows go to
policies.parquet as soon as they are built, and only a compact `Ledger` (numbers, no text)
stays in memory for the datasets drawn from policies (claims, callbacks, renewals, clean-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from kpitool.data.schema import DATASETS
from kpitool.output import atomic_path
from kpitool.sample.ops import DAY, OperationFacts, dates

__all__ = [
    "STATUSES",
    "Ledger",
    "ParquetChunks",
    "chunk_rng",
    "parquet_chunks",
    "policy_ids",
    "write_policies",
]

STATUSES = ("in_force", "lapsed", "surrendered", "terminated")
# Spawn keys of the per-chunk random streams, one family per dataset.
_POLICIES = 1


def chunk_rng(seed: int, family: int, chunk: int) -> np.random.Generator:
    """The random stream of one chunk: independent of every other chunk and dataset."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(family, chunk)))


class ParquetChunks:
    """One dataset's Parquet file written a frame at a time (a row group or more each)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name, self.rows = path, name, 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        spec = DATASETS[self.name]
        table = frame.select(spec.column_names).cast(spec.polars_schema).to_arrow()  # type: ignore[arg-type]
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table)
        self.rows += frame.height

    def close(self) -> None:
        if self._writer is None:  # no rows: still a file with the canonical columns
            empty = pl.DataFrame(schema=DATASETS[self.name].polars_schema)
            self._writer = pq.ParquetWriter(self.path, empty.to_arrow().schema)
        self._writer.close()


@contextmanager
def parquet_chunks(target: Path, name: str) -> Iterator[ParquetChunks]:
    """Dataset `name`'s file `target`, written chunk by chunk, renamed into place when done."""
    with atomic_path(target) as tmp:
        chunks = ParquetChunks(tmp, name)
        yield chunks
        chunks.close()


@dataclass
class Ledger:
    """What later datasets need of every policy, in policy-id order (row i is P{i + 1})."""

    branch: np.ndarray  # int16: index into the branches
    long: np.ndarray  # bool: product line long (else short)
    agent: np.ndarray  # int32: the agent's row (the channel is that agent's)
    no_agent: np.ndarray  # bool: agent_id left empty
    holder: np.ndarray  # int64: policyholder number, or -1 - agent row (self-insured)
    issued: np.ndarray  # datetime64[D]
    status: np.ndarray  # int8: index into STATUSES
    card: np.ndarray  # int8: -1 not a card, 0 card, 1 manual card
    premium: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.branch)


def policy_ids(index: np.ndarray) -> pl.Series:
    """P + the 8-digit policy number of ledger rows `index`."""
    number = pl.Series(index.astype(np.int64) + 1).cast(pl.String).str.zfill(8)
    return pl.select(pl.concat_str(pl.lit("P"), pl.lit(number))).to_series()


def _where(mask: np.ndarray, values: pl.Series) -> pl.Series:
    return values.to_frame("v").select(pl.when(pl.Series(mask)).then(pl.col("v"))).to_series()


class _Month:
    """One applied month's rows, as arrays (the ledger's columns plus applied and dates)."""

    def __init__(self, **columns: np.ndarray) -> None:
        self.columns = columns

    @staticmethod
    def concat(parts: list[_Month]) -> _Month:
        keys = parts[0].columns
        return _Month(**{k: np.concatenate([p.columns[k] for p in parts]) for k in keys})

    def take(self, index: np.ndarray) -> _Month:
        return _Month(**{k: v[index] for k, v in self.columns.items()})


def _draw(facts: OperationFacts, rng: np.random.Generator, month: np.datetime64) -> _Month:
    """A month's new policies: the distributions of `Facts.policies`, drawn at once."""
    p, year = facts.plants, facts.year
    per = facts._n(45, "policies")
    n_branches = len(facts.branches)
    n = per * n_branches
    length = int((month + 1 - month).astype("timedelta64[D]") / DAY)
    branch = np.repeat(np.arange(n_branches, dtype=np.int16), per)
    applied = month.astype("datetime64[D]") + rng.integers(0, length, n) * DAY
    channel = facts.ref["agents"]["channel"].to_numpy()
    agent = (branch.astype(np.int32) * 40 + rng.integers(0, 40, n)).astype(np.int32)
    long = rng.random(n) < 0.55
    is_group = (channel == "group")[agent] | (rng.random(n) < 0.02)
    individual = (channel == "individual")[agent]
    card = ~long & individual & (rng.random(n) < 0.5)
    card_code = np.where(card, (rng.random(n) < 0.12).astype(np.int8), -1).astype(np.int8)
    lag = np.where(rng.random(n) < 0.99, rng.integers(0, 4, n), rng.integers(6, 13, n))
    group_lag = np.where(rng.random(n) < 0.995, rng.integers(0, 5, n), rng.integers(6, 9, n))
    late = (branch == facts.branches.index(p.late_group)) & (rng.random(n) < 0.3)
    lag = np.where(is_group, np.where(late, rng.integers(6, 11, n), group_lag), lag)
    issued = applied + lag * DAY
    premium = np.where(
        long, rng.lognormal(np.log(6000), 0.8, n), rng.lognormal(np.log(1100), 0.5, n)
    ).round(2)
    status_date = issued + rng.integers(60, 700, n) * DAY
    status = rng.choice(4, n, p=[0.86, 0.07, 0.05, 0.02]).astype(np.int8)
    status = np.where(status_date > facts.end, 0, status).astype(np.int8)
    return _Month(
        branch=branch,
        long=long,
        agent=agent,
        no_agent=rng.random(n) < 0.04,
        holder=np.zeros(n, np.int64),  # set by the caller: it knows the running numbers
        issued=issued,
        status=status,
        card=card_code,
        premium=premium,
        applied=applied,
        is_group=is_group,
        status_date=status_date,
        self_insured=individual & (rng.random(n) < 0.03),
        repeat=(issued >= np.datetime64(f"{year}-01-01"))
        & long
        & (rng.random(n) < np.where(branch == facts.branches.index(p.low_repeat), 0.05, 0.4)),
        again=rng.random(n) < 0.04,
    )


def _frame(facts: OperationFacts, rows: _Month, first: int) -> pl.DataFrame:
    """The canonical policies rows of a month (policy numbers from `first`)."""
    c = rows.columns
    agents = facts.ref["agents"]
    branch_ids = pl.Series(facts.branches).gather(c["branch"])
    number = pl.Series(c["holder"]).cast(pl.String).str.zfill(7)
    holder = pl.select(
        pl.when(pl.lit(pl.Series(c["holder"])) >= 0)
        .then(pl.concat_str(pl.lit("H"), pl.lit(branch_ids).str.slice(1), pl.lit(number)))
        .otherwise(pl.lit(agents["person_id"]).gather(pl.lit(pl.Series(-1 - c["holder"]).clip(0))))
    ).to_series()
    agent_rows = pl.Series(c["agent"])
    status = pl.Series(STATUSES).gather(c["status"])
    return pl.DataFrame(
        {
            "policy_id": policy_ids(np.arange(first, first + len(c["branch"]))),
            "branch_id": branch_ids,
            "channel": agents["channel"].gather(agent_rows),
            "agent_id": _where(~c["no_agent"], agents["agent_id"].gather(agent_rows)),
            "policyholder_id": holder,
            "product_line": pl.Series(np.where(c["long"], "long", "short")),
            "is_group": c["is_group"],
            "is_manual_card": _where(c["card"] >= 0, pl.Series(c["card"] == 1)),
            "applied_at": dates(c["applied"]),
            "issued_at": dates(c["issued"]),
            "premium": c["premium"],
            "status": status,
            "status_date": _where(c["status"] != 0, dates(c["status_date"])),
        }
    )


_LEDGER = ("branch", "long", "agent", "no_agent", "holder", "issued", "status", "card", "premium")


def write_policies(out: Path, facts: OperationFacts, seed: int) -> Ledger:
    """Write policies.parquet a month of applications at a time; return the ledger.

    Policyholders are numbered as rows are drawn; in the evaluated year some old customers
    (of the branch, issued before the year) buy again, and some lapsed or surrendered
    policyholders buy again 30 days after (cyclic insurance): those rows wait for their
    month. Rows are sorted by application date and branch, as `Facts.policies` sorts them.
    """
    year = facts.year
    pending: dict[np.datetime64, list[_Month]] = {}
    old: list[tuple[np.ndarray, np.ndarray]] = []  # (branch, holder) issued before the year
    pool: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    ledger: dict[str, list[np.ndarray]] = {k: [] for k in _LEDGER}
    drawn = written = 0
    with parquet_chunks(out / "policies.parquet", "policies") as sink:
        for k, month in enumerate(facts._months(year - 2)):
            rng = chunk_rng(seed, _POLICIES, k)
            new = _draw(facts, rng, month)
            c = new.columns
            n = len(c["branch"])
            c["holder"] = np.arange(drawn, drawn + n, dtype=np.int64)
            drawn += n
            if pool is None:
                before = c["issued"] < np.datetime64(f"{year}-01-01")
                old.append((c["branch"][before], c["holder"][before]))
            if pool is None and month >= np.datetime64(f"{year - 1}-12"):
                # Every policy issued before the year is drawn by now (issued >= applied).
                branch = np.concatenate([b for b, _ in old])
                order = np.argsort(branch, kind="stable")
                starts = np.searchsorted(branch[order], np.arange(len(facts.branches) + 1))
                pool = (np.concatenate([h for _, h in old])[order], starts[:-1], starts[1:])
                old.clear()
            if pool is not None:  # repeat buyers are drawn only where issued in the year
                holders, lo, hi = pool
                repeat = np.flatnonzero(c["repeat"] & (hi > lo)[c["branch"]])
                b = c["branch"][repeat]
                pick = lo[b] + (rng.random(len(repeat)) * (hi - lo)[b]).astype(np.int64)
                c["holder"][repeat] = holders[pick]
            c["holder"] = np.where(c["self_insured"], -1 - c["agent"].astype(np.int64), c["holder"])
            gone = np.isin(c["status"], [1, 2]) & (
                c["status_date"] < np.datetime64(f"{year}-10-01")
            )
            _buy_again(new.take(np.flatnonzero(gone & c["again"])), pending)
            rows = _Month.concat([new, *pending.pop(month, [])])
            order = np.lexsort((rows.columns["branch"], rows.columns["applied"]))
            rows = rows.take(order)
            sink.write(_frame(facts, rows, written))
            written += len(order)
            for key in _LEDGER:
                ledger[key].append(rows.columns[key])
            del new, rows, c
    return Ledger(**{k: np.concatenate(v) for k, v in ledger.items()})


def _buy_again(gone: _Month, pending: dict[np.datetime64, list[_Month]]) -> None:
    """Queue the new policies of lapsed or surrendered policyholders under their month."""
    c = gone.columns
    applied = c["status_date"] + 30 * DAY
    again = _Month(
        **{
            **c,
            "applied": applied,
            "issued": c["status_date"] + 32 * DAY,
            "status": np.zeros(len(applied), np.int8),
        }
    )
    months = applied.astype("datetime64[M]")
    for month in np.unique(months):
        pending.setdefault(month, []).append(again.take(np.flatnonzero(months == month)))
