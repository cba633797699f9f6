"""`kpitool sample-data`: a seeded, realistic city company's extracts for two years.

Most branches pass most rules; some fail the way the 2015 work plan describes. With the
default 8 branches (B01 is the city branch 市区营业部, the rest county branches):

| branch | planted failure | rule |
|---|---|---|
| B03 | counter C0301 queues ≈ 20 minutes | counter.queue_time_avg |
| B03 | counter C0302 never inspected | counters.inspection_coverage |
| B04 | group policies issued 6-10 days after application | group.issued_within_5d_rate |
| B04 | a third of complaints closed after their due time | complaints.on_time_rate |
| B05 | callbacks answered on agents' phones | callbacks.agent_phone |
| B05 | short claims over 2000 yuan not investigated | claims.mandatory_investigation |
| B06 | phones shared by 4 policyholders | callbacks.shared_phone |
| B06 | few short claims investigated (≈ 10 %) | claims.shortterm_investigation_rate |
| B07 | clean-up rushed into the deadline's last two days | cleanup.last_days_share |
| B07 | … mostly "unreachable" (from July) | cleanup.unreachable_share |
| B07 | … with evidence missing | cleanup.evidence_compliance |
| B08 | OBPS collection far behind the straight path | obps.collection_rate |
| B02 | old customers rarely buy again | customers.repeat_purchase_rate |

Fewer branches map the plants onto the branches there are (branch index modulo count).
Agents' own policies (self-insured) are planted everywhere and must be excluded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kpitool.data.schema import DATASETS
from kpitool.errors import UsageError
from kpitool.output import atomic_path
from kpitool.sample.facts import Facts, Plants, monthly_counter_visits
from kpitool.sample.policy_ledger import parquet_chunks

__all__ = ["VOLUMES", "SampleSummary", "generate_sample_data", "write_counter_visits"]

_COUNTIES = [
    "营业一部",
    "丰县支公司",
    "沛县支公司",
    "睢宁支公司",
    "邳州支公司",
    "新沂支公司",
    "铜山支公司",
    "贾汪支公司",
    "泉山支公司",
    "鼓楼支公司",
    "云龙支公司",
    "九里支公司",
]
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红文辉力")
_CSV = {
    "branches",
    "counters",
    "staff",
    "key_lists",
    "targets",
    "benchmarks",
    "calendar",
    "callbacks",
    "complaints",
    "appraisals",
}
_FACTS_CSV = {"callbacks", "complaints", "appraisals"}
# The datasets whose volume `generate_sample_data(volumes=...)` can change on its own.
VOLUMES = (
    "counter_visits",
    "policies",
    "claims",
    "callbacks",
    "complaints",
    "lapse_cleanup",
    "customer_info",
)


@dataclass(frozen=True)
class SampleSummary:
    """What was written: rows per dataset and the files."""

    out: Path
    rows: dict[str, int]
    files: list[Path]


def _names(rng: np.random.Generator, n: int) -> list[str]:
    surnames = rng.choice(_SURNAMES, n)
    first = rng.choice(_GIVEN, n)
    second = rng.choice(["", *_GIVEN], n)
    return [f"{a}{b}{c}" for a, b, c in zip(surnames, first, second, strict=True)]


def _phones(rng: np.random.Generator, n: int, prefix: str = "13") -> list[str]:
    numbers = rng.choice(10**9, size=n, replace=False)
    return [f"{prefix}{x:09d}" for x in numbers]


def _branches(n_branches: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """branches and counters (no randomness)."""
    ids = [f"B{i + 1:02d}" for i in range(n_branches)]
    names = ["市区营业部", *(_COUNTIES[(i - 1) % len(_COUNTIES)] for i in range(1, n_branches))]
    branches = pl.DataFrame(
        {
            "branch_id": ids,
            "branch_name": names,
            "parent_id": [None, *(["B01"] * (n_branches - 1))],
            "level": ["city", *(["county"] * (n_branches - 1))],
        }
    )
    counters = pl.DataFrame(
        [
            {
                "counter_id": f"C{b[1:]}{k + 1:02d}",
                "branch_id": b,
                "counter_name": f"{name}{'一二三'[k]}号柜面",
            }
            for b, name in zip(ids, names, strict=True)
            for k in range(3 if b == "B01" else 2)
        ]
    )
    return branches, counters


def _reference(
    rng: np.random.Generator,
    n_branches: int,
    year: int,
) -> dict[str, pl.DataFrame]:
    branches, counters = _branches(n_branches)
    ids = branches["branch_id"].to_list()
    per_branch = 40
    agent_branch = np.repeat(ids, per_branch)
    n_agents = len(agent_branch)
    agents = pl.DataFrame(
        {
            "agent_id": [f"A{i + 1:05d}" for i in range(n_agents)],
            "branch_id": agent_branch,
            "channel": rng.choice(
                ["individual", "bancassurance", "group", "other"],
                n_agents,
                p=[0.6, 0.25, 0.1, 0.05],
            ),
            "name": _names(rng, n_agents),
            "phone": _phones(rng, n_agents, "139"),
            "person_id": [
                f"3203{rng.integers(1960, 1995)}{rng.integers(10**7, 10**8)}"
                for _ in range(n_agents)
            ],
            "status": rng.choice(["active", "left"], n_agents, p=[0.9, 0.1]),
        }
    )
    staff_branch = np.repeat(ids, 8)
    staff = pl.DataFrame(
        {
            "employee_id": [f"E{i + 1:04d}" for i in range(len(staff_branch))],
            "branch_id": staff_branch,
            "role": rng.choice(["柜面", "理赔", "回访", "保全"], len(staff_branch)),
        }
    )
    key_agents = (
        agents.filter(pl.col("channel") == "individual")["agent_id"]
        .sample(2, seed=int(rng.integers(1 << 31)))
        .sort()
        .to_list()
    )
    key_lists = pl.DataFrame(
        {"list": ["key_agents", "key_agents", "key_branches"], "key": [*key_agents, ids[-1]]}
    )
    return {
        "branches": branches,
        "counters": counters,
        "agents": agents,
        "staff": staff,
        "key_lists": key_lists,
        "calendar": _calendar(year),
    }


def _calendar(year: int) -> pl.DataFrame:
    """Two years of days; weekends off, main Chinese holidays off, make-up Saturdays on."""
    holidays = {
        (1, 1),
        (1, 2),
        (5, 1),
        (10, 1),
        (10, 2),
        (10, 3),
        (10, 4),
        (10, 5),
        (10, 6),
        (10, 7),
        (2, 18),
        (2, 19),
        (2, 20),
        (2, 23),
        (2, 24),
        (4, 6),
        (6, 22),
        (9, 28),
    }
    days = pl.date_range(dt.date(year - 1, 1, 1), dt.date(year, 12, 31), eager=True)
    workday = [
        (d.weekday() < 5 and (d.month, d.day) not in holidays)
        or (d.weekday() == 5 and (d.month, d.day) in {(2, 15), (2, 28), (10, 10)})
        for d in days.to_list()
    ]
    return pl.DataFrame({"date": days, "is_workday": workday})


def _targets(year: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    end, mid = dt.date(year, 12, 31), dt.date(year, 6, 30)
    targets = pl.DataFrame(
        {
            "rule_id": [
                "cleanup.completion_rate",
                "cleanup.phone_call_rate",
                "obps.collection_rate",
                "obps.collection_rate",
                "cards.autodebit_renewal_rate",
                "cards.manual_share",
                "renewal.collection_rate",
                "renewal.collection_rate",
            ],
            "branch_id": [None, None, None, None, None, None, None, "B01"],
            "period_end": [mid, mid, mid, end, end, end, end, end],
            "target": [1.0, 0.80, 0.50, 0.80, 0.40, 0.30, 0.90, 0.92],
        },
        schema_overrides={"branch_id": pl.String},
    )
    # Provincial averages: loss ratios for the year; repeat purchase grows through the year
    # (2.2 % by 31 March in the work plan), so it has a row per month.
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    benchmarks = pl.DataFrame(
        {
            "rule_id": [
                "shortterm.simple_loss_ratio",
                "shortterm.comprehensive_loss_ratio",
                *(["customers.repeat_purchase_rate"] * 12),
            ],
            "period": [str(year), str(year), *months],
            "value": [0.62, 0.68, *(round(0.0073 * m, 4) for m in range(1, 13))],
        }
    )
    return targets, benchmarks


def _canonical(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(DATASETS[name].column_names).cast(DATASETS[name].polars_schema)  # type: ignore[arg-type]


def _write(
    out: Path, name: str, frame: pl.DataFrame, files: list[Path], csv: set[str] = _CSV
) -> None:
    frame = _canonical(name, frame)
    if name == "counter_visits":
        folder = out / name
        month = pl.col("arrived_at").dt.strftime("%Y-%m")
        for (key,), part in sorted(
            frame.with_columns(month.alias("__m")).partition_by("__m", as_dict=True).items()
        ):
            target = folder / f"{key}.parquet"
            with atomic_path(target) as tmp:
                part.drop("__m").write_parquet(tmp, statistics=True)
            files.append(target)
        return
    if name in csv:
        target = out / f"{name}.csv"
        text = frame.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S"))
        with atomic_path(target) as tmp:
            text.write_csv(tmp)
    else:
        target = out / f"{name}.parquet"
        with atomic_path(target) as tmp:
            frame.write_parquet(tmp, statistics=True)
    files.append(target)


def _check(branches: int, year: int, scale: float, volumes: Mapping[str, float]) -> None:
    if branches < 2:
        raise UsageError("--branches must be at least 2 (a city branch and a county)")
    if not 0 < scale <= 10_000:
        raise UsageError("--scale must be greater than 0 (and at most 10000)")
    if not 2000 <= year <= 2100:
        raise UsageError("--year must be between 2000 and 2100")
    for name, volume in volumes.items():
        if name not in VOLUMES:
            raise UsageError(f"volumes: {name!r} is not one of {', '.join(sorted(VOLUMES))}")
        if not 0 < volume <= (1 if name == "callbacks" else 10_000):
            raise UsageError(f"volumes: {name} must be greater than 0 (callbacks at most 1)")


def generate_sample_data(
    out: Path | str,
    *,
    seed: int = 7,
    branches: int = 8,
    year: int = 2015,
    scale: float = 1.0,
    volumes: Mapping[str, float] | None = None,
    chunked: bool = False,
) -> SampleSummary:
    """Write all 18 datasets of datasets.md for `year - 1` and `year` into `out`.

    The same arguments always give the same files. `scale` multiplies the fact volumes;
    `volumes` multiplies one dataset's further (`VOLUMES`; callbacks: the share of new
    policies called back). `chunked` is the layout for data too big to hold in memory
    (benchmarks): every fact in Parquet, written as soon as it is built, the big ones a
    chunk at a time with their own random streams (so they differ from the in-memory
    path's), counter visits a month at a time (`write_counter_visits`); no raw exports.
    """
    volumes = dict(volumes or {})
    _check(branches, year, scale, volumes)
    out = Path(out)
    rng = np.random.default_rng(seed)
    frames = _reference(rng, branches, year)
    frames["targets"], frames["benchmarks"] = _targets(year)
    facts = Facts(rng, frames, year, scale, Plants.for_branches(branches), volumes)
    if not chunked:
        frames.update(facts.all())
    files: list[Path] = []
    rows = {name: frame.height for name, frame in frames.items() if name in DATASETS}
    for name in DATASETS:
        if name in frames:
            _write(out, name, frames[name], files, _CSV - _FACTS_CSV if chunked else _CSV)
    if chunked:
        rows |= _write_chunked_facts(out, facts, seed, files)
        visits = write_counter_visits(
            out,
            seed=seed,
            branches=branches,
            year=year,
            scale=scale * volumes.get("counter_visits", 1.0),
        )
        files += visits.files
        rows["counter_visits"] = visits.rows["counter_visits"]
    else:
        from kpitool.sample.raw import write_raw_exports

        files += write_raw_exports(out / "raw", frames["branches"], frames["claims"])
    return SampleSummary(out, {name: rows[name] for name in DATASETS}, files)


def _write_chunked_facts(out: Path, facts: Facts, seed: int, files: list[Path]) -> dict[str, int]:
    """The facts but counter visits, each written as soon as it is built and then freed:
    the policy-based ones a chunk at a time (kpitool.sample_policy_facts)."""
    from kpitool.sample.policy_facts import write_policy_facts

    rows = write_policy_facts(out, facts, seed)
    files += [out / f"{name}.parquet" for name in rows]
    makers = {
        "complaints": facts.complaints,
        "inspections": facts.inspections,
        "appraisals": facts.appraisals,
        "customer_info": facts.customer_info,
    }
    for name, make in makers.items():
        frame = make()
        rows[name] = frame.height
        _write(out, name, frame, files, set())
        del frame
    return rows


def write_counter_visits(
    out: Path | str, *, seed: int = 7, branches: int = 8, year: int = 2015, scale: float = 1.0
) -> SampleSummary:
    """Write only counter_visits/YYYY-MM.parquet, a month at a time (bounded memory).

    What `generate_sample_data(..., chunked=True)` writes for the same arguments (with its
    counter_visits volume folded into `scale`), so a bigger visit volume can be written
    beside the other datasets of a smaller set.
    """
    _check(branches, year, scale, {})
    out = Path(out)
    counters = _branches(branches)[1]
    plants = Plants.for_branches(branches)
    per_day = max(1, round(10 * scale))
    files: list[Path] = []
    total = 0
    for key, blocks in monthly_counter_visits(
        seed, counters, _calendar(year), per_day, f"C{plants.slow_counter[1:]}01"
    ):
        target = out / "counter_visits" / f"{key}.parquet"
        with parquet_chunks(target, "counter_visits") as sink:
            for frame in blocks:
                sink.write(frame)
        files.append(target)
        total += sink.rows
    return SampleSummary(out, {"counter_visits": total}, files)
