"""kpitool: customer-service KPI reports from a life insurer's core-system extracts.

The library API is `kpitool.api` (evaluate, exceptions, explain, query, report, check_data,
left_out), re-exported here; names load on first use, so `import kpitool` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "DATASETS": "kpitool.data.schema",
    "CheckReport": "kpitool.data.check",
    "Problem": "kpitool.data.check",
    "check_data": "kpitool.api",
    "DataSource": "kpitool.data.catalogue",
    "open_data": "kpitool.data.catalogue",
    "evaluate": "kpitool.api",
    "exceptions": "kpitool.api",
    "explain": "kpitool.api",
    "left_out": "kpitool.api",
    "LeftOut": "kpitool.data.excluded",
    "query": "kpitool.api",
    "report": "kpitool.api",
    "open_engine": "kpitool.api",
    "Explanation": "kpitool.api",
    "ConfigError": "kpitool.errors",
    "DataError": "kpitool.errors",
    "KpiError": "kpitool.errors",
    "OutputError": "kpitool.errors",
    "RuleError": "kpitool.errors",
    "UsageError": "kpitool.errors",
    "Month": "kpitool.plan.periods",
    "Period": "kpitool.plan.periods",
    "parse_month": "kpitool.plan.periods",
    "parse_period": "kpitool.plan.periods",
    "Rule": "kpitool.rules.model",
    "RuleSet": "kpitool.rules.model",
    "load_rules": "kpitool.rules.loader",
    "generate_sample_data": "kpitool.sample.generate",
}


__all__ = [
    "DATASETS",
    "CheckReport",
    "ConfigError",
    "DataError",
    "DataSource",
    "Explanation",
    "KpiError",
    "LeftOut",
    "Month",
    "OutputError",
    "Period",
    "Problem",
    "Rule",
    "RuleError",
    "RuleSet",
    "UsageError",
    "__version__",
    "check_data",
    "evaluate",
    "exceptions",
    "explain",
    "generate_sample_data",
    "left_out",
    "load_rules",
    "open_data",
    "open_engine",
    "parse_month",
    "parse_period",
    "query",
    "report",
]

if TYPE_CHECKING:
    from kpitool.api import (
        Explanation,
        check_data,
        evaluate,
        exceptions,
        explain,
        left_out,
        open_engine,
        query,
        report,
    )
    from kpitool.data.catalogue import DataSource, open_data
    from kpitool.data.check import CheckReport, Problem
    from kpitool.data.excluded import LeftOut
    from kpitool.data.schema import DATASETS
    from kpitool.errors import (
        ConfigError,
        DataError,
        KpiError,
        OutputError,
        RuleError,
        UsageError,
    )
    from kpitool.plan.periods import Month, Period, parse_month, parse_period
    from kpitool.rules.loader import load_rules
    from kpitool.rules.model import Rule, RuleSet
    from kpitool.sample.generate import generate_sample_data


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kpitool' has no attribute {name!r}")
