"""The benchmark data sets: seeded, written once under benchmarks/data/ and reused.

`provincial` is issue 6's provincial company: 100 branches and, in the evaluated year 2015,
≈ 20 M counter visits, 10 M policies, 5 M claims, 5 M callbacks, 10 M renewal rows, 1 M
clean-up tasks and 5 M customers (the generator also writes 2014, and policies from 2013,
at the same rates: the rules compare with last year and count 24-month windows).
`large` has 5 x the visits (≈ 100 M in 2015), generated a month at a time, beside links to
`provincial`'s other datasets. A manifest records what was asked (and a hash of the
generator's source); a set is regenerated only when that changes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

import kpitool
from kpitool.sample.generate import generate_sample_data, write_counter_visits

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MANIFEST = "manifest.json"
# Per-dataset multipliers on the generator's volumes that give the per-year counts
# at scale 40 (20 M visits a year): the generator's own mix is a small city company's.
PROVINCIAL_VOLUMES = {
    "policies": 4.6,
    "claims": 6.5,
    "callbacks": 0.5,
    "lapse_cleanup": 2.1,
    "customer_info": 3.1,
}


@dataclass(frozen=True)
class DataSet:
    """What to generate: the generator's arguments, and the set whose files it links to."""

    name: str
    scale: float
    branches: int = 100
    seed: int = 1
    year: int = 2015
    volumes: dict[str, float] = field(default_factory=dict)
    visits_scale: float | None = None  # counter visits only, beside `base`'s other files
    base: str | None = None

    @property
    def folder(self) -> Path:
        return DATA / self.name


SETS = {
    "provincial": DataSet("provincial", 40.0, volumes=PROVINCIAL_VOLUMES),
    "large": DataSet(
        "large", 40.0, volumes=PROVINCIAL_VOLUMES, visits_scale=200.0, base="provincial"
    ),
}


def small(scale: float, branches: int) -> DataSet:
    """A quick set for developing the harness (`--scale 1`)."""
    return DataSet(f"scale{scale:g}-b{branches}", scale, branches, volumes=PROVINCIAL_VOLUMES)


def _generator_hash() -> str:
    source = Path(kpitool.__file__).parent / "sample"
    digest = hashlib.sha256()
    for path in sorted(source.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _wanted(spec: DataSet) -> dict[str, object]:
    return {**asdict(spec), "generator": _generator_hash(), "polars": pl.__version__}


def ensure(spec: DataSet) -> Path:
    """The set's folder, generated first when missing or made with other parameters."""
    folder = spec.folder
    manifest = folder / MANIFEST
    wanted = _wanted(spec)
    if manifest.is_file() and json.loads(manifest.read_text())["asked"] == wanted:
        return folder
    if spec.base is not None:
        ensure(SETS[spec.base])
    print(f"generating {folder} (written once, reused) …", flush=True)
    started = time.perf_counter()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if spec.visits_scale is None:
        summary = generate_sample_data(
            folder,
            seed=spec.seed,
            branches=spec.branches,
            year=spec.year,
            scale=spec.scale,
            volumes=spec.volumes,
            chunked=True,
        )
        rows = summary.rows
    else:
        base = SETS[spec.base or ""].folder
        for item in sorted(base.iterdir()):
            if item.name not in ("counter_visits", MANIFEST):
                (folder / item.name).symlink_to(item.resolve())
        visits = write_counter_visits(
            folder, seed=spec.seed, branches=spec.branches, year=spec.year, scale=spec.visits_scale
        )
        rows = {**json.loads((base / MANIFEST).read_text())["rows"], **visits.rows}
    seconds = time.perf_counter() - started
    manifest.write_text(
        json.dumps({"asked": wanted, "rows": rows, "seconds": round(seconds, 1)}, indent=2)
    )
    print(f"generated {folder} in {seconds:.0f} s", flush=True)
    return folder


def rows(folder: Path) -> dict[str, int]:
    """Rows per dataset, from the manifest."""
    return dict(json.loads((folder / MANIFEST).read_text())["rows"])


def rows_in_year(folder: Path, year: int = 2015) -> dict[str, int]:
    """Rows of the evaluated year for the datasets the issue sizes (by each one's own date)."""
    dates = {
        "counter_visits": "arrived_at",
        "policies": "issued_at",
        "claims": "reported_at",
        "callbacks": "called_at",
        "renewals": "due_date",
    }
    source = kpitool.open_data(folder)
    counted = {
        name: source.scan(name).filter(pl.col(column).dt.year() == year).select(pl.len())
        for name, column in dates.items()
    }
    frames = pl.collect_all(list(counted.values()))
    result = {name: int(frame.item()) for name, frame in zip(counted, frames, strict=True)}
    all_rows = rows(folder)
    result["lapse_cleanup"] = all_rows["lapse_cleanup"]
    result["customer_info"] = all_rows["customer_info"]
    return result
