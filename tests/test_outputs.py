"""Where outputs go: special files written in place, folders refused, full disks and
unwritable targets reported in one line, locks that cannot be trusted never echoed."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_report import _data

from builders import DEFAULT_BRANCHES, write_dataset

QUERY = "SELECT claim_id FROM claims ORDER BY claim_id"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(folder, "claims", [{"claim_id": f"c{i}", "branch_id": "B1"} for i in range(3)])
    return folder


def _query(cli, data: Path, output: Path | str, fmt: str = "csv"):
    return cli("query", QUERY, "--data", str(data), "--format", fmt, "--output", str(output))


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small real filesystem (root only), to fill up."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_output_to_a_character_device_writes_it_and_keeps_the_device(
    cli, data_dir: Path, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    for fmt in ("csv", "json", "parquet"):
        result = _query(cli, data_dir, null, fmt)
        assert result.exit_code == 0, result.stderr
        assert stat.S_ISCHR(null.stat().st_mode), f"{fmt}: the device was replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "null"]


def test_output_to_a_fifo_reaches_its_reader(cli, data_dir: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = _query(cli, data_dir, fifo)
    reader.join(timeout=20)
    assert result.exit_code == 0, result.stderr
    assert received == [b"claim_id\nc0\nc1\nc2\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_output_dash_is_stdout(cli, data_dir: Path) -> None:
    result = _query(cli, data_dir, "-", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [{"claim_id": "c0"}, {"claim_id": "c1"}, {"claim_id": "c2"}]


def test_output_to_a_folder_is_a_one_line_error(cli, data_dir: Path, tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        result = _query(cli, data_dir, tmp_path, fmt)
        assert result.exit_code == 2
        assert result.stderr == f"Error: {tmp_path}: is a folder; give a file name\n"


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_a_full_disk_is_a_one_line_error_and_leaves_no_file(cli, tmp_path: Path, fmt: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_dataset(data, "branches", DEFAULT_BRANCHES)
    ids = (hashlib.sha256(str(i).encode()).hexdigest() for i in range(20000))  # incompressible
    rows = [{"claim_id": claim_id, "branch_id": "B1"} for claim_id in ids]
    write_dataset(data, "claims", rows)
    with _tmpfs(tmp_path / "small", "64k") as small:
        result = _query(cli, data, small / "out", fmt)
        assert result.exit_code == 2, result.stderr
        assert result.stderr == f"Error: {small / 'out'}: cannot write: No space left on device\n"
        assert list(small.iterdir()) == []


def _report(cli, data: Path, out: Path):
    return cli("report", "--month", "2015-03", "--data", str(data), "--out", str(out), "-f", "html")


def test_report_out_a_regular_file_is_a_one_line_error(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    target = tmp_path / "out"
    target.write_text("not a folder", encoding="utf-8")
    result = _report(cli, data, target)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {target / '2015-03'}: cannot write the report here: Not a directory\n"
    )


def test_report_in_a_read_only_folder_is_a_one_line_error(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    with _tmpfs(tmp_path / "ro", "1m") as mount:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        result = _report(cli, data, mount / "out")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {mount / 'out' / '2015-03'}: cannot write the report here: Read-only file system\n"
    )


def test_a_full_disk_while_taking_the_lock_leaves_no_lock(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    with _tmpfs(tmp_path / "full", "1m") as mount:
        (mount / "out").mkdir()
        filler = mount / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as handle:
            handle.write(b"x" * (2 << 20))
        result = _report(cli, data, mount / "out")
        assert result.exit_code == 2
        assert "No space left on device" in result.stderr
        assert list((mount / "out").iterdir()) == []  # no empty lock to block every later run
        filler.unlink()
        again = _report(cli, data, mount / "out")
        assert again.exit_code == 0, again.stderr


@pytest.mark.parametrize("content", ["", "\x00\x01garbage", "notapid host"])
def test_an_empty_or_garbage_lock_is_taken_over(cli, tmp_path: Path, content: str) -> None:
    data = _data(tmp_path / "data")
    folder = tmp_path / "out" / "2015-03"
    lock = tmp_path / "out" / ".2015-03.kpitool.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(content, encoding="utf-8")
    result = _report(cli, data, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert not lock.exists()
    assert (folder / "B1.html").is_file()


def test_a_lock_that_is_a_symlink_is_refused_without_echoing_its_target(
    cli, tmp_path: Path
) -> None:
    data = _data(tmp_path / "data")
    secret = tmp_path / "secret.txt"
    secret.write_text("123 s3cr3t-password here", encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".2015-03.kpitool.lock").symlink_to(secret)
    result = _report(cli, data, tmp_path / "out")
    assert result.exit_code == 2
    assert "s3cr3t" not in result.stderr
    assert "not a kpitool lock" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert secret.read_text(encoding="utf-8") == "123 s3cr3t-password here"


def test_branch_ids_with_the_same_safe_name_get_distinct_reports(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data", county_id="/B1")  # cleans to "B1", like the city's id
    result = _report(cli, data, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "out" / "2015-03"
    suffix = {"B1": "5b950e77", "/B1": "baf26404"}
    assert sorted(p.name for p in folder.glob("B1*.html")) == sorted(
        f"B1-{h}.html" for h in suffix.values()
    )
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert len(set(manifest["outputs"])) == len(manifest["outputs"]) == 3
    assert "丰县支公司" in (folder / f"B1-{suffix['/B1']}.html").read_text(encoding="utf-8")
