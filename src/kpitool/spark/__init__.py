"""The distributed engine: the neutral plan translated to Spark DataFrames.

Needs the `spark` extra (`pip install 'kpitool[spark]'`) and Java 17; importing this package
without pyspark is a one-line UsageError, not an ImportError.
"""

from kpitool.errors import UsageError

try:
    import pyspark  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise UsageError(
        "the spark engine needs pyspark: pip install 'kpitool[spark]' (and Java 17)"
    ) from exc
