"""Benchmark-scale claims, callbacks, renewals and clean-up tasks, drawn from the policy
`Ledger` and written a chunk at a time, each chunk with its own random stream.

The distributions are `Facts`'s (kpitool.sample_facts, kpitool.sample_ops); the draws are
not, so these files differ from what the in-memory path would write for the same seed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from kpitool.sample.ops import DAY, OperationFacts, claim_draws, dates, microseconds
from kpitool.sample.policy_ledger import (
    STATUSES,
    Ledger,
    chunk_rng,
    parquet_chunks,
    policy_ids,
    write_policies,
)

__all__ = ["write_policy_facts"]

_CLAIMS, _CALLBACKS, _RENEWALS, _CLEANUP, _PLANTS = 2, 3, 4, 5, 6
_BLOCK = 1 << 20  # ledger rows per callbacks chunk


def write_policy_facts(out: Path, facts: OperationFacts, seed: int) -> dict[str, int]:
    """Write policies, claims, callbacks, renewals and lapse_cleanup; rows of each."""
    ledger = write_policies(out, facts, seed)
    rows = {"policies": len(ledger)}
    rows["claims"] = _claims(out, facts, ledger, seed)
    rows["callbacks"] = _callbacks(out, facts, ledger, seed)
    rows["renewals"] = _renewals(out, facts, ledger, seed)
    rows["lapse_cleanup"] = _cleanup(out, facts, ledger, seed)
    return rows


def _policy_columns(facts: OperationFacts, ledger: Ledger, index: np.ndarray) -> pl.DataFrame:
    """policy_id, branch_id, channel and agent_id of ledger rows `index`."""
    agents = facts.ref["agents"]
    agent = pl.Series(ledger.agent[index])
    agent_id = agents["agent_id"].gather(agent).to_frame("a")
    return pl.DataFrame(
        {
            "policy_id": policy_ids(index),
            "branch_id": pl.Series(facts.branches).gather(ledger.branch[index]),
            "channel": agents["channel"].gather(agent),
            "agent_id": agent_id.select(
                pl.when(~pl.Series(ledger.no_agent[index])).then("a")
            ).to_series(),
        }
    )


def _claims(out: Path, facts: OperationFacts, ledger: Ledger, seed: int) -> int:
    """Claims a reported month at a time, each on a policy of its branch and product line
    issued at least 10 days before (uniformly among those)."""
    # Policies sorted by (branch, line, issued): one search finds each claim's eligible ones.
    key = (ledger.branch.astype(np.int64) * 2 + ledger.long) << 32
    combined = key | ledger.issued.astype(np.int64)
    order = np.argsort(combined, kind="stable").astype(np.int32)
    combined = combined[order]
    groups = np.arange(len(facts.branches) * 2 + 1, dtype=np.int64) << 32
    starts = np.searchsorted(combined, groups)
    with parquet_chunks(out / "claims.parquet", "claims") as sink:
        for k, month in enumerate(facts._months(facts.year - 1)):
            rng = chunk_rng(seed, _CLAIMS, k)
            picked, reported = [], []
            for long, per in ((0, 12.0), (1, 4.0)):
                count = facts._n(per, "claims")
                branch = np.repeat(np.arange(len(facts.branches)), count)
                length = int((month + 1 - month).astype("timedelta64[D]") / DAY)
                day = month.astype("datetime64[D]") + rng.integers(0, length, len(branch)) * DAY
                group = branch * 2 + long
                lo, hi = starts[group], starts[group + 1]
                limit = (group.astype(np.int64) << 32) | (day - 10 * DAY).astype(np.int64)
                eligible = np.searchsorted(combined, limit, side="right") - lo
                at = lo + (rng.random(len(day)) * np.maximum(eligible, 1)).astype(np.int64)
                ok = hi > lo  # a branch without policies of the line has no claims on it
                picked.append(order[np.minimum(at, hi - 1)[ok]])
                reported.append(day[ok])
            policy, day = np.concatenate(picked), np.concatenate(reported)
            sort = np.lexsort((ledger.branch[policy], day))
            policy, day = policy[sort], day[sort]
            sink.write(_claim_rows(facts, ledger, rng, policy, day, sink.rows))
    return sink.rows


def _claim_rows(
    facts: OperationFacts,
    ledger: Ledger,
    rng: np.random.Generator,
    policy: np.ndarray,
    reported: np.ndarray,
    first: int,
) -> pl.DataFrame:
    """The month's claims on ledger rows `policy`: `Facts.claims`'s distributions."""
    p, year, n = facts.plants, facts.year, len(policy)
    short = ~ledger.long[policy]
    branch = np.array(facts.branches)[ledger.branch[policy]]
    issued = ledger.issued[policy]
    incident, kind, closed, is_open, amount = claim_draws(rng, short, reported, issued, facts.end)
    this_year = reported >= np.datetime64(f"{year}-01-01")
    must = short & (amount > 2000) & (this_year | (rng.random(n) < 0.2))
    base = np.where(this_year, 0.3, 0.03)
    investigated = (rng.random(n) < np.where(short, base, 0.15)) | must
    investigated |= ~short & (kind == "death")
    keys = facts.ref["key_lists"]
    key_agents = keys.filter(pl.col("list") == "key_agents")["key"].to_list()
    key_branches = keys.filter(pl.col("list") == "key_branches")["key"].to_list()
    head = _policy_columns(facts, ledger, policy)
    agent = head["agent_id"].fill_null("").to_numpy()
    investigated |= this_year & (np.isin(agent, key_agents) | np.isin(branch, key_branches))
    low = branch == p.low_investigation
    investigated = np.where(low & short, amount > 2000, investigated)
    skip = (branch == p.uninvestigated) & short & (amount > 2000) & (rng.random(n) < 0.7)
    investigated = np.asarray(investigated & ~skip)
    who = np.array(["I01", "I02", "I03", "I04", "I05", "I06"])[rng.integers(0, 6, n)]
    positive = rng.random(n) < np.where(who == "I06", 0.02, 0.22)
    paid = np.where(is_open, np.nan, (amount * rng.uniform(0.55, 1.0, n)).round(2))
    expense = np.where(is_open, np.nan, (amount * 0.03 + 40).round(2))
    number = pl.Series(np.arange(first + 1, first + n + 1)).cast(pl.String).str.zfill(8)

    def when(mask: np.ndarray, values: pl.Series) -> pl.Series:
        return values.to_frame("v").select(pl.when(pl.Series(mask)).then("v")).to_series()

    return head.with_columns(
        claim_id=pl.select(pl.concat_str(pl.lit("L"), pl.lit(number))).to_series(),
        product_line=pl.Series(np.where(short, "short", "long")),
        claim_type=pl.Series(kind),
        incident_date=dates(incident),
        reported_at=dates(reported),
        closed_at=when(~is_open, dates(closed)),
        claimed_amount=amount,
        paid_amount=pl.Series(paid).fill_nan(None),
        expense_amount=pl.Series(expense).fill_nan(None),
        investigated=pl.Series(investigated),
        investigation_positive=when(investigated, pl.Series(positive)),
        investigator_id=when(investigated, pl.Series(who)),
    )


def _callbacks(out: Path, facts: OperationFacts, ledger: Ledger, seed: int) -> int:
    """Callbacks of the policies issued in the two years, a block of the ledger at a time.

    A policyholder's own phone is a bijection of their number (no table of phones held);
    the plants are `Facts.callbacks`'s: in each month of issue, the first 3 policies of one
    branch answered on agents' phones and the first 4 of another on one shared phone.
    """
    p, agents = facts.plants, facts.ref["agents"]
    offset = int(chunk_rng(seed, _CALLBACKS, 0).integers(10**9))
    used_agent: dict[int, int] = {}
    used_shared: dict[int, int] = {}
    to_agent, to_shared = facts.branches.index(p.agent_phone), facts.branches.index(p.shared_phone)
    start, numbered = np.datetime64(f"{facts.year - 1}-01-01"), 0
    share = facts.volumes.get("callbacks")
    with parquet_chunks(out / "callbacks.parquet", "callbacks") as sink:
        for k, first in enumerate(range(0, len(ledger), _BLOCK)):
            rng = chunk_rng(seed, _CALLBACKS, k + 1)
            index = np.arange(first, min(first + _BLOCK, len(ledger)))
            index = index[ledger.issued[index] >= start]
            if share is not None:
                index = index[rng.random(len(index)) < share]
            n = len(index)
            if not n:
                continue
            holder = ledger.holder[index]
            own = (holder * 387_420_489 + offset) % 10**9  # 3^18: coprime to 10^9
            phone = pl.Series(own).cast(pl.String).str.zfill(9)
            phone = pl.select(
                pl.when(pl.lit(pl.Series(holder)) >= 0)
                .then(pl.concat_str(pl.lit("13"), pl.lit(phone)))
                .otherwise(pl.lit(agents["phone"]).gather(pl.lit(pl.Series(-1 - holder).clip(0))))
            ).to_series()
            issued = ledger.issued[index]
            month = issued.astype("datetime64[M]")
            branch = ledger.branch[index]
            for m in np.unique(month):
                key = int(m.astype(np.int64))  # months since 1970: the plants' own stream
                plants = chunk_rng(seed, _PLANTS, key)
                taken = agents["phone"].sample(3, seed=int(plants.integers(1 << 31)))
                shared = f"1860000{plants.integers(1000, 9999)}"
                used = used_agent.get(key, 0)
                mine = np.flatnonzero((branch == to_agent) & (month == m))[: 3 - used]
                phone = phone.scatter(mine, taken[used : used + len(mine)])
                used_agent[key] = used + len(mine)
                used = used_shared.get(key, 0)
                ours = np.flatnonzero((branch == to_shared) & (month == m))[: 4 - used]
                phone = phone.scatter(ours, shared)
                used_shared[key] = used + len(ours)
            called = (
                issued.astype("datetime64[s]")
                + rng.integers(1, 10, n) * DAY
                + rng.integers(9 * 3600, 18 * 3600, n) * np.timedelta64(1, "s")
            )
            number = pl.Series(np.arange(numbered + 1, numbered + n + 1))
            numbered += n
            frame = _policy_columns(facts, ledger, index).with_columns(
                callback_id=pl.select(
                    pl.concat_str(pl.lit("K"), pl.lit(number.cast(pl.String).str.zfill(8)))
                ).to_series(),
                called_at=pl.Series(microseconds(called)),
                phone=phone,
                success=pl.Series(rng.random(n) < 0.92),
            )
            sink.write(frame.filter(pl.col("called_at") <= dt.datetime(facts.year, 12, 31, 23, 59)))
    return sink.rows


def _renewals(out: Path, facts: OperationFacts, ledger: Ledger, seed: int) -> int:
    """Premiums due 1, 2 and 3 years after issue on in-force long and card policies, a due
    month at a time (sorted by due date and policy, as `OperationFacts.renewals` sorts)."""
    renewing = np.flatnonzero((ledger.long | (ledger.card >= 0)) & (ledger.status == 0))
    issued_month = ledger.issued[renewing].astype("datetime64[M]")
    by_month = np.argsort(issued_month, kind="stable")
    renewing, issued_month = renewing[by_month], issued_month[by_month]
    with parquet_chunks(out / "renewals.parquet", "renewals") as sink:
        for k, month in enumerate(facts._months(facts.year - 1)):
            rng = chunk_rng(seed, _RENEWALS, k)
            policy, due = [], []
            for years in (1, 2, 3):
                issued = month - 12 * years
                lo, hi = np.searchsorted(issued_month, [issued, issued + 1])
                policy.append(renewing[lo:hi])
                due.append(dates(ledger.issued[renewing[lo:hi]]).dt.offset_by(f"{years}y"))
            index = np.concatenate(policy)
            due_date = pl.concat(due)
            sort = np.lexsort((index, due_date.to_numpy()))
            index, due_date = index[sort], due_date.gather(sort)
            n = len(index)
            lag = np.where(rng.random(n) < 0.95, rng.integers(0, 31, n), rng.integers(31, 90, n))
            unpaid = rng.random(n) < 0.02
            card = ledger.card[index] >= 0
            autodebit = rng.random(n) < np.where(card, 0.65, 0.55)
            paid_at = due_date.to_numpy().astype("datetime64[D]") + lag * DAY
            unpaid |= paid_at > facts.end
            premium = pl.Series(ledger.premium[index])
            paid = pl.Series(~unpaid)
            sink.write(
                _policy_columns(facts, ledger, index).with_columns(
                    due_date=due_date,
                    premium_due=premium,
                    paid_at=dates(paid_at)
                    .to_frame("d")
                    .select(pl.when(paid).then("d"))
                    .to_series(),
                    premium_paid=premium.to_frame("p").select(pl.when(paid).then("p")).to_series(),
                    autodebit=pl.Series(autodebit),
                )
            )
    return sink.rows


def _cleanup(out: Path, facts: OperationFacts, ledger: Ledger, seed: int) -> int:
    """Clean-up tasks on lapsed policies: `OperationFacts.lapse_cleanup` on just those."""
    lapsed = np.flatnonzero(ledger.status == STATUSES.index("lapsed"))
    policies = _policy_columns(facts, ledger, lapsed).with_columns(status=pl.lit("lapsed"))
    tasks = type(facts)(
        chunk_rng(seed, _CLEANUP, 0),
        facts.ref,
        facts.year,
        facts.scale,
        facts.plants,
        facts.volumes,
    ).lapse_cleanup(policies)
    with parquet_chunks(out / "lapse_cleanup.parquet", "lapse_cleanup") as sink:
        sink.write(tasks)
    return sink.rows
