"""What `kpitool data check` finds: a problem with its place, and the report of a check."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["CheckReport", "DatasetSummary", "Problem", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem: where it is, what kind, and a message a person can act on."""

    severity: Severity
    dataset: str
    file: str | None
    row: int | None
    column: str | None
    kind: str
    message: str


@dataclass
class DatasetSummary:
    """Rows, columns, files and problem counts of one dataset."""

    dataset: str
    files: int = 0
    rows: int = 0
    columns: int = 0
    errors: int = 0
    warnings: int = 0


@dataclass
class CheckReport:
    """The outcome of a data check."""

    datasets: list[DatasetSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(dataset, kind, column) -> how many rows have that problem (problems lists samples)."""

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "datasets": [asdict(d) for d in self.datasets],
            "problems": [asdict(p) for p in self.problems],
            "counts": [
                {"dataset": d, "kind": k, "column": c, "rows": n}
                for (d, k, c), n in self.counts.items()
            ],
        }
