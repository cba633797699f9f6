"""Where the bundled rules, report templates and sample data are, in a wheel or a checkout.

A built wheel carries them inside the package (`kpitool/bundled/…`, see pyproject's
force-include), found through `importlib.resources`; an editable checkout keeps them at the
repository's top level (the design card's layout), which is used when the package has none.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["BUNDLED_DATA", "BUNDLED_RULES", "BUNDLED_TEMPLATES", "bundled"]


def bundled(name: str) -> Path:
    """The bundled folder `name` (rules, report_templates, sample_data)."""
    inside = Path(str(resources.files("kpitool") / "bundled" / name))
    if inside.is_dir():
        return inside
    checkout = Path(__file__).resolve().parents[2] / name
    return checkout if checkout.is_dir() else inside


BUNDLED_RULES = bundled("rules")
BUNDLED_TEMPLATES = bundled("report_templates")
BUNDLED_DATA = bundled("sample_data")
