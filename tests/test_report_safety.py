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
from test_report import _data, _pdf_text


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


def test_a_run_killed_while_rendering_leaves_the_previous_report_whole(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    out = tmp_path / "out"
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    folder = out / "2015-03"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # A second run, killed in the middle of writing its PDFs.
    run = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "kpitool"),
            "report",
            "--month",
            "2015-03",
            "--data",
            str(data),
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    writing = False
    while run.poll() is None and not writing:
        writing = any(p.name.endswith(".tmp") and ".pdf." in p.name for p in folder.iterdir())
        time.sleep(0.01)
    assert writing, "the second run ended before it was caught writing a PDF"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    for name, old in before.items():
        now = (folder / name).read_bytes()
        if now != old:  # replaced: then it is a complete new file
            assert name.endswith(".html") or name.endswith(".json") or now.endswith(b"%%EOF\n")
    for pdf in folder.glob("*.pdf"):  # every PDF there is whole and readable
        assert "客服运营" in _pdf_text(pdf)
    # the next run clears the stale lock and the temporary files
    render_reports("2015-03", data, out=out, formats=["html"], progress=False)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def _children(pid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_pdf_workers_die_with_a_killed_report_run(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    data = _data(tmp_path / "data")
    out = tmp_path / "out"
    (out / "2015-03").mkdir(parents=True)
    run = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "kpitool"), "report", "-m", "2015-03"),
            *("--data", str(data), "--out", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 120
        while run.poll() is None and time.monotonic() < deadline:
            if any(".pdf." in p.name for p in (out / "2015-03").iterdir()):
                workers = _children(run.pid)
                break
            time.sleep(0.01)
        assert workers, "the run ended before it was caught writing a PDF"
        os.kill(run.pid, signal.SIGKILL)  # the main process only, not its group
        run.wait()
        deadline = time.monotonic() + 15
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if _running(w)]
    finally:
        os.killpg(run.pid, signal.SIGKILL)
