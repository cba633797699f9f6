"""kpitool: customer-service KPI reports from a life insurer's core-system extracts.

The library API is `kpitool.api` (evaluate, exceptions, explain, query, report, check_data),
re-exported here; names load on first use, so `import kpitool` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "DATASETS": "kpitool.data.schema",
    "CheckReport": "kpitool.data.check",
    "Problem": "kpitool.data.check",
    "check_data": "kpitool.data.check",
    "DataSource": "kpitool.data.catalogue",
    "open_data": "kpitool.data.catalogue",
    "evaluate": "kpitool.polars.engine",
    "exceptions": "kpitool.polars.engine",
    "ConfigError": "kpitool.errors",
    "DataError": "kpitool.errors",
    "KpiError": "kpitool.errors",
    "OutputError": "kpitool.errors",
    "RuleError": "kpitool.errors",
    "UsageError": "kpitool.errors",
    "Month": "kpitool.measure.periods",
    "parse_month": "kpitool.measure.periods",
    "Rule": "kpitool.rules.model",
    "RuleSet": "kpitool.rules.model",
    "load_rules": "kpitool.rules.model",
    "generate_sample_data": "kpitool.sample.generate",
}


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

if TYPE_CHECKING:
    from kpitool.data.catalogue import DataSource, open_data
    from kpitool.data.check import CheckReport, Problem, check_data
    from kpitool.data.schema import DATASETS
    from kpitool.errors import (
        ConfigError,
        DataError,
        KpiError,
        OutputError,
        RuleError,
        UsageError,
    )
    from kpitool.measure.periods import Month, parse_month
    from kpitool.polars.engine import evaluate, exceptions
    from kpitool.rules.model import Rule, RuleSet, load_rules
    from kpitool.sample.generate import generate_sample_data


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kpitool' has no attribute {name!r}")
