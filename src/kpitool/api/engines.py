"""Opening the engine a call asked for, over the data it named."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kpitool.data.catalogue import DataSource, is_url, open_data
from kpitool.plan.engine import Engine
from kpitool.resources import BUNDLED_DATA

__all__ = ["Data", "EngineName", "local_source", "open_engine", "start_spark"]

EngineName = Literal["polars", "spark"]
Data = DataSource | Path | str | Engine | None
"""A data source as callers give it: a folder or catalogue path, a URL (Spark), an opened
`DataSource`, an engine already opened on its data, or None for the bundled sample data."""

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def open_engine(
    data: Data, engine: EngineName = "polars", *, session: SparkSession | Any = None
) -> Engine:
    """The engine over `data`: Polars by default, or Spark (`session`, else the active one
    or a local one)."""
    if data is not None and not isinstance(data, DataSource | Path | str):
        return data
    if engine == "spark":
        from kpitool.spark.engine import SparkEngine

        return SparkEngine(data if data is not None else BUNDLED_DATA, session)
    if engine != "polars":
        from kpitool.errors import UsageError

        raise UsageError(f"engine {engine!r}: expected polars or spark")
    from kpitool.polars.engine import PolarsEngine

    source = data if isinstance(data, DataSource) else open_data(data or BUNDLED_DATA)
    return PolarsEngine(source)


def local_source(data: Data) -> DataSource | None:
    """The local files behind `data` (None for a URL only Spark reaches, or a Spark table)."""
    if isinstance(data, DataSource):
        return data
    if data is None:
        return open_data(BUNDLED_DATA)
    if isinstance(data, Path | str):
        return None if is_url(str(data)) else open_data(data)
    return data.local


def start_spark(master: str | None, conf: Mapping[str, Any]) -> SparkSession:
    """Start (or reuse) the Spark session later calls run on: `master` when given, else
    spark-submit's or local[*]; `conf` adds Spark settings (kpitool.toml's [spark] table)."""
    from kpitool.spark.session import spark_session

    return spark_session(master, conf)
