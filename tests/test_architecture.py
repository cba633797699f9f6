"""The import rules import-linter cannot state: no private name crosses a subpackage.

(The layers, the engines' independence and the absence of cycles are import-linter
contracts in pyproject.toml, checked by `make lint`.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kpitool

PACKAGE = Path(kpitool.__file__).parent


def _subpackage(module: str) -> str:
    """`kpitool.plan.steps` -> `plan`; top-level modules are their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_of(path: Path, root: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join(parts)


def private_imports(root: Path) -> list[str]:
    """`file:line: name from module` for each private name imported from another
    subpackage."""
    found = []
    for path in sorted(root.rglob("*.py")):
        importer = _module_of(path, root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith("kpitool") or node.level:
                continue
            if _subpackage(node.module) == _subpackage(importer):
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno}: {name} from {node.module}")
    return found


def test_no_private_name_is_imported_across_subpackages() -> None:
    assert private_imports(PACKAGE) == []


@pytest.mark.parametrize(
    ("line", "caught"),
    [
        ("from kpitool.plan.analysis import _secret\n", True),
        ("from kpitool.polars.translate import _private\n", False),  # same subpackage
        ("from kpitool.plan.analysis import __all__\n", False),
    ],
)
def test_the_check_sees_a_private_import(tmp_path: Path, line: str, caught: bool) -> None:
    (tmp_path / "kpitool" / "polars").mkdir(parents=True)
    (tmp_path / "kpitool" / "polars" / "engine.py").write_text(line)
    assert bool(private_imports(tmp_path / "kpitool")) is caught
