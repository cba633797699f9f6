"""Rule expressions compiled to Polars expressions (the tree `kpitool.rules.expressions` parsed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

import polars as pl
from sqlglot import exp

from kpitool.rules.expressions import ExpressionError

__all__ = ["WORKDAY_INDEX", "to_polars"]

WORKDAY_INDEX = "__workday_index"
"""Parameter holding {date: number of working days up to and including it}, from `calendar`."""
_INTERVAL_UNITS = {
    "DAY": "d",
    "DAYS": "d",
    "MONTH": "mo",
    "MONTHS": "mo",
    "YEAR": "y",
    "YEARS": "y",
}


def to_polars(
    tree: exp.Expression,
    params: Mapping[str, Any] | None = None,
    *,
    qualified: Mapping[str, str] | None = None,
    partition: Sequence[str] = (),
) -> pl.Expr:
    """Compile a parsed expression to a Polars expression.

    `qualified` maps qualified names (`lookup.issued_at`) to the frame's column names;
    `partition` columns are added to every window's PARTITION BY (the evaluated month).
    """
    return _PolarsCompiler(params or {}, qualified or {}, partition).compile(tree)


class _PolarsCompiler:
    def __init__(
        self, params: Mapping[str, Any], qualified: Mapping[str, str], partition: Sequence[str]
    ) -> None:
        self.params = params
        self.qualified = qualified
        self.partition = [pl.col(name) for name in partition]

    def compile(self, node: exp.Expression) -> pl.Expr:
        c = self.compile
        if isinstance(node, exp.Paren):
            return c(node.this)
        if isinstance(node, exp.Column):
            if node.table:
                key = f"{node.table}.{node.name}"
                if key not in self.qualified:
                    raise ExpressionError(f"unknown qualified column {key}")
                return pl.col(self.qualified[key])
            return pl.col(node.name)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return pl.lit(node.this, dtype=pl.String)
            text = node.this
            return pl.lit(float(text)) if any(ch in text for ch in ".eE") else pl.lit(int(text))
        if isinstance(node, exp.Boolean):
            return pl.lit(node.this, dtype=pl.Boolean)
        if isinstance(node, exp.Null):
            return pl.lit(None)
        if isinstance(node, exp.Placeholder):
            return self._parameter(node.name)
        if isinstance(node, exp.Not):
            inner = node.this.this if isinstance(node.this, exp.Paren) else node.this
            if isinstance(inner, exp.Is):
                return self._is(inner, negate=True)
            return c(node.this).not_()
        if isinstance(node, exp.Is):
            return self._is(node, negate=False)
        if isinstance(node, exp.And):
            return c(node.this) & c(node.expression)
        if isinstance(node, exp.Or):
            return c(node.this) | c(node.expression)
        if isinstance(node, exp.Neg):
            return -c(node.this)
        if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
            return self._shift(c(node.this), node.expression, negate=isinstance(node, exp.Sub))
        binary = _BINARY.get(type(node))
        if binary is not None:
            return cast(pl.Expr, binary(c(node.this), c(node.expression)))
        if isinstance(node, exp.In):
            values = [self._literal_value(v) for v in node.expressions]
            return c(node.this).is_in(values)
        if isinstance(node, exp.Between):
            return c(node.this).is_between(c(node.args["low"]), c(node.args["high"]))
        if isinstance(node, exp.Case):
            return self._case(node)
        if isinstance(node, exp.Coalesce):
            return pl.coalesce([c(node.this), *(c(e) for e in node.expressions)])
        if isinstance(node, exp.Anonymous):
            return self._custom(node.name.upper(), node.expressions)
        if isinstance(node, exp.ConcatWs):
            sep, *parts = node.expressions
            return pl.concat_str(
                [c(p) for p in parts], separator=self._literal_value(sep), ignore_nulls=True
            )
        if isinstance(node, exp.Filter):
            return self._aggregate(node.this, where=c(node.expression.this))
        if isinstance(node, exp.Window):
            return self._window(node)
        if isinstance(node, exp.AggFunc):
            return self._aggregate(node, where=None)
        simple = _FUNCTIONS.get(type(node))
        if simple is not None:
            return cast(pl.Expr, simple(c(node.this)))
        raise ExpressionError(f"unsupported expression {node.sql()!r}")

    def _parameter(self, name: str) -> pl.Expr:
        if name not in self.params:
            raise ExpressionError(f"parameter :{name} has no value here")
        value = self.params[name]
        if isinstance(value, pl.Expr):
            return value
        if isinstance(value, dt.date):
            return pl.lit(value, dtype=pl.Date)
        return pl.lit(value)

    def _literal_value(self, node: exp.Expression) -> Any:
        if isinstance(node, exp.Literal):
            if node.is_string:
                return node.this
            return float(node.this) if "." in node.this else int(node.this)
        if isinstance(node, exp.Boolean):
            return node.this
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return -self._literal_value(node.this)
        raise ExpressionError(f"expected a literal, got {node.sql()!r}")

    def _is(self, node: exp.Is, *, negate: bool) -> pl.Expr:
        if not isinstance(node.expression, exp.Null):
            raise ExpressionError(f"only IS [NOT] NULL is supported: {node.sql()!r}")
        inner = self.compile(node.this)
        return inner.is_not_null() if negate else inner.is_null()

    def _shift(self, base: pl.Expr, interval: exp.Interval, *, negate: bool) -> pl.Expr:
        unit = interval.unit.name.upper() if interval.unit else "DAY"
        if unit not in _INTERVAL_UNITS:
            raise ExpressionError(f"INTERVAL unit {unit} not supported (DAY, MONTH, YEAR)")
        amount = int(self._literal_value(interval.this))
        return base.dt.offset_by(f"{-amount if negate else amount}{_INTERVAL_UNITS[unit]}")

    def _case(self, node: exp.Case) -> pl.Expr:
        ifs = node.args.get("ifs") or []
        if node.this is not None:
            raise ExpressionError("use CASE WHEN cond THEN … (searched CASE), not CASE x WHEN …")
        chain: Any = pl
        for branch in ifs:
            chain = chain.when(self.compile(branch.this)).then(self.compile(branch.args["true"]))
        default = node.args.get("default")
        result: pl.Expr = chain.otherwise(self.compile(default) if default is not None else None)
        return result

    def _custom(self, name: str, args: list[exp.Expression]) -> pl.Expr:
        if name.endswith("_BETWEEN") and len(args) != 2:
            raise ExpressionError(f"{name.lower()}(start, end) takes two arguments")
        start, end = (self.compile(a) for a in args)
        if name == "MINUTES_BETWEEN":
            return (end - start).dt.total_seconds(fractional=True) / 60.0
        if name == "DAYS_BETWEEN":
            return (end.cast(pl.Date) - start.cast(pl.Date)).dt.total_days()
        if name == "WORKING_DAYS_BETWEEN":
            index = self.params.get(WORKDAY_INDEX)
            if index is None:
                raise ExpressionError("working_days_between() needs the calendar dataset")

            def position(day: pl.Expr) -> pl.Expr:
                return day.cast(pl.Date).replace_strict(index, default=None, return_dtype=pl.Int64)

            return position(end) - position(start)
        raise ExpressionError(f"unknown function {name.lower()}()")

    def _aggregate(self, node: exp.Expression, where: pl.Expr | None) -> pl.Expr:
        def arg(e: exp.Expression) -> pl.Expr:
            compiled = self.compile(e)
            return compiled.filter(where) if where is not None else compiled

        if isinstance(node, exp.Count):
            target = node.this
            if isinstance(target, exp.Star) or target is None:
                return where.fill_null(False).sum() if where is not None else pl.len()
            if isinstance(target, exp.Distinct):
                return arg(target.expressions[0]).drop_nulls().n_unique()
            return arg(target).count()
        if isinstance(node, exp.Sum):
            return arg(node.this).sum()
        if isinstance(node, exp.Avg):
            return arg(node.this).mean()
        if isinstance(node, exp.Min):
            return arg(node.this).min()
        if isinstance(node, exp.Max):
            return arg(node.this).max()
        if isinstance(node, exp.ArgMax | exp.ArgMin):
            # FILTER as a null key rather than filtered columns: the same first row with
            # the largest key (nulls never win), at half the cost per group.
            value, key = self.compile(node.this), self.compile(node.expression)
            if where is not None:
                key = pl.when(where).then(key)
            return value.get(key.arg_max() if isinstance(node, exp.ArgMax) else key.arg_min())
        raise ExpressionError(f"unsupported aggregate {node.sql()!r}")

    def _window(self, node: exp.Window) -> pl.Expr:
        if node.args.get("order") is not None or node.args.get("spec") is not None:
            raise ExpressionError("windows take PARTITION BY only (no ORDER BY or frame)")
        inner = self.compile(node.this)
        partition = [
            *self.partition,
            *(self.compile(p) for p in node.args.get("partition_by") or []),
        ]
        return inner.over(partition) if partition else inner


_BINARY: dict[type[exp.Expression], Any] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a.cast(pl.Float64) / b,
    exp.Mod: lambda a, b: a % b,
}
_FUNCTIONS: dict[type[exp.Expression], Any] = {
    exp.Abs: lambda a: a.abs(),
    exp.Lower: lambda a: a.str.to_lowercase(),
    exp.Upper: lambda a: a.str.to_uppercase(),
    exp.Length: lambda a: a.str.len_chars(),
    exp.Year: lambda a: a.dt.year(),
    exp.Month: lambda a: a.dt.month(),
    exp.Date: lambda a: a.cast(pl.Date),
    exp.TsOrDsToDate: lambda a: a.cast(pl.Date),
}
