"""A built wheel works from any folder: its rules, templates and sample data are inside it.

The wheel is built from this checkout and installed, without its dependencies, into a new
virtualenv that sees this environment's installed libraries (not this checkout); the
commands then run from an empty folder.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from kpitool import load_rules

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kpitool_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a checkout")
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(work.glob("kpitool-*.whl"))
    env = work / "venv"
    venv.create(env, with_pip=False)
    packages = next((env / "lib").glob("python*/site-packages"))
    # The libraries kpitool needs, from this environment; not its own source (no .pth run).
    (packages / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr
    return env / "bin" / "kpitool"


def _run(kpitool: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(kpitool), *args], cwd=folder, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_installed_package_is_the_wheel(kpitool_bin: Path, tmp_path: Path) -> None:
    python = kpitool_bin.with_name("python")
    code = "import kpitool, kpitool.resources as r; print(kpitool.__file__, r.BUNDLED_RULES)"
    done = subprocess.run([str(python), "-c", code], cwd=tmp_path, capture_output=True, text=True)
    where, rules = done.stdout.split()
    assert str(ROOT) not in where and str(ROOT) not in rules
    assert Path(rules).is_dir() and Path(rules).parent.name == "bundled"


def test_a_wheel_runs_from_an_empty_folder(kpitool_bin: Path, tmp_path: Path) -> None:
    _run(kpitool_bin, tmp_path, "rules", "validate")
    done = _run(kpitool_bin, tmp_path, "evaluate", "--month", "2015-03", "--format", "json")
    rows = json.loads(done.stdout)
    assert {row["period"] for row in rows} == {"2015-03"}
    assert {row["rule_id"] for row in rows} == {rule.id for rule in load_rules()}
    _run(kpitool_bin, tmp_path, "report", "--month", "2015-03", "--out", "X", "--branch", "B01")
    made = {p.name for p in (tmp_path / "X" / "2015-03").rglob("*") if p.is_file()}
    assert any(name.endswith(".pdf") for name in made)
    assert any(name.endswith(".html") for name in made)
    shutil.rmtree(tmp_path / "X")
