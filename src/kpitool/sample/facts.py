"""The business facts of the sample company (counter visits, policies, claims, callbacks),
vectorised with NumPy and seeded; `kpitool.sample.ops` has the operational ones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from kpitool.sample.ops import DAY, OperationFacts, Plants, claim_draws, dates, microseconds

__all__ = ["Facts", "Plants", "monthly_counter_visits"]

_VISITS = 7  # spawn-key family of the chunked visits' random streams
_BLOCK_ROWS = 1 << 20  # visits a block of days holds, about


def _ids(
    prefix: str, n: int, digits: int, infix: pl.Series | None = None, start: int = 0
) -> pl.Series:
    """prefix + infix + the row number (from `start`) zero-padded to `digits`, vectorised."""
    number = pl.int_range(start, start + n, dtype=pl.Int64).cast(pl.String).str.zfill(digits)
    parts = [pl.lit(prefix), *([pl.lit(infix)] if infix is not None else []), number]
    return pl.select(pl.concat_str(parts).alias("id")).to_series()


class Facts(OperationFacts):
    """Generates the ten fact datasets from the reference frames."""

    def all(self) -> dict[str, pl.DataFrame]:
        """Every fact dataset, in memory (kpitool.sample_policy_facts writes big ones in chunks)."""
        policies = self.policies()
        return {
            "policies": policies,
            "counter_visits": self.counter_visits(),
            "claims": self.claims(policies),
            "callbacks": self.callbacks(policies),
            "complaints": self.complaints(),
            "inspections": self.inspections(),
            "appraisals": self.appraisals(),
            "renewals": self.renewals(policies),
            "lapse_cleanup": self.lapse_cleanup(policies),
            "customer_info": self.customer_info(),
        }

    def counter_visits(self) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        calendar = self.ref["calendar"].filter(pl.col("is_workday"))
        days = calendar["date"].to_numpy().astype("datetime64[D]")
        counters = self.ref["counters"]
        per_day = self._n(10, "counter_visits")
        rows: dict[str, list[Any]] = {k: [] for k in ("counter_id", "branch_id", "arrived")}
        for counter_id, branch_id in counters.select("counter_id", "branch_id").iter_rows():
            n = per_day * len(days)
            seconds = rng.integers(int(8.5 * 3600), 17 * 3600, n)
            arrived = np.repeat(days, per_day).astype("datetime64[s]") + seconds
            rows["counter_id"] += [counter_id] * n
            rows["branch_id"] += [branch_id] * n
            rows["arrived"].append(arrived)
        arrived = np.concatenate(rows["arrived"])
        counter = np.array(rows["counter_id"])
        slow = counter == f"C{p.slow_counter[1:]}01"
        queue = rng.gamma(2.0, 4.0, len(arrived)) * np.where(slow, 3.2, 1.0)
        handle = rng.gamma(3.0, 1.6, len(arrived))
        called = arrived + (queue * 60).astype("timedelta64[s]")
        finished = called + (handle * 60).astype("timedelta64[s]")
        rated = rng.random(len(arrived)) < 0.7
        score = rng.choice([5, 4, 3, 2, 1], len(arrived), p=[0.85, 0.14, 0.007, 0.002, 0.001])
        order = np.argsort(arrived, kind="stable")
        return pl.DataFrame(
            {
                "ticket_id": _ids("T", len(arrived), 8, start=1),
                "counter_id": counter[order],
                "branch_id": np.array(rows["branch_id"])[order],
                "arrived_at": microseconds(arrived[order]),
                "called_at": microseconds(called[order]),
                "finished_at": microseconds(finished[order]),
                "satisfaction": pl.Series(np.where(rated, score, -1)[order]).replace(-1, None),
            }
        )

    def policies(self) -> pl.DataFrame:
        rng, p, year = self.rng, self.plants, self.year
        branch, applied = self._spread(45, year - 2, "policies")
        n = len(branch)
        # Agents are 40 a branch, in branch order: the k-th of branch b is row 40 b + k.
        # Text columns stay codes (agent rows, holder numbers) until the frame is built, so
        # tens of millions of policies fit in memory.
        agents = self.ref["agents"]
        pick = rng.integers(0, 40, n)
        position = {b: i for i, b in enumerate(self.branches)}
        row = pl.Series(branch).replace_strict(position, return_dtype=pl.Int64).to_numpy() * 40
        row += pick
        agent_channel = agents["channel"].to_numpy()
        long = rng.random(n) < 0.55
        is_group = (agent_channel == "group")[row] | (rng.random(n) < 0.02)
        individual = (agent_channel == "individual")[row]
        card = ~long & individual & (rng.random(n) < 0.5)
        manual = pl.Series("m", np.where(card, rng.random(n) < 0.12, False))
        is_manual = manual.to_frame().select(pl.when(pl.Series(card)).then("m")).to_series()
        lag = np.where(rng.random(n) < 0.99, rng.integers(0, 4, n), rng.integers(6, 13, n))
        group_lag = np.where(rng.random(n) < 0.995, rng.integers(0, 5, n), rng.integers(6, 9, n))
        late = (branch == p.late_group) & (rng.random(n) < 0.3)
        lag = np.where(is_group, np.where(late, rng.integers(6, 11, n), group_lag), lag)
        del group_lag, late
        issued = applied + lag * DAY
        premium = np.where(
            long, rng.lognormal(np.log(6000), 0.8, n), rng.lognormal(np.log(1100), 0.5, n)
        ).round(2)
        # Policyholders: mostly new customers; in the evaluated year, some old ones buy again.
        # holder[i] = j: the customer first seen on row j ("H" + branch + j); -1 - k: agent k.
        holder = np.arange(n)
        this_year = issued >= np.datetime64(f"{year}-01-01")
        old_pool = {b: holder[(branch == b) & ~this_year] for b in self.branches}
        repeat_p = np.where(branch == p.low_repeat, 0.05, 0.4)
        repeat = this_year & long & (rng.random(n) < repeat_p)
        for i in np.flatnonzero(repeat):
            pool = old_pool[branch[i]]
            holder[i] = pool[rng.integers(0, len(pool))]
        del old_pool, repeat, repeat_p, this_year
        self_insured = individual & (rng.random(n) < 0.03)
        holder = np.where(self_insured, -1 - row, holder)
        agent_null = rng.random(n) < 0.04
        status_code = rng.choice(4, n, p=[0.86, 0.07, 0.05, 0.02])
        status_date = issued + rng.integers(60, 700, n) * DAY
        status_code = np.where(status_date > self.end, 0, status_code)
        status = pl.Series(["in_force", "lapsed", "surrendered", "terminated"]).gather(status_code)
        branches = pl.Series(branch)
        del branch
        new_holder = _ids("H", n, 7, branches.str.slice(1))
        holders = pl.select(
            pl.when(pl.lit(pl.Series(holder)) >= 0)
            .then(pl.lit(new_holder).gather(pl.lit(pl.Series(np.maximum(holder, 0)))))
            .otherwise(pl.lit(agents["person_id"]).gather(pl.lit(pl.Series(-1 - holder).clip(0))))
        ).to_series()
        del new_holder, holder
        rows = pl.Series(row)
        frame = pl.DataFrame(
            {
                "branch_id": branches,
                "channel": agents["channel"].gather(rows),
                "agent_id": agents["agent_id"]
                .gather(rows)
                .to_frame("a")
                .select(pl.when(~pl.Series(agent_null)).then("a"))
                .to_series(),
                "policyholder_id": holders,
                "product_line": pl.Series(np.where(long, "long", "short")),
                "is_group": is_group,
                "is_manual_card": is_manual,
                "applied_at": dates(applied),
                "issued_at": dates(issued),
                "premium": premium,
                "status": status,
                "status_date": dates(status_date)
                .to_frame("d")
                .select(pl.when(pl.Series(status_code != 0)).then(pl.col("d")))
                .to_series(),
            }
        )
        # Cyclic insurance: some lapsed or surrendered policyholders buy again within 90 days.
        gone = frame.filter(
            pl.col("status").is_in(["lapsed", "surrendered"])
            & (pl.col("status_date") < dt.date(year, 10, 1))
        )
        again = gone.sample(fraction=0.04, seed=int(rng.integers(1 << 31)))
        again = again.with_columns(
            (pl.col("status_date") + pl.duration(days=30)).alias("applied_at"),
            (pl.col("status_date") + pl.duration(days=32)).alias("issued_at"),
            pl.lit("in_force").alias("status"),
            pl.lit(None, pl.Date).alias("status_date"),
        )
        frame = pl.concat([frame, again]).sort("applied_at", "branch_id", maintain_order=True)
        return frame.with_columns(
            pl.format("P{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(8)).alias(
                "policy_id"
            )
        )

    def claims(self, policies: pl.DataFrame) -> pl.DataFrame:
        rng, p, year = self.rng, self.plants, self.year
        parts = []
        for line, per in (("short", 12.0), ("long", 4.0)):
            branch, reported = self._spread(per, year - 1, "claims")
            parts.append((line, branch, reported))
        rows = []
        for line, branch, reported in parts:
            for b in self.branches:
                mask = branch == b
                pool = policies.filter(
                    (pl.col("branch_id") == b) & (pl.col("product_line") == line)
                ).sort("issued_at")
                issued = pool["issued_at"].to_numpy().astype("datetime64[D]")
                days = reported[mask]
                eligible = np.searchsorted(issued, days - 10 * DAY, side="right")
                idx = (rng.random(len(days)) * np.maximum(eligible, 1)).astype(int)
                pick = pool[idx]
                rows.append(
                    pick.select(
                        "policy_id", "branch_id", "channel", "agent_id", "product_line", "issued_at"
                    ).with_columns(reported_at=dates(days))
                )
        claims = pl.concat(rows).sort("reported_at", "branch_id", maintain_order=True)
        n = claims.height
        short = (claims["product_line"] == "short").to_numpy()
        branch = claims["branch_id"].to_numpy()
        reported = claims["reported_at"].to_numpy().astype("datetime64[D]")
        issued = claims["issued_at"].to_numpy().astype("datetime64[D]")
        incident, kind, closed, is_open, amount = claim_draws(
            rng, short, reported, issued, self.end
        )
        # 2015's plan lowered the bar: every short claim over 2000 investigated, and the
        # investigation rate doubled against last year's.
        this_year = reported >= np.datetime64(f"{year}-01-01")
        must = short & (amount > 2000) & (this_year | (rng.random(n) < 0.2))
        base = np.where(this_year, 0.3, 0.03)
        investigated = (rng.random(n) < np.where(short, base, 0.15)) | must
        investigated |= ~short & (kind == "death")
        key_agents = set(self.ref["key_lists"].filter(pl.col("list") == "key_agents")["key"])
        key_branches = set(self.ref["key_lists"].filter(pl.col("list") == "key_branches")["key"])
        agent = claims["agent_id"].fill_null("").to_numpy()
        investigated |= this_year & (
            np.isin(agent, list(key_agents)) | np.isin(branch, list(key_branches))
        )
        low = branch == p.low_investigation
        investigated = np.where(low & short, amount > 2000, investigated)
        skip = (branch == p.uninvestigated) & short & (amount > 2000) & (rng.random(n) < 0.7)
        investigated &= ~skip
        investigators = np.array(["I01", "I02", "I03", "I04", "I05", "I06"])
        who = investigators[rng.integers(0, 6, n)]
        positive = rng.random(n) < np.where(who == "I06", 0.02, 0.22)
        paid = np.where(is_open, np.nan, (amount * rng.uniform(0.55, 1.0, n)).round(2))
        expense = np.where(is_open, np.nan, (amount * 0.03 + 40).round(2))
        result: pl.DataFrame = claims.drop("issued_at").with_columns(
            pl.format("L{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(8)).alias("claim_id"),
            claim_type=pl.Series(kind),
            incident_date=dates(incident),
            closed_at=dates(closed)
            .to_frame("d")
            .select(pl.when(pl.Series(~is_open)).then(pl.col("d")))
            .to_series(),
            claimed_amount=amount,
            paid_amount=pl.Series(paid).fill_nan(None),
            expense_amount=pl.Series(expense).fill_nan(None),
            investigated=pl.Series(investigated),
            investigation_positive=pl.Series(np.where(investigated, positive, False))
            .to_frame("x")
            .select(pl.when(pl.Series(investigated)).then(pl.col("x")))
            .to_series(),
            investigator_id=pl.Series(np.where(investigated, who, "")).replace("", None),
        )
        return result

    def callbacks(self, policies: pl.DataFrame) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        new = policies.filter(pl.col("issued_at") >= dt.date(self.year - 1, 1, 1))
        if "callbacks" in self.volumes:  # only a share of new policies is called back
            new = new.filter(pl.Series(rng.random(new.height) < self.volumes["callbacks"]))
        n = new.height
        holders = new["policyholder_id"]
        unique = holders.unique().sort()  # ids are ASCII: the order of np.unique
        numbers = rng.choice(10**9, len(unique), replace=False)[unique.search_sorted(holders)]
        own = pl.Series(numbers).cast(pl.String).str.zfill(9)
        agents = self.ref["agents"]
        agent_phone = dict(zip(agents["person_id"], agents["phone"], strict=True))
        phone = holders.replace_strict(agent_phone, default=None, return_dtype=pl.String)
        phone = phone.fill_null("13" + own)
        del own, numbers, unique
        issued = new["issued_at"]
        month = (issued.dt.year().cast(pl.Int32) * 12 + issued.dt.month()).to_numpy()
        to_agent = (new["branch_id"] == p.agent_phone).to_numpy()
        to_shared = (new["branch_id"] == p.shared_phone).to_numpy()
        # Planted: callbacks answered on another agent's phone; a phone shared by 4 holders.
        for m in np.unique(month):
            mine = np.flatnonzero(to_agent & (month == m))[:3]
            taken = agents["phone"].sample(len(mine), seed=int(rng.integers(1 << 31)))
            if len(mine):
                phone = phone.scatter(mine, taken)
            shared = np.flatnonzero(to_shared & (month == m))[:4]
            number = f"1860000{rng.integers(1000, 9999)}"
            if len(shared):
                phone = phone.scatter(shared, number)
        called = (
            new["issued_at"].to_numpy().astype("datetime64[s]")
            + rng.integers(1, 10, n) * DAY
            + rng.integers(9 * 3600, 18 * 3600, n) * np.timedelta64(1, "s")
        )
        return (
            new.select("policy_id", "branch_id", "channel", "agent_id")
            .with_columns(
                pl.format("K{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(8)).alias(
                    "callback_id"
                ),
                called_at=pl.Series(microseconds(called)),
                phone=phone,
                success=pl.Series(rng.random(n) < 0.92),
            )
            .filter(pl.col("called_at") <= dt.datetime(self.year, 12, 31, 23, 59))
        )


def monthly_counter_visits(
    seed: int,
    counters: pl.DataFrame,
    calendar: pl.DataFrame,
    per_day: int,
    slow_counter: str,
) -> Iterator[tuple[str, Iterator[pl.DataFrame]]]:
    """Counter visits a month at a time ("YYYY-MM", its rows in blocks), for big volumes.

    The same distributions as `Facts.counter_visits`, but each block of days (about a
    million rows) has its own random stream, so memory stays bounded however many visits
    a day there are; blocks are consecutive days, so a month's rows stay in arrival order.
    Ticket numbers run on across blocks: read each month's blocks before the next month.
    """
    days = calendar.filter(pl.col("is_workday"))["date"].to_numpy().astype("datetime64[D]")
    month_of = days.astype("datetime64[M]")
    block = max(1, _BLOCK_ROWS // (per_day * counters.height))
    offset = 0

    def blocks(k: int, month_days: np.ndarray) -> Iterator[pl.DataFrame]:
        nonlocal offset
        for j in range(0, len(month_days), block):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_VISITS, k, j)))
            frame = _visits(rng, counters, month_days[j : j + block], per_day, slow_counter, offset)
            offset += frame.height
            yield frame

    for k, month in enumerate(np.unique(month_of)):
        yield str(month), blocks(k, days[month_of == month])


def _visits(
    rng: np.random.Generator,
    counters: pl.DataFrame,
    days: np.ndarray,
    per_day: int,
    slow_counter: str,
    done: int,
) -> pl.DataFrame:
    """`per_day` visits at each counter on each of `days`, in arrival order (tickets from
    `done` + 1)."""
    ids = counters["counter_id"]
    slow = (ids == slow_counter).to_numpy()
    per_counter = len(days) * per_day
    n = per_counter * len(ids)
    counter = np.repeat(np.arange(len(ids)), per_counter)
    seconds = rng.integers(int(8.5 * 3600), 17 * 3600, n)
    arrived = np.tile(np.repeat(days, per_day), len(ids)).astype("datetime64[s]") + seconds
    queue = rng.gamma(2.0, 4.0, n) * np.where(slow[counter], 3.2, 1.0)
    handle = rng.gamma(3.0, 1.6, n)
    called = arrived + (queue * 60).astype("timedelta64[s]")
    finished = called + (handle * 60).astype("timedelta64[s]")
    rated = rng.random(n) < 0.7
    score = rng.choice([5, 4, 3, 2, 1], n, p=[0.85, 0.14, 0.007, 0.002, 0.001])
    order = np.argsort(arrived, kind="stable")
    counter = counter[order]
    return pl.DataFrame(
        {
            "ticket_id": _ids("T", n, 10, start=done + 1),
            "counter_id": ids.gather(counter),
            "branch_id": counters["branch_id"].gather(counter),
            "arrived_at": microseconds(arrived[order]),
            "called_at": microseconds(called[order]),
            "finished_at": microseconds(finished[order]),
            "satisfaction": pl.Series(np.where(rated, score, -1)[order]).replace(-1, None),
        }
    )
