"""Reports under concurrency and interruption: the month's lock, stale locks, a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpitool.api import report as render_reports
from test_report import _data
from test_report_set import consistent


def test_a_second_run_for_the_same_month_exits_2_naming_the_first(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".2015-03.kpitool.lock").write_text(
        f"{os.getpid()} {os.uname().nodename} 2015-04-01 06:30:00\n", encoding="utf-8"
    )
    result = cli(
        "report",
        "--month",
        "2015-03",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--format",
        "html",
    )
    assert result.exit_code == 2
    assert f"another kpitool run (pid {os.getpid()}" in result.stderr
    assert "since 2015-04-01 06:30:00" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [".2015-03.kpitool.lock"]


def test_a_stale_lock_is_taken_over_and_a_stale_staging_folder_cleared(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    out = tmp_path / "out"
    folder = out / "2015-03"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".2015-03.kpitool.lock").write_text(
        f"{dead.pid} {os.uname().nodename} earlier\n", encoding="utf-8"
    )
    (folder / ".B1.html.abc123.tmp").write_text("half a page", encoding="utf-8")
    (out / ".2015-03.staging").mkdir()
    (out / ".2015-03.staging" / "B1.pdf").write_text("half a PDF", encoding="utf-8")
    render_reports("2015-03", data, out=out, formats=["html"], progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["2015-03", "history.sqlite"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "B1.html",
        "B2.html",
        "index.html",
        "manifest.json",
    ]


def test_unmask_shows_phones_and_the_manifest_says_so(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    render_reports(
        "2015-03", data, out=tmp_path / "out", formats=["html"], progress=False, unmask=True
    )
    folder = tmp_path / "out" / "2015-03"
    assert "13800005678" in (folder / "B1.html").read_text(encoding="utf-8")
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["unmasked"] is True


@pytest.fixture(scope="module")
def four_branches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample data of four branches: five PDFs, so the PDF stage lasts a few seconds."""
    folder = tmp_path_factory.mktemp("sample") / "data"
    subprocess.run(
        [KPITOOL, "sample-data", "--seed", "3", "--branches", "4", "--out", str(folder)],
        check=True,
        capture_output=True,
    )
    return folder


KPITOOL = str(Path(sys.executable).parent / "kpitool")


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (the PDF workers, the resource tracker)."""
    parents: dict[int, int] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat_file.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        here = todo.pop()
        children = [child for child, parent in parents.items() if parent == here]
        found.extend(children)
        todo.extend(children)
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _second_run_in_its_pdf_stage(data: Path, out: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """A report run over a complete previous set, caught once its first PDF is in staging
    (its pages differ from the previous set's, so every PDF is rendered); with its workers."""
    run = subprocess.Popen(
        # in English: every page differs from the first set's, so every PDF is rendered
        [
            KPITOOL,
            "report",
            "-m",
            "2015-03",
            "--data",
            str(data),
            "--out",
            str(out),
            "--lang",
            "en",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    staging = out / ".2015-03.staging"
    deadline = time.monotonic() + 180
    while run.poll() is None and time.monotonic() < deadline:
        if staging.is_dir() and any(p.suffix == ".pdf" for p in staging.glob("[!.]*")):
            return run, _descendants(run.pid)
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    raise AssertionError("the second run ended before it was caught writing its PDFs")


def _first_set(data: Path, out: Path) -> dict[str, bytes]:
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    folder = out / "2015-03"
    consistent(folder)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _running(p)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_run_leaves_the_old_set_and_no_process_and_the_next_run_cleans_up(
    four_branches: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    before = _first_set(four_branches, out)
    run, below = _second_run_in_its_pdf_stage(four_branches, out)
    try:
        assert len(below) >= 2, "no PDF workers seen"
        os.kill(run.pid, signal.SIGKILL)  # the main process only, not its group
        run.wait()
        assert not _gone(below, 15), "PDF workers or the resource tracker outlived the run"
        folder = out / "2015-03"
        consistent(folder)
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    finally:
        os.killpg(run.pid, signal.SIGKILL)
    assert (out / ".2015-03.staging").is_dir()  # what the killed run left
    render_reports("2015-03", four_branches, out=out, formats=["html"], progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["2015-03", "history.sqlite"]
    consistent(out / "2015-03")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_sigint_in_the_pdf_stage_removes_the_staging_set(
    four_branches: Path, tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "out"
    before = _first_set(four_branches, out)
    run, below = _second_run_in_its_pdf_stage(four_branches, out)
    try:
        os.kill(run.pid, signum)
        _, err = run.communicate(timeout=60)
        assert run.returncode == code
        assert err == "Error: interrupted\n"
        assert not _gone(below, 10)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
    assert sorted(p.name for p in out.iterdir()) == ["2015-03", "history.sqlite"]
    folder = out / "2015-03"
    consistent(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
