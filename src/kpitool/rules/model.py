"""KPI rules as data: YAML files of rules, validated on load into typed models.

A rules directory holds one YAML file per section of the work plan, each
`{section, title, rules: [...]}`. Every rule has a stable id; its population, measure and
target are declared (expressions are SQL snippets, see `kpitool.rules.expressions`), never coded.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kpitool.errors import RuleError

__all__ = [
    "Exceptions",
    "Lookup",
    "Measure",
    "Part",
    "PeriodSpec",
    "Rule",
    "RuleSet",
    "Target",
    "Title",
    "WindowKind",
]

WindowKind = Literal["month", "quarter", "ytd", "asof", "rolling_24m"]
"""Which dates of the evaluated period a rule's rows are counted in."""
Scope = Literal["company", "branch", "counter", "channel", "agent", "investigator"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(_Model):
    """A label in both report languages."""

    zh: str
    en: str


class PeriodSpec(_Model):
    """Which date puts a row in a period, and which window of the evaluated month counts."""

    date: str
    window: WindowKind = "month"


class Lookup(_Model):
    """A declared join to another dataset: copy columns, or flag rows that have a match.

    `by` maps this dataset's columns to the other's (a single name when both agree); `where`
    filters the other dataset (its own column names); `match` is a condition on each pair,
    naming the other dataset's columns as `lookup.<column>`.
    """

    dataset: str
    by: str | dict[str, str]
    columns: dict[str, str] = Field(default_factory=dict)
    exists: str | None = None
    where: str | None = None
    match: str | None = None

    @property
    def keys(self) -> dict[str, str]:
        return {self.by: self.by} if isinstance(self.by, str) else dict(self.by)


class Part(_Model):
    """A population of its own: the denominator of a ratio or the facts of a coverage."""

    dataset: str | None = None
    key: str | None = None
    period: PeriodSpec | None = None
    where: str | None = None
    of: str | None = None


class Entities(_Model):
    """Aggregate rows into one row per entity (policyholder, investigator) before measuring."""

    key: str
    columns: dict[str, str]
    where: str | None = None


class Measure(_Model):
    """What is computed on the population of a scope."""

    kind: Literal[
        "mean",
        "sum",
        "count",
        "share",
        "ratio",
        "rate",
        "coverage",
        "count_distinct",
        "detection",
    ]
    of: str | None = None
    condition: str | None = None
    denominator: Part | None = None
    facts: Part | None = None
    per: float = 1.0


class BenchmarkTarget(_Model):
    """Target = the benchmarks dataset's value for the rule (month row, else year) + offset."""

    offset: float = 0.0


class PriorTarget(_Model):
    """Target from the same rule's value in an earlier period."""

    period: Literal["same_month_last_year", "previous_month"] = "same_month_last_year"
    scope: Literal["company", "same"] = "same"
    factor: float = 1.0


class Target(_Model):
    """A rule's default target; a targets-file row for the rule overrides it."""

    op: Literal["<=", ">=", "="]
    value: float | None = None
    warn: float | None = Field(default=None, ge=0)
    benchmark: BenchmarkTarget | None = None
    prior: PriorTarget | None = None
    milestone: bool = False


class Exceptions(_Model):
    """The rows listed as exceptions: population rows matching `where` (default: the
    detection condition), or, with `group_by`, groups whose `having` holds."""

    where: str | None = None
    show: list[str] = Field(default_factory=list)
    window: WindowKind | None = None
    group_by: list[str] | None = None
    having: str | None = None


class Drill(_Model):
    """The rows behind a missed figure a report lists: those matching `where` (default: the
    rows that make the figure miss), with the columns in `show` a manager acts on, in the
    order of `order`."""

    where: str | None = None
    show: list[str] = Field(default_factory=list)
    order: list[Annotated[str, Field(pattern=r"^-?[a-z_][a-z0-9_]*$")]] = Field(
        default_factory=list
    )
    """Columns the rows come in, `-column` for the largest first (default: the measure's
    amount, largest first, for sums; else the period's date, oldest first)."""


class Deadline(_Model):
    """A per-branch date taken from another rule's targets rows, as parameter :deadline."""

    rule: str


class Rule(_Model):
    """One KPI: population, measure, target and the scopes it is reported for."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    title: Title
    section: str = ""
    description: Title | None = None
    dataset: str
    lookups: list[Lookup] = Field(default_factory=list)
    columns: dict[str, str] = Field(default_factory=dict)
    period: PeriodSpec | None = None
    where: str | None = None
    entities: Entities | None = None
    window_columns: dict[str, str] = Field(default_factory=dict)
    measure: Measure
    unit: Literal["rate", "minutes", "count", "per_10k", "ratio"] = "rate"
    target: Target | None = None
    scopes: list[Literal["company", "branch"]] = Field(
        default_factory=lambda: ["company", "branch"]  # type: ignore[arg-type]
    )
    grains: list[Literal["counter", "channel", "agent", "investigator"]] = Field(
        default_factory=list
    )
    min_population: int | None = Field(default=None, ge=1)
    deadline: Deadline | None = None
    exceptions: Exceptions | None = None
    drill: Drill | None = None

    @property
    def detection(self) -> bool:
        """Whether the rule lists exception rows."""
        return self.exceptions is not None or self.measure.kind == "detection"

    @property
    def better(self) -> Literal["higher", "lower"] | None:
        """Which direction is good, for ranks and arrows."""
        if self.target is None:
            return "lower" if self.measure.kind == "detection" else None
        return "lower" if self.target.op == "<=" else "higher"

    @property
    def window(self) -> WindowKind:
        return self.period.window if self.period else "asof"

    def expressions(self) -> dict[str, str]:
        """Every SQL snippet of the rule, keyed by where it sits (for validation messages)."""
        found: dict[str, str] = {}

        def add(key: str, value: str | None) -> None:
            if value is not None:
                found[key] = value

        for i, lookup in enumerate(self.lookups):
            add(f"lookups[{i}].where", lookup.where)
            add(f"lookups[{i}].match", lookup.match)
        for name, text in self.columns.items():
            add(f"columns.{name}", text)
        add("where", self.where)
        if self.entities:
            for name, text in self.entities.columns.items():
                add(f"entities.columns.{name}", text)
            add("entities.where", self.entities.where)
        for name, text in self.window_columns.items():
            add(f"window_columns.{name}", text)
        add("measure.of", self.measure.of)
        add("measure.condition", self.measure.condition)
        for part_name in ("denominator", "facts"):
            part = getattr(self.measure, part_name)
            if part is not None:
                add(f"measure.{part_name}.where", part.where)
                add(f"measure.{part_name}.of", part.of)
        if self.exceptions:
            add("exceptions.where", self.exceptions.where)
            add("exceptions.having", self.exceptions.having)
        return found


class RuleSet:
    """The rules of a directory, in file order, with a version hash of their text."""

    def __init__(
        self, rules: list[Rule], sections: dict[str, Title], digest: str, files: list[Path]
    ) -> None:
        self.rules = rules
        self.sections = sections
        self.version = digest[:12]
        self.files = files
        self._by_id = {rule.id: rule for rule in rules}
        self.section_of: dict[str, str] = {}
        """rule id -> the key in `sections` of the file (section of the work plan) it is in."""

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    @cached_property
    def ids(self) -> list[str]:
        return [rule.id for rule in self.rules]

    def get(self, rule_id: str) -> Rule:
        """The rule `rule_id`; RuleError names close matches when there is none."""
        try:
            return self._by_id[rule_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(rule_id, self.ids, n=3)
            hint = (
                f" (did you mean {', '.join(close)}?)"
                if close
                else f" (known: {', '.join(self.ids)})"
            )
            raise RuleError(f"unknown rule id {rule_id!r}{hint}") from None

    def select(self, patterns: list[str] | None) -> list[Rule]:
        """Rules whose id equals a pattern or starts with a prefix ending in '.'."""
        if not patterns:
            return list(self.rules)
        chosen = [
            r
            for r in self.rules
            if any(r.id == p or (p.endswith(".") and r.id.startswith(p)) for p in patterns)
        ]
        for pattern in patterns:
            if not any(r.id == pattern or r.id.startswith(pattern) for r in chosen):
                self.get(pattern)  # raises with suggestions
        return chosen
