"""The Spark adapter of rule expressions: a parsed rule expression as Spark SQL text.

Rules are parsed once by `kpitool.rules.expressions`; this module rewrites what Spark SQL spells
differently or lacks, then lets sqlglot write the tree in the Spark dialect (`F.expr` runs it):

- `minutes_between(a, b)` → microseconds between them / 60,000,000 as a double;
- `days_between(a, b)` → `datediff(date(b), date(a))`;
- `working_days_between(a, b)` → a lookup in a map literal of the calendar's workday index;
- `concat_ws` keeps Spark's own (nulls skipped, as in Polars), not sqlglot's null-propagating form;
- `COUNT(DISTINCT x) OVER (…)` (not allowed in Spark) → `size(collect_set(x) OVER (…))`;
- every window is also partitioned by the evaluated month, as in the Polars engine;
- parameters (`:period_end` …) read the month columns of the row, typed by the months frame;
- decimal literals (0.5) become doubles, and `/` divides as doubles, as Polars does.

Pure sqlglot: importing it needs no pyspark, so the translation is testable on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import cast

import sqlglot
from sqlglot import exp

from kpitool.rules.expressions import ExpressionError

__all__ = ["spark_sql", "workday_map_sql"]

_DOUBLE = exp.DataType.build("double")
_DATE = exp.DataType.build("date")
_CUSTOM = ("MINUTES_BETWEEN", "DAYS_BETWEEN", "WORKING_DAYS_BETWEEN")


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _cast(node: exp.Expression, to: exp.DataType) -> exp.Expression:
    return exp.Cast(this=node, to=to.copy())


def workday_map_sql(index: Mapping[dt.date, int]) -> str:
    """A Spark SQL map literal {date: working days up to and including it}."""
    if not index:
        return "map()"
    days = ", ".join(f"DATE'{day.isoformat()}'" for day in index)
    counts = ", ".join(str(int(n)) for n in index.values())
    return f"map_from_arrays(array({days}), array({counts}))"


class _Rewriter:
    def __init__(
        self,
        params: Mapping[str, str],
        qualified: Mapping[str, str],
        partition: Sequence[str],
        workdays: str | None,
    ) -> None:
        self.params = params
        self.qualified = qualified
        self.partition = partition
        self.workdays = workdays

    def rewrite(self, node: exp.Expression) -> exp.Expression:
        """Rewrite the children first, then the node (post-order, so nothing is skipped)."""
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expression):
                node.set(key, self.rewrite(value))
            elif isinstance(value, list):
                node.set(
                    key, [self.rewrite(v) if isinstance(v, exp.Expression) else v for v in value]
                )
        return self._node(node)

    def _node(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            if node.name not in self.params:
                raise ExpressionError(f"parameter :{node.name} has no value here")
            return exp.column(self.params[node.name])
        if isinstance(node, exp.Column) and node.table:
            key = f"{node.table}.{node.name}"
            if key not in self.qualified:
                raise ExpressionError(f"unknown qualified column {key}")
            return exp.column(self.qualified[key])
        if isinstance(node, exp.Literal) and not node.is_string:
            if any(ch in node.this for ch in ".eE") and not isinstance(node.parent, exp.Interval):
                return _cast(node.copy(), _DOUBLE)
            return node
        if isinstance(node, exp.Div):
            return exp.Div(this=_cast(node.this, _DOUBLE), expression=node.expression)
        if isinstance(node, exp.ConcatWs):
            return _call("concat_ws", *node.expressions)
        if isinstance(node, exp.Anonymous) and node.name.upper() in _CUSTOM:
            return self._custom(node.name.upper(), list(node.expressions))
        if isinstance(node, exp.Window):
            return self._window(node)
        return node

    def _custom(self, name: str, args: list[exp.Expression]) -> exp.Expression:
        if len(args) != 2:
            raise ExpressionError(f"{name.lower()}(start, end) takes two arguments")
        start, end = args
        if name == "MINUTES_BETWEEN":
            micros = _call("timestampdiff", exp.var("MICROSECOND"), start, end)
            return exp.Paren(
                this=exp.Div(this=_cast(micros, _DOUBLE), expression=exp.Literal.number(60_000_000))
            )
        if name == "DAYS_BETWEEN":
            return _call("datediff", _cast(end, _DATE), _cast(start, _DATE))
        if self.workdays is None:
            raise ExpressionError("working_days_between() needs the calendar dataset")
        index = cast(exp.Expression, sqlglot.parse_one(self.workdays, dialect="spark"))

        def position(day: exp.Expression) -> exp.Expression:
            return _call("try_element_at", index.copy(), _cast(day, _DATE))

        return exp.Paren(this=exp.Sub(this=position(end), expression=position(start)))

    def _window(self, node: exp.Window) -> exp.Expression:
        if node.args.get("order") is not None or node.args.get("spec") is not None:
            raise ExpressionError("windows take PARTITION BY only (no ORDER BY or frame)")
        partition = [exp.column(name) for name in self.partition]
        node.set("partition_by", [*partition, *(node.args.get("partition_by") or [])])
        inner = node.this
        if isinstance(inner, exp.Count) and isinstance(inner.this, exp.Distinct):
            values = inner.this.expressions
            if len(values) != 1:
                raise ExpressionError("COUNT(DISTINCT …) OVER takes one column")
            node.set("this", _call("collect_set", values[0]))
            return _call("size", node)
        return node


def spark_sql(
    tree: exp.Expression,
    params: Mapping[str, str],
    *,
    qualified: Mapping[str, str] | None = None,
    partition: Sequence[str] = (),
    workdays: str | None = None,
) -> str:
    """Spark SQL for a parsed rule expression.

    `params` maps parameter names to the column holding their value; `qualified` maps
    `lookup.x` to the frame's column; `partition` columns are added to every window;
    `workdays` is the calendar's map literal (`workday_map_sql`) for working_days_between.
    """
    rewriter = _Rewriter(params, qualified or {}, partition, workdays)
    rewritten = rewriter.rewrite(tree.copy())
    return str(rewritten.sql(dialect="spark", identify=True))
