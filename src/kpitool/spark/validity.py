"""Rows whose values cannot be true left out of a Spark dataset, as the Polars engine leaves
them out (`kpitool.data.validity.EXCLUDED`): NaN, infinite or absurd amounts, numbers outside
their range, a later step before an earlier one."""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from kpitool.data.schema import Dataset
from kpitool.data.validity import LARGEST_AMOUNT

__all__ = ["valid_rows"]


def _masks(spec: Dataset) -> list[Column]:
    masks = []
    for column in spec.columns:
        value = F.col(f"`{column.name}`")
        if column.type == "float":  # abs(±inf) is beyond any amount too
            masks.append(F.isnan(value) | (F.abs(value) >= F.lit(LARGEST_AMOUNT)))
        if column.bounds is not None:
            low, high = column.bounds
            masks.append((value < F.lit(low)) | (value > F.lit(high)))
    for first, second in spec.ordered:
        masks.append(F.col(f"`{second}`") < F.col(f"`{first}`"))
    return masks


def valid_rows(frame: DataFrame, spec: Dataset) -> DataFrame:
    """The typed frame without the rows evaluation leaves out."""
    masks = [F.coalesce(mask, F.lit(False)) for mask in _masks(spec)]
    if not masks:
        return frame
    return frame.filter(~reduce(lambda a, b: a | b, masks))
