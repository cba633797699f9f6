"""The fact datasets of the sample company, vectorised with NumPy and seeded.

Volumes are per branch and month at scale 1; `Plants` says which branch fails which rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

__all__ = ["Facts", "Plants"]

_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Plants:
    """Which branch carries each planted failure (see kpitool.sample's table)."""

    slow_counter: str
    uninspected: str
    late_group: str
    late_complaints: str
    agent_phone: str
    uninvestigated: str
    shared_phone: str
    low_investigation: str
    rushed_cleanup: str
    obps_behind: str
    low_repeat: str

    @classmethod
    def for_branches(cls, n: int) -> Plants:
        def b(k: int) -> str:
            return f"B{(k - 1) % n + 1:02d}"

        return cls(b(3), b(3), b(4), b(4), b(5), b(5), b(6), b(6), b(7), b(8), b(2))


def _us(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[us]")


def _dates(values: np.ndarray) -> pl.Series:
    return pl.Series(values.astype("datetime64[D]")).cast(pl.Date)


class Facts:
    """Generates the ten fact datasets from the reference frames."""

    def __init__(
        self,
        rng: np.random.Generator,
        ref: dict[str, pl.DataFrame],
        year: int,
        scale: float,
        plants: Plants,
    ) -> None:
        self.rng, self.ref, self.year, self.scale, self.plants = rng, ref, year, scale, plants
        self.branches: list[str] = ref["branches"]["branch_id"].to_list()
        self.start = np.datetime64(f"{year - 1}-01-01")
        self.end = np.datetime64(f"{year}-12-31")

    def _n(self, per: float) -> int:
        return max(1, round(per * self.scale))

    def _months(self, first_year: int) -> list[np.datetime64]:
        return [
            np.datetime64(f"{y}-{m:02d}")
            for y in range(first_year, self.year + 1)
            for m in range(1, 13)
        ]

    def _spread(self, per_branch_month: float, first_year: int) -> tuple[np.ndarray, np.ndarray]:
        """Branch ids and days for rows spread over the months (one block per branch-month)."""
        count = self._n(per_branch_month)
        branch, day = [], []
        for month in self._months(first_year):
            length = int((month + 1 - month).astype("timedelta64[D]") / _DAY)
            first = month.astype("datetime64[D]")
            for b in self.branches:
                branch += [b] * count
                day.append(first + self.rng.integers(0, length, count) * _DAY)
        return np.array(branch), np.concatenate(day)

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
                "arrived_at": _us(arrived[order]),
                "called_at": _us(called[order]),
                "finished_at": _us(finished[order]),
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
        issued = applied + lag * _DAY
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
        status_date = issued + rng.integers(60, 700, n) * _DAY
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
                "applied_at": _dates(applied),
                "issued_at": _dates(issued),
                "premium": premium,
                "status": status,
                "status_date": _dates(status_date)
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
                eligible = np.searchsorted(issued, days - 10 * _DAY, side="right")
                idx = (rng.random(len(days)) * np.maximum(eligible, 1)).astype(int)
                pick = pool[idx]
                rows.append(
                    pick.select(
                        "policy_id", "branch_id", "channel", "agent_id", "product_line", "issued_at"
                    ).with_columns(reported_at=_dates(days))
                )
        claims = pl.concat(rows).sort("reported_at", "branch_id", maintain_order=True)
        n = claims.height
        short = (claims["product_line"] == "short").to_numpy()
        branch = claims["branch_id"].to_numpy()
        reported = claims["reported_at"].to_numpy().astype("datetime64[D]")
        issued = claims["issued_at"].to_numpy().astype("datetime64[D]")
        incident = np.maximum(reported - rng.integers(0, 20, n) * _DAY, issued + _DAY)
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
        closed = reported + lag * _DAY
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
            incident_date=_dates(incident),
            closed_at=_dates(closed)
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
            + rng.integers(1, 10, n) * _DAY
            + rng.integers(9 * 3600, 18 * 3600, n) * np.timedelta64(1, "s")
        )
        return (
            new.select("policy_id", "branch_id", "channel", "agent_id")
            .with_columns(
                pl.format("K{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(8)).alias(
                    "callback_id"
                ),
                called_at=pl.Series(_us(called)),
                phone=pl.Series(phone),
                success=pl.Series(rng.random(n) < 0.92),
            )
            .filter(pl.col("called_at") <= dt.datetime(self.year, 12, 31, 23, 59))
        )

    def complaints(self) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        branch, day = self._spread(3, self.year - 1)
        n = len(branch)
        received = day.astype("datetime64[s]") + rng.integers(
            8 * 3600, 20 * 3600, n
        ) * np.timedelta64(1, "s")
        due = received + 10 * _DAY
        late = (branch == p.late_complaints) & (rng.random(n) < 0.35)
        closed = received + np.where(late, rng.integers(11, 20, n), rng.integers(1, 9, n)) * _DAY
        ok = rng.random((3, n)) < 0.999
        return pl.DataFrame(
            {
                "complaint_id": [f"Q{i + 1:07d}" for i in range(n)],
                "branch_id": branch,
                "channel": rng.choice(["individual", "bancassurance", "group"], n),
                "source": rng.choice(
                    ["regulator", "hotline", "counter", "other"], n, p=[0.15, 0.5, 0.3, 0.05]
                ),
                "received_at": _us(received),
                "due_at": _us(due),
                "closed_at": _us(closed),
                "registered": ok[0],
                "flow_recorded": ok[1],
                "documents_kept": ok[2],
            }
        )

    def inspections(self) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        rows = []
        for counter_id in self.ref["counters"]["counter_id"]:
            if counter_id == f"C{p.uninspected[1:]}02":
                continue
            for y in (self.year - 1, self.year):
                for q in range(4):
                    day = np.datetime64(f"{y}-{3 * q + 1:02d}-01") + rng.integers(0, 55) * _DAY
                    findings = int(rng.choice([0, 0, 0, 1, 2]))
                    rows.append(
                        {
                            "counter_id": counter_id,
                            "inspected_on": day.item(),
                            "findings": findings,
                            "recheck_done": bool(rng.random() < 0.9) if findings else None,
                        }
                    )
        frame = pl.DataFrame(rows).sort("inspected_on", "counter_id")
        return frame.with_columns(
            pl.format("J{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)).alias(
                "inspection_id"
            )
        )

    def appraisals(self) -> pl.DataFrame:
        staff = self.ref["staff"]["employee_id"].to_list()
        periods = [str(m)[:7] for m in self._months(self.year - 1)]
        n = len(staff) * len(periods)
        return pl.DataFrame(
            {
                "employee_id": staff * len(periods),
                "period": np.repeat(periods, len(staff)),
                "appraised": self.rng.random(n) < 0.997,
            }
        )

    def renewals(self, policies: pl.DataFrame) -> pl.DataFrame:
        rng = self.rng
        renewing = policies.filter(
            ((pl.col("product_line") == "long") | pl.col("is_manual_card").is_not_null())
            & pl.col("issued_at").is_not_null()
        )
        parts = []
        for years in (1, 2, 3):
            due = renewing.with_columns(
                due_date=pl.col("issued_at").dt.offset_by(f"{years}y")
            ).filter(
                (pl.col("due_date") >= dt.date(self.year - 1, 1, 1))
                & (pl.col("due_date") <= dt.date(self.year, 12, 31))
                & (pl.col("status") == "in_force")
            )
            parts.append(due)
        due = pl.concat(parts)
        n = due.height
        lag = np.where(rng.random(n) < 0.95, rng.integers(0, 31, n), rng.integers(31, 90, n))
        unpaid = rng.random(n) < 0.02
        card = due["is_manual_card"].is_not_null().to_numpy()
        autodebit = rng.random(n) < np.where(card, 0.65, 0.55)
        paid_at = due["due_date"].to_numpy().astype("datetime64[D]") + lag * _DAY
        unpaid |= paid_at > self.end
        return (
            due.select(
                "policy_id",
                "branch_id",
                "channel",
                "agent_id",
                "due_date",
                pl.col("premium").alias("premium_due"),
            )
            .with_columns(
                paid_at=_dates(paid_at)
                .to_frame("d")
                .select(pl.when(pl.Series(~unpaid)).then(pl.col("d")))
                .to_series(),
                premium_paid=pl.when(pl.Series(~unpaid)).then(pl.col("premium_due")),
                autodebit=pl.Series(autodebit),
            )
            .sort("due_date", "policy_id")
        )

    def lapse_cleanup(self, policies: pl.DataFrame) -> pl.DataFrame:
        rng, p, year = self.rng, self.plants, self.year
        lapsed = policies.filter(pl.col("status") == "lapsed")
        per = self._n(120)
        rows = []
        for b in self.branches:
            pool = lapsed.filter(pl.col("branch_id") == b)
            rows.append(pool.sample(per, with_replacement=True, seed=int(rng.integers(1 << 31))))
        tasks = pl.concat(rows)
        n = tasks.height
        branch = tasks["branch_id"].to_numpy()
        rushed = branch == p.rushed_cleanup
        start = np.datetime64(f"{year}-01-05")
        spread = start + rng.integers(0, 150, n) * _DAY
        last_two = np.datetime64(f"{year}-06-29") + rng.integers(0, 2, n) * _DAY
        roll = rng.random(n)
        completed = np.where(rushed & (roll < 0.55), last_two, spread)
        done = ~(rushed & (roll > 0.9))
        unreachable_p = np.where(rushed & (completed >= np.datetime64(f"{year}-06-29")), 0.75, 0.12)
        outcome = np.where(
            rng.random(n) < unreachable_p,
            "unreachable",
            rng.choice(
                ["met_policyholder", "phone_confirmed", "reinstated", "surrendered", "other"],
                n,
                p=[0.45, 0.35, 0.08, 0.07, 0.05],
            ),
        )
        visited = done & (outcome != "phone_confirmed")
        good = np.where(rushed, 0.7, 1.0)
        person = np.where(
            rng.random(n) < np.where(rushed, 0.6, 1.0),
            "policyholder",
            rng.choice(["relative", "neighbour", "other"], n),
        )
        flags = {
            k: rng.random(n) < good
            for k in ("has_photo", "has_signature", "has_recording", "has_policy_no")
        }
        phone_called = start + rng.integers(0, 60, n) * _DAY

        def when(mask: np.ndarray, values: pl.Series) -> pl.Series:
            return (
                values.to_frame("v").select(pl.when(pl.Series(mask)).then(pl.col("v"))).to_series()
            )

        return tasks.select("policy_id", "branch_id", "channel").with_columns(
            pl.format("W{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(7)).alias("task_id"),
            lapse_years=pl.Series(rng.integers(1, 7, n)),
            phone_called_at=_dates(phone_called),
            visited_at=when(visited, _dates(completed)),
            completed_at=when(done, _dates(completed)),
            outcome=when(done, pl.Series(outcome)),
            visited_person=when(visited, pl.Series(person)),
            **{k: pl.Series(v) for k, v in flags.items()},
        )

    def customer_info(self) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        per = self._n(400)
        branch = np.repeat(self.branches, per)
        n = len(branch)
        behind = branch == p.obps_behind
        day = np.datetime64(f"{self.year}-01-01") + rng.integers(0, 250, n) * _DAY
        collected = rng.random(n) < np.where(behind, 0.4, 0.97)
        return pl.DataFrame(
            {
                "customer_id": [f"U{i + 1:07d}" for i in range(n)],
                "branch_id": branch,
                "in_scope": rng.random(n) < 0.9,
                "collected_at": _dates(day)
                .to_frame("d")
                .select(pl.when(pl.Series(collected)).then(pl.col("d")))
                .to_series(),
            }
        )
