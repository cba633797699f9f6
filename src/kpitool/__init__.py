"""kpitool: monthly customer-service KPI reports from a life insurer's core-system extracts."""

from __future__ import annotations

__version__ = "0.1.0"

from kpitool.catalogue import DataSource, open_data
from kpitool.check import CheckReport, Problem, check_data
from kpitool.engine import evaluate, exceptions
from kpitool.errors import ConfigError, DataError, KpiError, OutputError, RuleError, UsageError
from kpitool.periods import Month, parse_month
from kpitool.rules import Rule, RuleSet, load_rules
from kpitool.sample import generate_sample_data
from kpitool.schema import DATASETS

__all__ = [
    "DATASETS",
    "CheckReport",
    "ConfigError",
    "DataError",
    "DataSource",
    "KpiError",
    "Month",
    "OutputError",
    "Problem",
    "Rule",
    "RuleError",
    "RuleSet",
    "UsageError",
    "__version__",
    "check_data",
    "evaluate",
    "exceptions",
    "generate_sample_data",
    "load_rules",
    "open_data",
    "parse_month",
]
