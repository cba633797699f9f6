"""Rule expressions: SQL snippets parsed once (sqlglot) and compiled to an engine's expressions.

Rules stay engine-neutral: a filter such as `product_line = 'short' AND claimed_amount > 2000`
is parsed here, its columns are checked against the datasets when the rules load, and each
engine compiles the same tree (`kpitool.polars.expressions`, `kpitool.spark.expressions`).

Besides standard SQL (comparisons, AND/OR/NOT, arithmetic, IS NULL, IN, BETWEEN, CASE,
COALESCE, aggregates with FILTER (WHERE …), windows with OVER (PARTITION BY …), `date +
INTERVAL n DAY|MONTH|YEAR`), rules may call:

- `minutes_between(a, b)`: (b − a) in minutes, as a float;
- `days_between(a, b)`: calendar days from a's date to b's date, as an integer;
- `working_days_between(a, b)`: working days after a's date up to b's date, counted with
  the `calendar` dataset (null where a date is outside it);
- `concat_ws(sep, x, …)`: the non-null strings joined by sep.

Named parameters (`:period_end`, `:month` …) are the evaluation period's dates, see `PARAMETERS`.
"""

from __future__ import annotations

from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

__all__ = [
    "CUSTOM_FUNCTIONS",
    "PARAMETERS",
    "ExpressionError",
    "parse_expression",
    "referenced_columns",
]

PARAMETERS = (
    "month",
    "year",
    "period_start",
    "period_end",
    "quarter_start",
    "year_start",
    "deadline",
)
CUSTOM_FUNCTIONS = ("MINUTES_BETWEEN", "DAYS_BETWEEN", "WORKING_DAYS_BETWEEN", "CONCAT_WS")


_ALLOWED = (
    # what the engines compile (kpitool.polars.expressions, kpitool.spark.expressions)
    *(exp.Abs, exp.Add, exp.And, exp.Anonymous, exp.ArgMax, exp.ArgMin, exp.Avg, exp.Between),
    *(exp.Boolean, exp.Case, exp.Coalesce, exp.Column, exp.ConcatWs, exp.Count, exp.Date),
    *(exp.Distinct, exp.Div, exp.EQ, exp.Filter, exp.GT, exp.GTE, exp.In, exp.Interval, exp.Is),
    *(exp.LT, exp.LTE, exp.Length, exp.Literal, exp.Lower, exp.Max, exp.Min, exp.Mod),
    *(exp.Month, exp.Mul, exp.NEQ, exp.Neg, exp.Not, exp.Null, exp.Or, exp.Paren),
    *(exp.Placeholder, exp.Star, exp.Sub, exp.Sum, exp.TsOrDsToDate, exp.Upper, exp.Window),
    *(exp.Year, exp.Cast, exp.DataType),
    # the parts those are made of
    *(exp.Identifier, exp.Var, exp.If, exp.Where, exp.Order, exp.Ordered, exp.Tuple),
    *(exp.WindowSpec, exp.IntervalSpan, exp.DataTypeParam),
)


class ExpressionError(ValueError):
    """An expression that does not parse or uses something kpitool cannot compile."""


def parse_expression(text: str) -> exp.Expression:
    """Parse one SQL expression snippet; raise ExpressionError with a short reason."""
    try:
        tree = sqlglot.parse_one(text)
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc)
        raise ExpressionError(f"cannot parse {text!r}: {first}") from None
    if tree is None or isinstance(tree, exp.Select | exp.Query):
        raise ExpressionError(f"{text!r} is not an expression")
    for node in tree.walk():
        if isinstance(node, exp.Placeholder) and node.name not in PARAMETERS:
            raise ExpressionError(
                f"unknown parameter :{node.name} (known: {', '.join(PARAMETERS)})"
            )
        if isinstance(node, exp.Anonymous) and node.name.upper() not in CUSTOM_FUNCTIONS:
            raise ExpressionError(f"unknown function {node.name}()")
        if isinstance(node, exp.Query | exp.Subquery):
            raise ExpressionError(f"{text!r}: subqueries are not allowed in a rule")
        if not isinstance(node, _ALLOWED):
            what = node.sql()[:40] if isinstance(node, exp.Func) else node.key.upper()
            raise ExpressionError(f"{text!r}: {what} is not in the rule SQL kpitool runs")
    return cast(exp.Expression, tree)


def referenced_columns(tree: exp.Expression) -> set[str]:
    """Column names an expression reads (qualified `lookup.x` columns as `lookup.x`)."""
    names = set()
    for col in tree.find_all(exp.Column):
        names.add(f"{col.table}.{col.name}" if col.table else col.name)
    return names
