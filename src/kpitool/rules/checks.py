"""Engine-neutral checks of a parsed rule: its datasets exist and every column an expression
reads is there at that stage of the pipeline (lookups, computed columns, entities …)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpitool.data.schema import DATASETS, GRAIN_COLUMNS
from kpitool.rules.expressions import parse_expression, referenced_columns

if TYPE_CHECKING:
    from kpitool.rules.model import Rule

__all__ = ["check_rule"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "mean": ("of",),
    "sum": ("of",),
    "share": ("condition",),
    "detection": ("condition",),
    "count_distinct": ("of",),
    "ratio": ("of", "denominator"),
    "rate": ("denominator",),
    "coverage": ("facts",),
}


def _columns_of(name: str) -> set[str]:
    return set(DATASETS[name].column_names)


def check_rule(rule: Rule) -> str | None:
    """Engine-neutral checks: datasets exist, every column an expression reads is there."""
    for key in _REQUIRED.get(rule.measure.kind, ()):
        if getattr(rule.measure, key) is None:
            return f"measure.{key}: required for kind {rule.measure.kind}"
    if rule.dataset not in DATASETS:
        return f"dataset: unknown dataset {rule.dataset!r}"
    available = _columns_of(rule.dataset)
    for i, lookup in enumerate(rule.lookups):
        if lookup.dataset not in DATASETS:
            return f"lookups[{i}].dataset: unknown dataset {lookup.dataset!r}"
        other = _columns_of(lookup.dataset)
        for mine, theirs in lookup.keys.items():
            if mine not in available or theirs not in other:
                return (
                    f"lookups[{i}].by: unknown column {mine if mine not in available else theirs}"
                )
        for new, source in lookup.columns.items():
            if source not in other:
                return f"lookups[{i}].columns.{new}: {lookup.dataset} has no column {source!r}"
        if problem := _unknown(lookup.where, other, f"lookups[{i}].where"):
            return problem
        qualified = available | {f"lookup.{c}" for c in other}
        if problem := _unknown(lookup.match, qualified, f"lookups[{i}].match"):
            return problem
        available |= set(lookup.columns) | ({lookup.exists} if lookup.exists else set())
    if rule.deadline:
        available.add("deadline")
    for name, text in rule.columns.items():
        if problem := _unknown(text, available, f"columns.{name}"):
            return problem
        available.add(name)
    if rule.period and rule.period.date not in available:
        return f"period.date: unknown column {rule.period.date!r}"
    if problem := _unknown(rule.where, available, "where"):
        return problem
    if rule.entities:
        for name, text in rule.entities.columns.items():
            if problem := _unknown(text, available, f"entities.columns.{name}"):
                return problem
        available = {rule.entities.key, *rule.entities.columns}
        if problem := _unknown(rule.entities.where, available, "entities.where"):
            return problem
    for name, text in rule.window_columns.items():
        if problem := _unknown(text, available, f"window_columns.{name}"):
            return problem
        available.add(name)
    if rule.measure.kind == "coverage":
        available.add("covered")
    for key in ("of", "condition"):
        if problem := _unknown(getattr(rule.measure, key), available, f"measure.{key}"):
            return problem
    for part_name in ("denominator", "facts"):
        part = getattr(rule.measure, part_name)
        if part is None:
            continue
        if part.dataset is not None and part.dataset not in DATASETS:
            return f"measure.{part_name}.dataset: unknown dataset {part.dataset!r}"
        part_columns = _columns_of(part.dataset) if part.dataset else available
        for key in ("where", "of"):
            if problem := _unknown(getattr(part, key), part_columns, f"measure.{part_name}.{key}"):
                return problem
    for scope in ("branch", *rule.grains):
        if scope in rule.scopes or scope in rule.grains:
            column = GRAIN_COLUMNS[scope]
            if column not in available:
                return f"grains: {scope} needs column {column!r}, which the population lacks"
    if rule.exceptions:
        shown = available | {"count"}
        if problem := _unknown(rule.exceptions.where, available, "exceptions.where"):
            return problem
        for column in [*rule.exceptions.show, *(rule.exceptions.group_by or [])]:
            if column not in shown:
                return f"exceptions.show: unknown column {column!r}"
    return None


def _unknown(text: str | None, available: set[str], key: str) -> str | None:
    if text is None:
        return None
    missing = sorted(referenced_columns(parse_expression(text)) - available)
    return f"{key}: unknown column {missing[0]!r}" if missing else None
