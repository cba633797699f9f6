"""The business facts of the sample company (counter visits, policies, claims, callbacks),
vectorised with NumPy and seeded; `kpitool.sample_ops` has the operational ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from kpitool.sample_ops import DAY, OperationFacts, Plants, dates, microseconds

__all__ = ["Facts", "Plants"]


class Facts(OperationFacts):
    """Generates the ten fact datasets from the reference frames."""

    def all(self) -> dict[str, pl.DataFrame]:
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
        per_day = self._n(10)
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
                "ticket_id": [f"T{i + 1:08d}" for i in range(len(arrived))],
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
        branch, applied = self._spread(45, year - 2)
        n = len(branch)
        agents = self.ref["agents"]
        by_branch = {b: agents.filter(pl.col("branch_id") == b) for b in self.branches}
        pick = rng.integers(0, 40, n)
        agent_id = np.array(
            [by_branch[b]["agent_id"][int(i)] for b, i in zip(branch, pick, strict=True)]
        )
        channel = np.array(
            [by_branch[b]["channel"][int(i)] for b, i in zip(branch, pick, strict=True)]
        )
        person = np.array(
            [by_branch[b]["person_id"][int(i)] for b, i in zip(branch, pick, strict=True)]
        )
        line = np.where(rng.random(n) < 0.55, "long", "short")
        is_group = (channel == "group") | (rng.random(n) < 0.02)
        card = (line == "short") & (channel == "individual") & (rng.random(n) < 0.5)
        manual = pl.Series(np.where(card, rng.random(n) < 0.12, False)).to_list()
        is_manual = [m if c else None for m, c in zip(manual, card, strict=True)]
        lag = np.where(rng.random(n) < 0.99, rng.integers(0, 4, n), rng.integers(6, 13, n))
        group_lag = np.where(rng.random(n) < 0.995, rng.integers(0, 5, n), rng.integers(6, 9, n))
        late = (branch == p.late_group) & (rng.random(n) < 0.3)
        lag = np.where(is_group, np.where(late, rng.integers(6, 11, n), group_lag), lag)
        issued = applied + lag * DAY
        premium = np.where(
            line == "long", rng.lognormal(np.log(6000), 0.8, n), rng.lognormal(np.log(1100), 0.5, n)
        ).round(2)
        # Policyholders: mostly new customers; in the evaluated year, some old ones buy again.
        holder = np.array([f"H{b[1:]}{i:07d}" for i, b in enumerate(branch)])
        this_year = issued >= np.datetime64(f"{year}-01-01")
        old_pool = {b: holder[(branch == b) & ~this_year] for b in self.branches}
        repeat_p = np.where(branch == p.low_repeat, 0.05, 0.4)
        repeat = this_year & (line == "long") & (rng.random(n) < repeat_p)
        for i in np.flatnonzero(repeat):
            pool = old_pool[branch[i]]
            holder[i] = pool[rng.integers(0, len(pool))]
        self_insured = (channel == "individual") & (rng.random(n) < 0.03)
        holder = np.where(self_insured, person, holder)
        agent_null = rng.random(n) < 0.04
        status = rng.choice(
            ["in_force", "lapsed", "surrendered", "terminated"], n, p=[0.86, 0.07, 0.05, 0.02]
        )
        status_date = issued + rng.integers(60, 700, n) * DAY
        status = np.where(status_date > self.end, "in_force", status)
        frame = pl.DataFrame(
            {
                "branch_id": branch,
                "channel": channel,
                "agent_id": pl.Series(np.where(agent_null, "", agent_id)).replace("", None),
                "policyholder_id": holder,
                "product_line": line,
                "is_group": is_group,
                "is_manual_card": pl.Series(is_manual, dtype=pl.Boolean),
                "applied_at": dates(applied),
                "issued_at": dates(issued),
                "premium": premium,
                "status": status,
                "status_date": dates(status_date)
                .to_frame("d")
                .select(pl.when(pl.Series(status != "in_force")).then(pl.col("d")))
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
            branch, reported = self._spread(per, year - 1)
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
        incident = np.maximum(reported - rng.integers(0, 20, n) * DAY, issued + DAY)
        kind = np.where(
            short,
            rng.choice(
                ["medical", "accident", "death", "critical_illness"], n, p=[0.72, 0.24, 0.01, 0.03]
            ),
            rng.choice(
                ["medical", "accident", "death", "critical_illness", "other"],
                n,
                p=[0.3, 0.2, 0.18, 0.27, 0.05],
            ),
        )
        lag = np.where(rng.random(n) < 0.996, rng.integers(0, 6, n), rng.integers(6, 25, n))
        closed = reported + lag * DAY
        is_open = closed > self.end
        amount = np.where(
            short, rng.lognormal(np.log(1100), 0.6, n), rng.lognormal(np.log(30000), 0.9, n)
        ).round(2)
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
        n = new.height
        holders = new["policyholder_id"].to_numpy()
        unique = np.unique(holders)
        phone_of = dict(
            zip(
                unique,
                [f"13{x:09d}" for x in rng.choice(10**9, len(unique), replace=False)],
                strict=True,
            )
        )
        agents = self.ref["agents"]
        agent_phone = dict(zip(agents["person_id"], agents["phone"], strict=True))
        phone = np.array([agent_phone.get(h, phone_of[h]) for h in holders])
        branch = new["branch_id"].to_numpy()
        month = new["issued_at"].dt.strftime("%Y-%m").to_numpy()
        # Planted: callbacks answered on another agent's phone; a phone shared by 4 holders.
        for m in np.unique(month):
            mine = np.flatnonzero((branch == p.agent_phone) & (month == m))[:3]
            phone[mine] = agents["phone"].sample(len(mine), seed=int(rng.integers(1 << 31)))
            shared = np.flatnonzero((branch == p.shared_phone) & (month == m))
            phone[shared[:4]] = f"1860000{rng.integers(1000, 9999)}"
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
                phone=pl.Series(phone),
                success=pl.Series(rng.random(n) < 0.92),
            )
            .filter(pl.col("called_at") <= dt.datetime(self.year, 12, 31, 23, 59))
        )
