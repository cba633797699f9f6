"""A period's report folder is one set: the manifest lists exactly its files and their
hashes, unchanged pages reuse their PDFs, a --branch run keeps the other branches' files,
and a full disk leaves the previous set whole."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from kpitool.api import report as render_reports
from test_outputs import _tmpfs
from test_report import _data, _pdf_text

from builders import write_dataset

CLAIMS = [
    ("c1", "B1", "2015-03-02", "2015-03-04"),
    ("c2", "B1", "2015-03-03", "2015-03-08"),
    ("c3", "B1", "2015-03-04", "2015-03-20"),
    ("c4", "B2", "2015-03-05", "2015-03-06"),
]


def _claims(data: Path, extra: list[tuple[str, str, str, str]]) -> None:
    rows = [
        {"claim_id": c, "branch_id": b, "reported_at": r, "closed_at": s}
        for c, b, r, s in [*CLAIMS, *extra]
    ]
    write_dataset(data, "claims", rows)


def consistent(folder: Path) -> dict[str, Any]:
    """Assert the manifest lists exactly the folder's files with their hashes; return it."""
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text("utf-8"))
    names = sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")
    assert manifest["outputs"] == names
    assert sorted(manifest["files"]) == names
    for name in names:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert manifest["files"][name]["sha256"] == digest, name
    return manifest


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "manifest.json"}


def test_a_rerun_with_unchanged_inputs_renders_no_pdf_and_writes_the_same_bytes(
    tmp_path: Path,
) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    folder = out / "2015-03"
    first = _contents(folder)
    assert consistent(folder)["pdfs"] == {"rendered": 3, "reused": 0}
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    manifest = consistent(folder)
    assert manifest["pdfs"] == {"rendered": 0, "reused": 3}
    assert _contents(folder) == first
    files = manifest["files"]
    assert files["B1.pdf"]["content_sha256"] == files["B1.html"]["content_sha256"]  # one page
    assert manifest["pages_kept"] == 3
    assert sorted(p.name for p in out.iterdir()) == ["2015-03", "history.sqlite"]


def test_an_ordinary_rerun_keeps_unchanged_pages_whole_with_the_time_they_were_made(
    tmp_path: Path,
) -> None:
    # Without --reproducible every run stamps its pages with the time: a page whose content
    # is otherwise the same is kept, HTML and PDF, so the pair still shows one time.
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    render_reports("2015-03", data, out=out, progress=False)
    folder = out / "2015-03"
    first = _contents(folder)
    time.sleep(1.1)  # the stamp has whole seconds: the second run's differs
    render_reports("2015-03", data, out=out, progress=False)
    manifest = consistent(folder)
    assert manifest["pdfs"] == {"rendered": 0, "reused": 3}
    assert manifest["pages_kept"] == 3
    assert _contents(folder) == first
    stamp = re.search(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first["B1.html"])
    assert stamp is not None and manifest["generated"].encode() != stamp.group(0)


def test_a_change_only_one_branch_shows_renders_that_branch_and_the_company_again(
    tmp_path: Path,
) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    folder = out / "2015-03"
    first = _contents(folder)
    # The county's new name is on its page and the company's, not on the city's (a change
    # in its figures would change the city's page too: ranks, the company's figures).
    _data(data, county_name="沛县支公司")
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    manifest = consistent(folder)
    assert manifest["pdfs"] == {"rendered": 2, "reused": 1}
    now = _contents(folder)
    assert now["B1.pdf"] == first["B1.pdf"] and now["B1.html"] == first["B1.html"]
    assert now["B2.pdf"] != first["B2.pdf"] and now["company.pdf"] != first["company.pdf"]
    assert "沛县支公司" in _pdf_text(folder / "B2.pdf")


def test_a_change_in_a_branch_figure_renders_every_page_showing_it(tmp_path: Path) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    city = (out / "2015-03" / "B1.html").read_bytes()
    _claims(data, [("c5", "B2", "2015-03-05", "2015-03-30")])  # the county: 1 of 2 in 5 days
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    manifest = consistent(out / "2015-03")
    assert manifest["pdfs"] == {"rendered": 3, "reused": 0}  # the city's rank changed too
    assert (out / "2015-03" / "B1.html").read_bytes() != city


def test_a_run_for_one_branch_keeps_the_other_branches_files(tmp_path: Path) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    render_reports("2015-03", data, out=out, progress=False, reproducible=True)
    folder = out / "2015-03"
    first = _contents(folder)
    _claims(data, [("c5", "B1", "2015-03-10", "2015-03-11")])
    summary = render_reports(
        "2015-03", data, out=out, branches=["B1"], formats=["html"], progress=False
    )
    manifest = consistent(folder)
    assert manifest["branches"] == ["B1"]
    # B1's pages are this run's (its PDF, not asked for, is gone rather than left stale);
    # the county's stay as they were, as hard links of the previous set's files.
    assert manifest["outputs"] == ["B1.html", "B2.html", "B2.pdf", "index.html"]
    now = _contents(folder)
    assert now["B2.html"] == first["B2.html"] and now["B2.pdf"] == first["B2.pdf"]
    assert now["B1.html"] != first["B1.html"]
    assert set(summary.files) == set(folder.iterdir())


def test_a_full_disk_while_writing_pdfs_leaves_the_previous_set_whole(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    with _tmpfs(tmp_path / "small", "2m") as mount:
        out = mount / "out"
        render_reports("2015-03", data, out=out, progress=False, reproducible=True)
        folder = out / "2015-03"
        before = _contents(folder)
        pages = sum(len(v) for k, v in before.items() if k.endswith(".html"))
        filler = mount / "filler"
        # room for the new pages and the manifest, not for a PDF (about 300 kB each)
        with open(filler, "wb") as handle:
            handle.write(b"x" * (_free(mount) - pages - 150_000))
        result = cli(
            *("report", "-m", "2015-03", "--data", str(data), "--out", str(out)),
            *("--lang", "en"),  # every page changes, so every PDF is rendered again
        )
        assert result.exit_code == 2
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"Error: {folder}/") and ".pdf: " in result.stderr
        assert result.stderr.endswith(": cannot write: No space left on device\n")
        consistent(folder)
        assert _contents(folder) == before
        assert sorted(p.name for p in out.iterdir()) == ["2015-03", "history.sqlite"]


def _free(mount: Path) -> int:
    info = os.statvfs(mount)
    return info.f_bavail * info.f_frsize


def test_a_period_folder_that_is_a_file_is_refused_and_kept(cli, tmp_path: Path) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    out.mkdir()
    (out / "2015-03").write_text("not a report", encoding="utf-8")
    result = cli("report", "-m", "2015-03", "--data", str(data), "--out", str(out), "-f", "html")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {out / '2015-03'}: not a folder; remove it or choose another --out\n"
    )
    assert (out / "2015-03").read_text(encoding="utf-8") == "not a report"
    assert sorted(p.name for p in out.iterdir()) == ["2015-03"]


def test_a_two_rename_swap_cut_between_its_renames_is_repaired_by_the_next_run(
    tmp_path: Path,
) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    render_reports("2015-03", data, out=out, formats=["html"], progress=False, reproducible=True)
    county = (out / "2015-03" / "B2.html").read_bytes()
    # where a system without renameat2 stops after renaming the live set aside
    (out / "2015-03").rename(out / ".2015-03.old")
    render_reports("2015-03", data, out=out, branches=["B1"], formats=["html"], progress=False)
    assert (out / "2015-03" / "B2.html").read_bytes() == county  # kept from the restored set
    assert sorted(p.name for p in out.iterdir()) == ["2015-03", "history.sqlite"]
    consistent(out / "2015-03")
