"""Spark sessions for kpitool, Spark errors as one-line messages, small results to Polars.

Under `spark-submit` the session it starts with is used; otherwise `spark_session` starts
one (`local[*]` unless a master is given) with quiet logs and settings sized for the machine.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from kpitool.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_CONF",
    "LOG_CONFIG",
    "SparkErrors",
    "first_line",
    "spark_errors",
    "spark_session",
    "to_polars",
]

DEFAULT_CONF: dict[str, str] = {
    "spark.app.name": "kpitool",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.legacy.javaCharsets": "true",
}
"""Defaults a session is started with; kpitool.toml's [spark] table overrides them. Datetimes
are local times without a zone (TIMESTAMP_NTZ); UTC keeps text parsing free of DST gaps.
Spark 4 reads CSV only in Unicode charsets unless Java's (GBK, GB18030) are allowed."""
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
"""Errors-only JVM logging for sessions kpitool starts (a started JVM keeps its own)."""


def _local_defaults(master: str | None) -> dict[str, str]:
    """Settings for a JVM kpitool launches itself: quiet logs; in local mode few shuffle
    partitions (Spark's 200 suit a cluster, not 2 cores and a month of one company) and half
    the machine's memory for the one JVM that does all the work (Spark's default is 1 GiB)."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit started the JVM already
        return {}
    defaults = {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}"}
    if master is None or master.startswith("local"):
        defaults["spark.sql.shuffle.partitions"] = str(max(2, 2 * (os.cpu_count() or 1)))
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        defaults["spark.driver.memory"] = f"{max(1, memory // 2**31)}g"  # half of RAM
    return defaults


def spark_session(master: str | None = None, conf: Mapping[str, Any] | None = None) -> SparkSession:
    """The Spark session to evaluate with: the active one (spark-submit's, a notebook's) when
    neither master nor settings are given, else one built with them over `DEFAULT_CONF`.

    master None means spark-submit's master when run under it, else `local[*]`.
    """
    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active
    builder = SparkSession.builder
    if master is not None:
        builder = builder.master(master)
    elif "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
        builder = builder.master("local[*]")
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL + 1)
    given = {k if k.startswith("spark.") else f"spark.{k}": str(v) for k, v in (conf or {}).items()}
    settings = {**DEFAULT_CONF, **_local_defaults(master), **given}
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, or a bad setting
        raise ConfigError(
            f"cannot start Spark: {first_line(exc)} (the spark engine needs Java 17 on PATH "
            "or JAVA_HOME; Debian: apt-get install openjdk-17-jre-headless)"
        ) from None


def first_line(exc: BaseException) -> str:
    """A Spark error's message without the JVM's plan dump, stack or SQLSTATE code."""
    text = str(exc).strip()
    raised = re.search(r"\[USER_RAISED_EXCEPTION\] (.+?)(?: SQLSTATE|$)", text, re.MULTILINE)
    if raised:
        return raised.group(1).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"\s*SQLSTATE: \w+.*$", "", line).rstrip(" ;.")


@contextmanager
def spark_errors(what: str) -> Iterator[None]:
    """A failed Spark plan or job as a one-line DataError (a bad value names its column)."""
    try:
        yield
    except (PySparkException, Py4JError) as exc:
        raise DataError(f"{what}: {first_line(exc)}") from None


_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "bigint": pl.Int64(),
    "int": pl.Int32(),
    "smallint": pl.Int16(),
    "tinyint": pl.Int8(),
    "double": pl.Float64(),
    "float": pl.Float32(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp_ntz": pl.Datetime("us"),
    "timestamp": pl.Datetime("us"),
}


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """Collect a (small) Spark result to a Polars frame with matching column types; decimals
    become doubles and types Polars has no plain match for (arrays, maps …) become text."""
    schema: dict[str, pl.DataType] = {}
    columns: list[Column] = []
    for f in frame.schema.fields:
        kind = f.dataType.simpleString()
        if kind.startswith("decimal"):
            schema[f.name] = pl.Float64()
            columns.append(F.col(f"`{f.name}`").cast("double"))
        elif kind in _POLARS_TYPES:
            schema[f.name] = _POLARS_TYPES[kind]
            columns.append(F.col(f"`{f.name}`"))
        else:
            schema[f.name] = pl.String()
            columns.append(F.col(f"`{f.name}`").cast("string"))
    rows = frame.select(*columns).collect()
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


SparkErrors = (PySparkException, Py4JError)
"""The exceptions a failed Spark plan or job raises."""
