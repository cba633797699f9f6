"""The sample company's operational facts (complaints, inspections, appraisals, renewals,
lapsed-policy clean-up, OBPS) and what the fact generators share: seeded volumes per branch
and month, and which branch carries which planted failure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["DAY", "OperationFacts", "Plants", "dates", "microseconds"]

DAY = np.timedelta64(1, "D")


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


def claim_draws(
    rng: np.random.Generator,
    short: np.ndarray,
    reported: np.ndarray,
    issued: np.ndarray,
    end: np.datetime64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Claims' incident dates, types, closing dates, open flags and amounts: one set of
    distributions (and draws in one order) for the in-memory and the chunked generator."""
    n = len(short)
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
    amount = np.where(
        short, rng.lognormal(np.log(1100), 0.6, n), rng.lognormal(np.log(30000), 0.9, n)
    ).round(2)
    return incident, kind, closed, np.asarray(closed > end), amount


def microseconds(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[us]")


def dates(values: np.ndarray) -> pl.Series:
    return pl.Series(values.astype("datetime64[D]")).cast(pl.Date)


class OperationFacts:
    """Seeded generators of the operational datasets; `Facts` adds the business ones."""

    def __init__(
        self,
        rng: np.random.Generator,
        ref: dict[str, pl.DataFrame],
        year: int,
        scale: float,
        plants: Plants,
        volumes: Mapping[str, float] | None = None,
    ) -> None:
        self.rng, self.ref, self.year, self.scale, self.plants = rng, ref, year, scale, plants
        self.volumes = dict(volumes or {})
        self.branches: list[str] = ref["branches"]["branch_id"].to_list()
        self.start = np.datetime64(f"{year - 1}-01-01")
        self.end = np.datetime64(f"{year}-12-31")

    def _n(self, per: float, dataset: str = "") -> int:
        """Rows per unit at this scale; `volumes` multiplies one dataset's further."""
        return max(1, round(per * self.scale * self.volumes.get(dataset, 1.0)))

    def _months(self, first_year: int) -> list[np.datetime64]:
        return [
            np.datetime64(f"{y}-{m:02d}")
            for y in range(first_year, self.year + 1)
            for m in range(1, 13)
        ]

    def _spread(
        self, per_branch_month: float, first_year: int, dataset: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Branch ids and days for rows spread over the months (one block per branch-month)."""
        count = self._n(per_branch_month, dataset)
        months = self._months(first_year)
        day = []
        for month in months:
            length = int((month + 1 - month).astype("timedelta64[D]") / DAY)
            first = month.astype("datetime64[D]")
            for _ in self.branches:
                day.append(first + self.rng.integers(0, length, count) * DAY)
        branch = np.tile(np.repeat(np.array(self.branches), count), len(months))
        return branch, np.concatenate(day)

    def complaints(self) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        branch, day = self._spread(3, self.year - 1, "complaints")
        n = len(branch)
        received = day.astype("datetime64[s]") + rng.integers(
            8 * 3600, 20 * 3600, n
        ) * np.timedelta64(1, "s")
        due = received + 10 * DAY
        late = (branch == p.late_complaints) & (rng.random(n) < 0.35)
        closed = received + np.where(late, rng.integers(11, 20, n), rng.integers(1, 9, n)) * DAY
        ok = rng.random((3, n)) < 0.999
        return pl.DataFrame(
            {
                "complaint_id": [f"Q{i + 1:07d}" for i in range(n)],
                "branch_id": branch,
                "channel": rng.choice(["individual", "bancassurance", "group"], n),
                "source": rng.choice(
                    ["regulator", "hotline", "counter", "other"], n, p=[0.15, 0.5, 0.3, 0.05]
                ),
                "received_at": microseconds(received),
                "due_at": microseconds(due),
                "closed_at": microseconds(closed),
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
                    day = np.datetime64(f"{y}-{3 * q + 1:02d}-01") + rng.integers(0, 55) * DAY
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
        paid_at = due["due_date"].to_numpy().astype("datetime64[D]") + lag * DAY
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
                paid_at=dates(paid_at)
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
        per = self._n(120, "lapse_cleanup")
        rows = []
        for b in self.branches:
            pool = lapsed.filter(pl.col("branch_id") == b)
            rows.append(pool.sample(per, with_replacement=True, seed=int(rng.integers(1 << 31))))
        tasks = pl.concat(rows)
        n = tasks.height
        branch = tasks["branch_id"].to_numpy()
        rushed = branch == p.rushed_cleanup
        start = np.datetime64(f"{year}-01-05")
        spread = start + rng.integers(0, 150, n) * DAY
        last_two = np.datetime64(f"{year}-06-29") + rng.integers(0, 2, n) * DAY
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
        phone_called = start + rng.integers(0, 60, n) * DAY

        def when(mask: np.ndarray, values: pl.Series) -> pl.Series:
            return (
                values.to_frame("v").select(pl.when(pl.Series(mask)).then(pl.col("v"))).to_series()
            )

        return tasks.select("policy_id", "branch_id", "channel").with_columns(
            pl.format("W{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(7)).alias("task_id"),
            lapse_years=pl.Series(rng.integers(1, 7, n)),
            phone_called_at=dates(phone_called),
            visited_at=when(visited, dates(completed)),
            completed_at=when(done, dates(completed)),
            outcome=when(done, pl.Series(outcome)),
            visited_person=when(visited, pl.Series(person)),
            **{k: pl.Series(v) for k, v in flags.items()},
        )

    def customer_info(self) -> pl.DataFrame:
        rng, p = self.rng, self.plants
        per = self._n(400, "customer_info")
        branch = np.repeat(self.branches, per)
        n = len(branch)
        behind = branch == p.obps_behind
        day = np.datetime64(f"{self.year}-01-01") + rng.integers(0, 250, n) * DAY
        collected = rng.random(n) < np.where(behind, 0.4, 0.97)
        return pl.DataFrame(
            {
                "customer_id": [f"U{i + 1:07d}" for i in range(n)],
                "branch_id": branch,
                "in_scope": rng.random(n) < 0.9,
                "collected_at": dates(day)
                .to_frame("d")
                .select(pl.when(pl.Series(collected)).then(pl.col("d")))
                .to_series(),
            }
        )
