"""Personal data masked in a Spark frame, as `kpitool.data.privacy` masks a Polars one: the
views `kpitool query` reads are masked before the query runs, so no alias unmasks them."""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from kpitool.data.privacy import FREE_TEXT_PATTERNS, Kind, scanned_for_numbers, sensitive_kind

__all__ = ["masked_frame"]


def _stars(count: Column) -> Column:
    return F.lpad(F.lit(""), F.greatest(count, F.lit(0)), "*")


def _by_kind(name: str, kind: Kind) -> Column:
    """`mask_text` in Spark: phone 138****5678, name 张*, ID 320***********1234."""
    col = F.col(f"`{name}`")
    length = F.length(col)
    if kind == "phone":
        shown = F.concat(F.substring(col, 1, 3), F.lit("****"), F.substring(col, -4, 4))
        short = "****"
        enough = length >= 8
    elif kind == "name":
        shown = F.concat(F.substring(col, 1, 1), _stars(length - 1))
        short = "*"
        enough = length > 1
    else:
        shown = F.concat(F.substring(col, 1, 3), _stars(length - 7), F.substring(col, -4, 4))
        short = "****"
        enough = length > 7
    return F.when(enough, shown).when(col.isNotNull(), F.lit(short))


def _free_text(name: str) -> Column:
    column = F.col(f"`{name}`")
    for pattern, replacement in FREE_TEXT_PATTERNS:
        column = F.regexp_replace(column, pattern, re.sub(r"\$\{(\d+)\}", r"$\1", replacement))
    return column


def masked_frame(frame: DataFrame) -> DataFrame:
    """The frame with its text columns masked by name, or scanned for phone/ID numbers."""
    columns = []
    for field in frame.schema.fields:
        kind = sensitive_kind(field.name)
        if not isinstance(field.dataType, StringType):
            columns.append(F.col(f"`{field.name}`"))
        elif kind is not None:
            columns.append(_by_kind(field.name, kind).alias(field.name))
        elif scanned_for_numbers(field.name):
            columns.append(_free_text(field.name).alias(field.name))
        else:
            columns.append(F.col(f"`{field.name}`"))
    return frame.select(*columns)
