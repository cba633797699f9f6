"""What each measure kind computes, and the plans that measure many rules together.

Every figure but a distinct count is a sum of row terms (count, sum, share, detection,
ratio, rate, mean, coverage), so rules on one dataset with the same lookups, columns and
period share one `Summed` plan: one scan, each rule's `where` a mask inside the sums, summed
once per period and finest grain; each scope adds those small sums up (`rolled_up`). When no
expression reads a period parameter, rows are summed per calendar month and a window adds
up its months' sums. A distinct count is measured per scope (`Scoped`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from kpitool.data.schema import GRAIN_COLUMNS
from kpitool.plan.analysis import (
    bucketable,
    denominator_rule,
    entities_by_year,
    uses_parameters,
)
from kpitool.plan.periods import Period
from kpitool.plan.population import Source, monthly_rows, population
from kpitool.plan.steps import PERIOD, Part, Plan, Population, Scoped, Summed, Term
from kpitool.rules.model import Rule

__all__ = ["MEASURED", "ROWS", "Grouping", "figures", "scoped", "summable"]

ROWS = "__rows"
MEASURED = (PERIOD, "scope", "scope_id", "numerator", "denominator")
_SCHEMA = pl.Schema(
    [*((name, pl.String) for name in MEASURED[:3]), *((n, pl.Float64) for n in MEASURED[3:])]
)


def figures(rule: Rule) -> dict[str, Term]:
    """A rule's numerator and denominator as row terms; adding a measure kind is a case here."""
    m = rule.measure
    rows = Term("rows")
    if m.kind == "mean" and m.of:
        return {"numerator": Term("sum", m.of), "denominator": Term("known", m.of)}
    if (m.kind == "sum" and m.of) or m.kind in ("ratio", "rate"):
        return {"numerator": Term("sum", m.of) if m.of else rows, "denominator": rows}
    if m.kind == "coverage":
        return {"numerator": Term("true", "covered"), "denominator": rows}
    if m.kind == "count_distinct" and m.of:
        return {"numerator": Term("distinct", m.of, m.condition), "denominator": rows}
    return {"numerator": Term("true", m.condition) if m.condition else rows, "denominator": rows}


def summable(rule: Rule) -> bool:
    """Whether a rule's figures are sums of row terms, so it can share a `Summed` plan."""
    return all(term.how != "distinct" for term in figures(rule).values())


def _grain_pairs(scopes: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    return tuple((s, None if s == "company" else GRAIN_COLUMNS[s]) for s in scopes)


def scoped(rule: Rule, pop: Population, scopes: Sequence[str]) -> Scoped:
    """A rule measured per scope on its own population (its `where` already applied)."""
    return Scoped(pop, Part(rule.id, figures(rule)), _grain_pairs(scopes))


@dataclass(frozen=True)
class _Member:
    """A part of a group: a rule's figures, or a ratio's denominator counted on its own rows."""

    part: Part
    rule: Rule
    """The rule whose population the part reads (the denominator's own for a ratio)."""
    months: tuple[Period, ...]
    scopes: tuple[str, ...]

    @property
    def masked(self) -> bool:
        """Whether `where` masks the sums (window columns and entities see filtered rows:
        not then)."""
        return not self.rule.window_columns and self.rule.entities is None

    @property
    def monthly(self) -> bool:
        """Summable per calendar month: a dated population of rows (not entities) reading
        no period parameter."""
        rule = self.rule
        texts = [rule.where, *rule.columns.values()]
        texts += [t for term in self.part.figures.values() for t in (term.expr, term.where)]
        texts += [text for lookup in rule.lookups for text in (lookup.where, lookup.match)]
        return (
            rule.period is not None
            and all(m.is_calendar_month for m in self.months)
            and rule.entities is None
            and not rule.window_columns
            and rule.measure.kind != "coverage"
            and not any(uses_parameters(text) for text in texts if text)
        )

    def key(self, per_month: bool) -> str:
        """Members with the same key read the same rows (before their own `where`)."""
        shared = {"dataset", "lookups", "columns", "period", "deadline", "window_columns"}
        shared.add("entities")
        if not self.masked:
            shared.add("where")
        dump = self.rule.model_dump(include=shared, mode="json")
        facts = self.rule.measure.facts if self.rule.measure.kind == "coverage" else None
        dump["facts"] = facts.model_dump(mode="json") if facts is not None else None
        dump["monthly"] = self.monthly
        if per_month:
            dump["months"] = [str(m) for m in self.months]
        return json.dumps(dump, sort_keys=True)


def _per_month(rule: Rule) -> bool:
    """Entities grouped anew each month (not once a year)."""
    return rule.entities is not None and not entities_by_year(rule)


@dataclass
class _Group:
    members: list[_Member] = field(default_factory=list)

    @property
    def months(self) -> list[Period]:
        return sorted({m for member in self.members for m in member.months})

    @property
    def grains(self) -> tuple[str, ...]:
        """The grain columns of every member's scopes (company needs none)."""
        found = {GRAIN_COLUMNS[s] for m in self.members for s in m.scopes if s != "company"}
        return tuple(sorted(found))


class Grouping:
    """The summable rules of one evaluation grouped by the rows they read, as `Summed` plans
    (one per group, or with entities one per bucket of keys), and their rolled-up figures.

    `month_by_month` measures entities grouped anew each month one month at a time (one
    month's groups in memory, not every month's); `buckets` > 1 splits bucketable entities
    into that many disjoint sets of keys, measured one after another."""

    def __init__(self, source: Source, *, buckets: int = 1, month_by_month: bool = False) -> None:
        self.source = source
        self.buckets = buckets
        self.month_by_month = month_by_month
        self.groups: dict[str, _Group] = {}
        self.months: dict[str, list[str]] = {}
        self.plans: list[tuple[_Group, list[Summed]]] = []

    def add(
        self, rule: Rule, months: Sequence[Period], scopes: Sequence[str], den_scopes: Sequence[str]
    ) -> None:
        """A rule for `months`, reported for `scopes` (its denominator for `den_scopes`)."""
        self.months[rule.id] = [str(m) for m in months]
        split = self.month_by_month and _per_month(rule) and len(months) > 1
        chunks = [(m,) for m in months] if split else [tuple(months)]
        if entities_by_year(rule) and len({m.year_first_day for m in months}) > 1:
            split = True  # one year's entities per plan: a year and the same month last year
            years = sorted({m.year_first_day for m in months})
            chunks = [tuple(m for m in months if m.year_first_day == y) for y in years]
        members = [_Member(Part(rule.id, figures(rule)), rule, c, tuple(scopes)) for c in chunks]
        denominator = rule.measure.denominator
        if denominator is not None:
            term = Term("sum", denominator.of) if denominator.of else Term("rows")
            part = Part(f"{rule.id}/", {"numerator": term})
            members.append(_Member(part, denominator_rule(rule), tuple(months), tuple(den_scopes)))
        for member in members:
            self.groups.setdefault(member.key(split), _Group()).members.append(member)

    def build(self) -> list[list[Summed]]:
        """The plans of each group (a group's plans' frames add up to its sums)."""
        self.plans = []
        for group in self.groups.values():
            base = group.members[0]
            rule = base.rule.model_copy(update={"where": None}) if base.masked else base.rule
            buckets: list[tuple[int, int] | None] = [None]
            if self.buckets > 1 and all(bucketable(m.rule) for m in group.members):
                buckets = [(i, self.buckets) for i in range(self.buckets)]
            parts = tuple(
                Part(m.part.name, m.part.figures, m.rule.where if m.masked else None)
                for m in group.members
            )
            summed = []
            for bucket in buckets:
                if base.monthly:
                    pop = monthly_rows(rule, self.source, group.months)
                else:
                    pop = population(rule, self.source, group.months, bucket=bucket)
                window = rule.period.window if base.monthly and rule.period else None
                summed.append(Summed(pop, parts, group.grains, window))
            self.plans.append((group, summed))
        return [plans for _, plans in self.plans]

    def measured(self, frames: Sequence[Sequence[pl.DataFrame]]) -> dict[str, pl.DataFrame]:
        """Each rule's (__period, scope, scope_id, numerator, denominator) from the collected
        sums of `build`'s plans, for its own months; a ratio's numerator and denominator rows
        are matched by period and scope id."""
        found: dict[str, list[pl.DataFrame]] = {}
        for (group, _), pieces in zip(self.plans, frames, strict=True):
            frame = pl.concat(pieces, how="vertical_relaxed")
            for member in group.members:
                rows = rolled_up(frame, member.part, member.scopes)
                found.setdefault(member.part.name, []).append(rows)
        out = {}
        for rule_id, months in self.months.items():
            rows = pl.concat(found[rule_id], how="vertical_relaxed")
            if f"{rule_id}/" in found:
                rows = with_denominator(rows, pl.concat(found[f"{rule_id}/"]))
            out[rule_id] = rows.filter(pl.col(PERIOD).is_in(months)).select(MEASURED)
        return out


def with_denominator(rows: pl.DataFrame, den: pl.DataFrame) -> pl.DataFrame:
    """A rule's rows with the denominator measured apart (its `numerator` column)."""
    den = den.select(PERIOD, "scope", "scope_id", pl.col("numerator").alias("denominator"))
    joined = rows.drop("denominator").join(
        den, on=[PERIOD, "scope", "scope_id"], how="full", coalesce=True
    )
    return joined.with_columns(pl.col("numerator").fill_null(0.0)).select(MEASURED)


def rolled_up(sums: pl.DataFrame, part: Part, scopes: Sequence[str]) -> pl.DataFrame:
    """A part's figures for each of its scopes' ids, added up from the finest-grain sums;
    ids without any row of the part's are left out, as a filtered group-by leaves them."""
    wanted = [f"{part.name}:{name}" for name in (*part.figures, ROWS)]
    figures_ = [
        (
            pl.col(f"{part.name}:{name}").cast(pl.Float64)
            if name in part.figures
            else pl.lit(None, dtype=pl.Float64)
        ).alias(name)
        for name in ("numerator", "denominator")
    ]
    out = []
    for scope in scopes:
        if scope == "company":
            rolled = sums.group_by(PERIOD).agg(pl.col(wanted).sum())
            scope_id = pl.lit("ALL")
        else:
            column = GRAIN_COLUMNS[scope]
            known = sums.filter(pl.col(column).is_not_null())
            rolled = known.group_by(PERIOD, column).agg(pl.col(wanted).sum())
            scope_id = pl.col(column).cast(pl.String)
        out.append(
            rolled.filter(pl.col(f"{part.name}:{ROWS}") > 0).select(
                PERIOD, pl.lit(scope).alias("scope"), scope_id.alias("scope_id"), *figures_
            )
        )
    return pl.concat(out) if out else pl.DataFrame(schema=_SCHEMA)


def plan_datasets(plan: Plan) -> set[str]:
    """The datasets a plan reads (to name the file of a value that does not parse)."""
    return set(plan.population.datasets)
