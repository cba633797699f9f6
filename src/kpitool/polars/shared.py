"""Shared plans: the rules that read the same rows are measured together, in one scan.

Rules on one dataset with the same lookups, columns and period share a plan, each rule's
`where` becoming a mask inside the sums rather than a filter. Every figure here is a sum of
row terms (count, sum, share, detection, ratio, rate, mean, coverage), so rows are summed
once per month and finest grain (branch, counter …) and each scope adds those small sums
up. When no expression reads a period parameter, rows are summed per calendar month and a
quarter, year-to-date, as-of or 24-month window adds up its months' sums: no row is repeated
for every month it counts in. A rule counting distinct values is not a sum of row terms;
`kpitool.polars.engine` measures those one by one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from kpitool.data.schema import GRAIN_COLUMNS
from kpitool.measure.periods import Month
from kpitool.polars.population import (
    MONTH_INDEX,
    PERIOD,
    Context,
    Missing,
    bucketable,
    denominator_rule,
    join_months,
    monthly_rows,
    population,
    uses_parameters,
)
from kpitool.rules.model import Rule

__all__ = ["SharedPlans", "shareable"]

ROWS = "__rows"
MEASURED = (PERIOD, "scope", "scope_id", "numerator", "denominator")
_SCHEMA = pl.Schema(
    [*((name, pl.String) for name in MEASURED[:3]), *((n, pl.Float64) for n in MEASURED[3:])]
)
Figure = tuple[str, str | None]
"""How a row adds to a figure: ("rows", None) counts it, ("sum", x) adds x, ("true", c)
counts it when c holds, ("known", x) counts it when x is not null."""


def shareable(rule: Rule) -> bool:
    """Whether a rule's figures are sums of row terms (of its rows or its entities), so it
    can share a plan."""
    m = rule.measure
    return not (m.kind == "count_distinct" and m.of is not None)


def _figures(rule: Rule) -> dict[str, Figure]:
    """Numerator and denominator as row terms: the figures `engine._aggregates` computes."""
    m = rule.measure
    rows: Figure = ("rows", None)
    if m.kind == "mean" and m.of:
        return {"numerator": ("sum", m.of), "denominator": ("known", m.of)}
    if (m.kind == "sum" and m.of) or m.kind in ("ratio", "rate"):
        return {"numerator": ("sum", m.of) if m.of else rows, "denominator": rows}
    if m.kind == "coverage":
        return {"numerator": ("sum", "covered"), "denominator": rows}
    return {"numerator": ("true", m.condition) if m.condition else rows, "denominator": rows}


@dataclass(frozen=True)
class _Part:
    """A rule's figures, or a ratio's denominator counted on rows of its own."""

    name: str
    rule: Rule
    owner: Rule
    """The evaluated rule (whose population decides the scopes for a denominator too)."""
    figures: dict[str, Figure]
    months: tuple[Month, ...]

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
        texts = [rule.where, *rule.columns.values(), *(t for _, t in self.figures.values())]
        texts += [text for lookup in rule.lookups for text in (lookup.where, lookup.match)]
        return (
            rule.period is not None
            and rule.entities is None
            and not rule.window_columns
            and rule.measure.kind != "coverage"
            and not any(uses_parameters(text) for text in texts if text)
        )

    def key(self) -> str:
        """Parts with the same key read the same rows (before their own `where`)."""
        shared = {"dataset", "lookups", "columns", "period", "deadline", "window_columns"}
        shared.add("entities")
        if not self.masked:
            shared.add("where")
        dump = self.rule.model_dump(include=shared, mode="json")
        facts = self.rule.measure.facts if self.rule.measure.kind == "coverage" else None
        dump["facts"] = facts.model_dump(mode="json") if facts is not None else None
        dump["monthly"] = self.monthly
        return json.dumps(dump, sort_keys=True)

    def sums(self, ctx: Context) -> list[pl.Expr]:
        """The part's figures and its row count, summed over the rows its `where` keeps."""
        where = self.rule.where if self.masked else None
        mask = ctx.compile(where).fill_null(False) if where else None
        sums = []
        for name, (how, text) in {**self.figures, ROWS: ("rows", None)}.items():
            if text is None:
                summed = mask.sum() if mask is not None else pl.len()
            else:
                term = ctx.compile(text)
                if how == "true":
                    term = term.fill_null(False)
                elif how == "known":
                    term = term.is_not_null()
                summed = (pl.when(mask).then(term) if mask is not None else term).sum()
            sums.append(summed.alias(f"{self.name}:{name}"))
        return sums


@dataclass
class _Group:
    """Parts reading the same rows, the rows themselves and each part's sums."""

    parts: list[_Part]
    frames: list[pl.LazyFrame] = field(default_factory=list)
    sums: dict[str, list[pl.Expr]] = field(default_factory=dict)
    scopes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def grains(self) -> list[str]:
        """The grain columns of every part's scopes (company needs none)."""
        return sorted({GRAIN_COLUMNS[s] for v in self.scopes.values() for s in v if s != "company"})

    @property
    def months(self) -> list[Month]:
        return sorted({m for part in self.parts for m in part.months})


class SharedPlans:
    """The shareable rules of one evaluation, grouped by the rows they read."""

    def __init__(
        self, ctx: Context, scopes: Callable[[Rule, set[str]], list[str]], buckets: int = 1
    ) -> None:
        self.ctx = ctx
        self.scopes = scopes
        self.buckets = buckets
        self.groups: dict[str, _Group] = {}
        self.months: dict[str, list[str]] = {}
        self.built: list[_Group] = []

    def add(self, rule: Rule, months: Sequence[Month]) -> None:
        self.months[rule.id] = [str(m) for m in months]
        parts = [_Part(rule.id, rule, rule, _figures(rule), tuple(months))]
        denominator = rule.measure.denominator
        if denominator is not None:
            of: Figure = ("sum", denominator.of) if denominator.of else ("rows", None)
            den = denominator_rule(rule)
            parts.append(_Part(f"{rule.id}/", den, rule, {"numerator": of}, tuple(months)))
        for part in parts:
            self.groups.setdefault(part.key(), _Group([])).parts.append(part)

    def build(self) -> tuple[list[list[pl.LazyFrame]], list[list[Rule]], list[Rule]]:
        """The plans of each group (its finest-grain sums) with the rules it measures, and the
        rules left out because something they read is missing (measured alone, to say which).

        A group has one plan, or with entities one per bucket of keys (`buckets`): collected
        one after another, each holds a share of the entities' hash table, and their sums,
        stacked, are the group's (`measured` adds them up)."""
        failed: dict[str, Rule] = {}
        columns: dict[str, set[str]] = {}
        for group in self.groups.values():
            base = group.parts[0]
            ctx = self.ctx.with_months(group.months)
            rule = base.rule.model_copy(update={"where": None}) if base.masked else base.rule
            contexts = [ctx]
            if self.buckets > 1 and all(bucketable(p.rule) for p in group.parts):
                contexts = [ctx.with_bucket(i, self.buckets) for i in range(self.buckets)]
            try:
                group.frames = [
                    monthly_rows(rule, c) if base.monthly else population(rule, c) for c in contexts
                ]
                names = set(group.frames[0].collect_schema().names())
                for part in group.parts:
                    columns.setdefault(part.name, names)
                    group.sums[part.name] = part.sums(ctx)
            except Missing:
                failed.update({p.owner.id: p.owner for p in group.parts})
        plans, members = [], []
        for group in self.groups.values():
            group.parts = [p for p in group.parts if p.owner.id not in failed]
            if group.parts:
                group.scopes = {
                    p.name: self.scopes(p.owner, columns[p.owner.id]) for p in group.parts
                }
                plans.append([self._plan(group, frame) for frame in group.frames])
                members.append(list({p.owner.id: p.owner for p in group.parts}.values()))
        self.built = [g for g in self.groups.values() if g.parts]
        return plans, members, list(failed.values())

    def _plan(self, group: _Group, frame: pl.LazyFrame) -> pl.LazyFrame:
        """The parts' sums per month and finest grain: one scan and one group-by (the scopes
        are added up from these few rows after collecting, so nothing reads the rows twice)."""
        base = group.parts[0]
        sums = [s for part in group.parts for s in group.sums[part.name]]
        keys = [MONTH_INDEX if base.monthly else PERIOD, *group.grains]
        partial = frame.group_by(keys).agg(sums)
        if base.monthly:
            assert base.rule.period is not None
            names = [str(s.meta.output_name()) for s in sums]
            joined = join_months(partial, base.rule.period.window, group.months)
            partial = joined.group_by(PERIOD, *group.grains).agg(pl.col(names).sum())
        return partial

    def measured(
        self, rules: Sequence[Rule], frames: Sequence[Sequence[pl.DataFrame]]
    ) -> dict[str, pl.DataFrame]:
        """Each rule's (__period, scope, scope_id, numerator, denominator) from the collected
        sums (each group's plans' frames, as `build` gave the plans), for its own months; a
        ratio's numerator and denominator rows are matched by period and scope id."""
        found: dict[str, pl.DataFrame] = {}
        for group, pieces in zip(self.built, frames, strict=True):
            frame = pl.concat(pieces, how="vertical_relaxed")
            for part in group.parts:
                found[part.name] = _rolled_up(frame, part, group.scopes[part.name])
        out = {}
        for rule in rules:
            rows = found[rule.id]
            if rule.measure.denominator is not None:
                den = found[f"{rule.id}/"].select(
                    PERIOD, "scope", "scope_id", pl.col("numerator").alias("denominator")
                )
                rows = rows.drop("denominator").join(
                    den, on=[PERIOD, "scope", "scope_id"], how="full", coalesce=True
                )
                rows = rows.with_columns(pl.col("numerator").fill_null(0.0))
            rows = rows.filter(pl.col(PERIOD).is_in(self.months[rule.id]))
            out[rule.id] = rows.select(MEASURED)
        return out


def _rolled_up(sums: pl.DataFrame, part: _Part, scopes: list[str]) -> pl.DataFrame:
    """A part's figures for each of its scopes' ids, added up from the finest-grain sums;
    ids without any row of the part's are left out, as a filtered group-by leaves them."""
    wanted = [f"{part.name}:{name}" for name in (*part.figures, ROWS)]
    figures = [
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
                PERIOD, pl.lit(scope).alias("scope"), scope_id.alias("scope_id"), *figures
            )
        )
    return pl.concat(out) if out else pl.DataFrame(schema=_SCHEMA)
