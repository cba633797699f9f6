"""Shared test helpers: run the CLI exactly as a user would, with stdout and stderr apart."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from kpitool.api import use_cache
from kpitool.cache import DEFAULT_LIMIT
from kpitool.cli import app

# Property tests draw new examples on each local run; under CI (`CI` set, as .ci/run does)
# they are derandomised, so a submission never passes or fails by luck.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test starts with an empty cache of its own, turned on, at the default bound."""
    monkeypatch.setenv("KPITOOL_CACHE", str(tmp_path_factory.mktemp("cache") / "kpitool"))
    monkeypatch.delenv("KPITOOL_CACHE_SIZE", raising=False)
    use_cache(True, size=DEFAULT_LIMIT)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """`cli("data", "check", "--data", str(d))` -> exit code, stdout, stderr."""

    def run(*args: str, input: str | None = None) -> CliResult:
        result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (skipped where pyspark is missing)."""
    pytest.importorskip("pyspark")
    from kpitool.spark.session import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()
