"""Branch ids that clean to the same file name, or to a company file's, never overwrite
another report (issue 19, item 10)."""

from __future__ import annotations

import json
from pathlib import Path

from builders import write_dataset

IDS = ["B/08", "B_08", "index", "company"]


def test_every_branch_gets_its_own_files(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_dataset(
        data,
        "branches",
        [{"branch_id": b, "branch_name": f"机构{i}", "level": "city"} for i, b in enumerate(IDS)],
    )
    out = tmp_path / "out"
    result = cli(
        "report",
        "-m",
        "2015-03",
        "--data",
        str(data),
        "--out",
        str(out),
        "-f",
        "html",
        "--allow-empty",
    )
    assert result.exit_code == 0, result.stderr
    folder = out / "2015-03"
    pages = sorted(p.name for p in folder.glob("*.html"))
    assert len(pages) == len(IDS) + 1  # and the company's index.html
    assert "B_08.html" not in pages and "company.html" not in pages
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["branches"] == IDS
    outputs = manifest["outputs"]
    assert len(outputs) == len(set(outputs)) == len(IDS) + 1
    assert sorted(outputs) == pages
