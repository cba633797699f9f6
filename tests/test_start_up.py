"""The process around the commands: Ctrl-C while kpitool starts, and a terminal whose locale
cannot encode Chinese (issue 19, item 9). Run as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kpitool

SRC = str(Path(kpitool.__file__).resolve().parents[1])


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, **extra}


def _loading_polars(pid: int) -> bool:
    """Whether the process has started importing the commands (Polars' library mapped)."""
    try:
        return "polars" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kpitool", "rules", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 30
    while not _loading_polars(process.pid) and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert err.decode() == "Error: interrupted\n"
    assert process.returncode == 130


@pytest.mark.parametrize(
    "locale",
    [
        {"LC_ALL": "C", "PYTHONIOENCODING": "ascii"},
        {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "latin-1"},
    ],
)
def test_chinese_tables_on_a_terminal_that_cannot_encode_them(
    tmp_path: Path, locale: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kpitool", "rules", "show", "counter.queue_time_avg"],
        capture_output=True,
        env=_env(**locale),
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Traceback" not in result.stderr
    assert b"counter.queue_time_avg" in result.stdout
    assert b"?" in result.stdout  # what cannot be encoded is replaced
