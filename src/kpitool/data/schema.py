"""The canonical datasets of ../shared/spec/datasets.md: names, columns, types, keys, references.

Everything downstream (loaders, `data check`, rules, the sample generator) reads this one table,
so a column is described exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = [
    "DATASETS",
    "GRAIN_COLUMNS",
    "LOCAL_TIME_ZONE",
    "Column",
    "ColumnType",
    "Dataset",
    "dataset",
    "polars_type",
]

GRAIN_COLUMNS: dict[str, str] = {
    "branch": "branch_id",
    "counter": "counter_id",
    "channel": "channel",
    "agent": "agent_id",
    "investigator": "investigator_id",
}
"""The column each reporting grain groups by."""

LOCAL_TIME_ZONE = "Asia/Shanghai"
"""Datetimes are local times without a zone (datasets.md); a Parquet column that carries a
zone is converted to this one, the insurer's, and the zone dropped."""

ColumnType = Literal["str", "int", "float", "bool", "date", "datetime"]

_POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}


def polars_type(column_type: ColumnType) -> pl.DataType:
    """The Polars dtype a canonical column is loaded as."""
    return _POLARS_TYPES[column_type]


@dataclass(frozen=True)
class Column:
    """One canonical column: type, nullability, allowed values, and the dataset its ids refer to."""

    name: str
    type: ColumnType = "str"
    nullable: bool = False
    values: tuple[str, ...] | None = None
    references: str | None = None
    bounds: tuple[float, float] | None = None
    """The smallest and largest valid value of a number (satisfaction 1-5, counts >= 0)."""
    unknown_ignored: bool = False
    """A reference to an unknown id is ignored by the rules (kpis.md): a warning, not an error."""


@dataclass(frozen=True)
class Dataset:
    """A canonical dataset: its columns, unique key and ordering constraints between columns."""

    name: str
    kind: Literal["reference", "fact"]
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str], ...] = field(default=())
    """Pairs (a, b) where a non-null b must not be earlier than a (e.g. arrived_at, called_at)."""
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: polars_type(c.type) for c in self.columns}


def _c(
    name: str,
    type_: ColumnType = "str",
    *,
    null: bool = False,
    values: tuple[str, ...] | None = None,
    ref: str | None = None,
    bounds: tuple[float, float] | None = None,
    ignored: bool = False,
) -> Column:
    return Column(name, type_, null, values, ref, bounds, ignored)


CHANNELS = ("individual", "bancassurance", "group", "other")
PRODUCT_LINES = ("long", "short")
_BRANCH = _c("branch_id", ref="branches")

_ALL: tuple[Dataset, ...] = (
    # Reference data
    Dataset(
        "branches",
        "reference",
        (
            _c("branch_id"),
            _c("branch_name"),
            _c("parent_id", null=True, ref="branches"),
            _c("level", values=("city", "county")),
        ),
        key=("branch_id",),
        description="机构: the units a report is made for",
    ),
    Dataset(
        "counters",
        "reference",
        (
            _c("counter_id"),
            _BRANCH,
            _c("counter_name"),
        ),
        key=("counter_id",),
        description="柜面: customer-service counters",
    ),
    Dataset(
        "agents",
        "reference",
        (
            _c("agent_id"),
            _BRANCH,
            _c("channel", values=CHANNELS),
            _c("name"),
            _c("phone"),
            _c("person_id"),
            _c("status", values=("active", "left")),
        ),
        key=("agent_id",),
        description="销售人员",
    ),
    Dataset(
        "staff",
        "reference",
        (
            _c("employee_id"),
            _BRANCH,
            _c("role"),
        ),
        key=("employee_id",),
        description="客服员工",
    ),
    Dataset(
        "key_lists",
        "reference",
        (
            _c("list", values=("key_agents", "key_branches")),
            _c("key"),
        ),
        key=("list", "key"),
        description="重点业务员 / 重点地区",
    ),
    Dataset(
        "targets",
        "reference",
        (
            _c("rule_id"),
            _c("branch_id", null=True, ref="branches"),
            _c("period_end", "date"),
            _c("target", "float"),
        ),
        key=("rule_id", "branch_id", "period_end"),
        description="per-branch and dated targets",
    ),
    Dataset(
        "benchmarks",
        "reference",
        (
            _c("rule_id"),
            _c("period"),
            _c("value", "float"),
        ),
        key=("rule_id", "period"),
        description="provincial reference values",
    ),
    Dataset(
        "calendar",
        "reference",
        (
            _c("date", "date"),
            _c("is_workday", "bool"),
        ),
        key=("date",),
        description="holiday calendar",
    ),
    # Facts
    Dataset(
        "counter_visits",
        "fact",
        (
            _c("ticket_id"),
            _c("counter_id", ref="counters"),
            _BRANCH,
            _c("arrived_at", "datetime"),
            _c("called_at", "datetime"),
            _c("finished_at", "datetime"),
            _c("satisfaction", "int", null=True, bounds=(1, 5)),
        ),
        key=("ticket_id",),
        ordered=(("arrived_at", "called_at"), ("called_at", "finished_at")),
        description="柜面排队叫号",
    ),
    Dataset(
        "policies",
        "fact",
        (
            _c("policy_id"),
            _BRANCH,
            _c("channel", values=CHANNELS),
            _c("agent_id", null=True, ref="agents"),
            _c("policyholder_id"),
            _c("product_line", values=PRODUCT_LINES),
            _c("is_group", "bool"),
            _c("is_manual_card", "bool", null=True),
            _c("applied_at", "date"),
            _c("issued_at", "date", null=True),
            _c("premium", "float"),
            _c("status", values=("in_force", "lapsed", "surrendered", "terminated")),
            _c("status_date", "date", null=True),
        ),
        key=("policy_id",),
        ordered=(("applied_at", "issued_at"),),
        description="保单",
    ),
    Dataset(
        "claims",
        "fact",
        (
            _c("claim_id"),
            _c("policy_id", ref="policies"),
            _BRANCH,
            _c("channel", values=CHANNELS),
            _c("agent_id", null=True, ref="agents"),
            _c("product_line", values=PRODUCT_LINES),
            _c("claim_type", values=("medical", "accident", "death", "critical_illness", "other")),
            _c("incident_date", "date"),
            _c("reported_at", "date"),
            _c("closed_at", "date", null=True),
            _c("claimed_amount", "float"),
            _c("paid_amount", "float", null=True),
            _c("expense_amount", "float", null=True),
            _c("investigated", "bool"),
            _c("investigation_positive", "bool", null=True),
            _c("investigator_id", null=True),
        ),
        key=("claim_id",),
        ordered=(("incident_date", "reported_at"), ("reported_at", "closed_at")),
        description="理赔",
    ),
    Dataset(
        "callbacks",
        "fact",
        (
            _c("callback_id"),
            _c("policy_id", ref="policies"),
            _BRANCH,
            _c("channel", values=CHANNELS),
            _c("agent_id", null=True, ref="agents"),
            _c("called_at", "datetime"),
            _c("phone"),
            _c("success", "bool"),
        ),
        key=("callback_id",),
        description="新单回访",
    ),
    Dataset(
        "complaints",
        "fact",
        (
            _c("complaint_id"),
            _BRANCH,
            _c("channel", null=True, values=CHANNELS),
            _c("source", values=("regulator", "hotline", "counter", "other")),
            _c("received_at", "datetime"),
            _c("due_at", "datetime"),
            _c("closed_at", "datetime", null=True),
            _c("registered", "bool"),
            _c("flow_recorded", "bool"),
            _c("documents_kept", "bool"),
        ),
        key=("complaint_id",),
        ordered=(("received_at", "due_at"), ("received_at", "closed_at")),
        description="投诉",
    ),
    Dataset(
        "inspections",
        "fact",
        (
            _c("inspection_id"),
            _c("counter_id", ref="counters", ignored=True),
            _c("inspected_on", "date"),
            _c("findings", "int", bounds=(0, float("inf"))),
            _c("recheck_done", "bool", null=True),
        ),
        key=("inspection_id",),
        description="柜面突击检查",
    ),
    Dataset(
        "appraisals",
        "fact",
        (
            _c("employee_id", ref="staff", ignored=True),
            _c("period"),
            _c("appraised", "bool"),
        ),
        description="绩效考核",
    ),
    Dataset(
        "renewals",
        "fact",
        (
            _c("policy_id", ref="policies"),
            _BRANCH,
            _c("channel", values=CHANNELS),
            _c("agent_id", null=True, ref="agents"),
            _c("due_date", "date"),
            _c("premium_due", "float"),
            _c("paid_at", "date", null=True),
            _c("premium_paid", "float", null=True),
            _c("autodebit", "bool"),
        ),
        key=("policy_id", "due_date"),
        description="续期",
    ),
    Dataset(
        "lapse_cleanup",
        "fact",
        (
            _c("task_id"),
            _c("policy_id", ref="policies"),
            _BRANCH,
            _c("channel", values=CHANNELS),
            _c("lapse_years", "int", bounds=(0, float("inf"))),
            _c("phone_called_at", "date", null=True),
            _c("visited_at", "date", null=True),
            _c("completed_at", "date", null=True),
            _c(
                "outcome",
                null=True,
                values=(
                    "met_policyholder",
                    "phone_confirmed",
                    "unreachable",
                    "reinstated",
                    "surrendered",
                    "other",
                ),
            ),
            _c(
                "visited_person",
                null=True,
                values=("policyholder", "relative", "neighbour", "other"),
            ),
            _c("has_photo", "bool"),
            _c("has_signature", "bool"),
            _c("has_recording", "bool"),
            _c("has_policy_no", "bool"),
        ),
        key=("task_id",),
        description="失效保单清理",
    ),
    Dataset(
        "customer_info",
        "fact",
        (
            _c("customer_id"),
            _BRANCH,
            _c("in_scope", "bool"),
            _c("collected_at", "date", null=True),
        ),
        key=("customer_id",),
        description="OBPS客户信息收集",
    ),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in _ALL}


def dataset(name: str) -> Dataset:
    """The canonical dataset called `name` (KeyError names the known ones)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
