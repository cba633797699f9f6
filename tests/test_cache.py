"""The cache: a cached run equals a cold one, a changed file invalidates exactly what reads it,
a corrupt entry is rebuilt and never used, the folder is private and the size bounded."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import kpitool
from kpitool.api import cache_info, cache_stats, clear_cache, use_cache

from builders import DEFAULT_BRANCHES, write_dataset

Delta = Callable[[], dict[str, int]]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kpitool.sample.generate import generate_sample_data

    folder = tmp_path_factory.mktemp("sample") / "data"
    generate_sample_data(folder, seed=3, branches=2)
    return folder


@pytest.fixture
def data(generated: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(generated, tmp_path / "data"))


def _since() -> Delta:
    """The cache hits and misses counted after this call."""
    before = cache_stats()
    return lambda: {
        k: v - before.get(k, 0) for k, v in cache_stats().items() if v != before.get(k, 0)
    }


def _cache_root() -> Path:
    return Path(os.environ["KPITOOL_CACHE"])


def test_a_cached_run_equals_a_cold_run_byte_for_byte(cli, data: Path, tmp_path: Path) -> None:
    outputs = []
    for run, flags in enumerate([["--no-cache"], [], [], ["--no-cache"]]):
        out = tmp_path / f"run{run}.json"
        result = cli(
            *flags, "evaluate", "-m", "2015-03", "--data", str(data), "-f", "json", "-o", str(out)
        )
        assert result.exit_code == 0, result.stderr
        listed = cli(
            *flags,
            "exceptions",
            "claims.mandatory_investigation",
            "-m",
            "2015-03",
            "--data",
            str(data),
            "-f",
            "json",
        )
        assert listed.exit_code == 0, listed.stderr
        outputs.append((out.read_bytes(), listed.stdout))
    assert outputs[0] == outputs[1] == outputs[2] == outputs[3]
    assert json.loads(outputs[0][0])  # results, not an empty list
    assert json.loads(outputs[0][1])


def test_a_rerun_takes_every_plan_and_check_from_the_cache(data: Path) -> None:
    cold = kpitool.evaluate("2015-03", data)
    first = kpitool.check_data(kpitool.open_data(data))
    delta = _since()
    warm = kpitool.evaluate("2015-03", data)
    again = kpitool.check_data(kpitool.open_data(data))
    counts = delta()
    assert counts.get("plan.miss", 0) == 0 and counts["plan.hit"] > 0
    assert counts.get("check.miss", 0) == 0 and counts["check.hit"] > 0
    assert warm.equals(cold)
    assert again.to_dict() == first.to_dict()


def test_editing_claims_recomputes_the_claims_rules_only(data: Path) -> None:
    kpitool.evaluate("2015-03", data)
    claims = pl.read_parquet(data / "claims.parquet")
    claims.with_columns(pl.col("claimed_amount") * 2).write_parquet(data / "claims.parquet")

    delta = _since()
    others = kpitool.evaluate("2015-03", data, rule_ids=["callbacks.", "complaints."])
    counts = delta()
    assert counts.get("plan.miss", 0) == 0 and counts["plan.hit"] > 0

    delta = _since()
    fresh = kpitool.evaluate("2015-03", data, rule_ids=["claims."])
    counts = delta()
    # every plan reading claims runs again; the one that reads policies alone (the early
    # death index's denominator) still comes from the cache
    assert (counts["plan.miss"], counts["plan.hit"]) == (4, 1)

    use_cache(False)
    try:
        assert fresh.equals(kpitool.evaluate("2015-03", data, rule_ids=["claims."]))
        assert others.equals(
            kpitool.evaluate("2015-03", data, rule_ids=["callbacks.", "complaints."])
        )
    finally:
        use_cache(True)


HEADER = "ticket_id,counter_id,branch_id,arrived_at,called_at,finished_at,satisfaction\n"


def _visit(ticket: str, day: str, called: str = "09:10:00") -> str:
    return f"{ticket},C1,B1,{day} 09:00:00,{day} {called},{day} 09:15:00,5\n"


def _visits_folder(tmp_path: Path) -> Path:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path, "counters", [{"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"}]
    )
    folder = tmp_path / "counter_visits"
    folder.mkdir()
    return folder


def test_data_check_rechecks_only_the_changed_file(tmp_path: Path) -> None:
    folder = _visits_folder(tmp_path)
    for month in ("01", "02", "03"):
        (folder / f"2015-{month}.csv").write_text(
            HEADER + _visit(f"T{month}", f"2015-{month}-02"), encoding="utf-8"
        )
    source = kpitool.open_data(tmp_path)
    cold = kpitool.check_data(source).to_dict()
    (folder / "2015-02.csv").write_text(
        HEADER + _visit("T02", "2015-02-02", called="09:61:00"), encoding="utf-8"
    )
    delta = _since()
    report = kpitool.check_data(source)
    counts = delta()
    # only the edited file is checked again (its errors skip the keys and references check)
    assert counts["check.miss"] == 1
    # the other two months; branches and counters: their file and their keys
    assert counts["check.hit"] == 2 + 2 * 2
    errors = [(p.file, p.row, p.column) for p in report.problems if p.severity == "error"]
    assert errors == [(str(folder / "2015-02.csv"), 1, "called_at")]
    assert cold["ok"] and not report.ok


def _flip_every(kind: str, damage: Callable[[bytes], bytes]) -> int:
    entries = [
        p for p in (_cache_root() / kind).rglob("*") if p.is_file() and not p.name.endswith(".sum")
    ]
    for path in entries:
        path.write_bytes(damage(path.read_bytes()))
    return len(entries)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]),  # one byte flipped
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b"",
    ],
    ids=["flipped", "truncated", "empty"],
)
def test_a_corrupt_entry_is_rebuilt_never_used(
    data: Path, damage: Callable[[bytes], bytes]
) -> None:
    cold = kpitool.evaluate("2015-03", data)
    checked = kpitool.check_data(kpitool.open_data(data)).to_dict()
    damaged = _flip_every("plan", damage) + _flip_every("check", damage)
    assert damaged > 0
    delta = _since()
    assert kpitool.evaluate("2015-03", data).equals(cold)
    assert kpitool.check_data(kpitool.open_data(data)).to_dict() == checked
    counts = delta()
    assert counts["plan.corrupt"] + counts["check.corrupt"] == damaged
    delta = _since()
    kpitool.evaluate("2015-03", data)  # rebuilt: now every plan is a hit
    assert delta().get("plan.miss", 0) == 0


def test_a_corrupt_entry_is_reported_as_a_warning(cli, data: Path) -> None:
    assert cli("evaluate", "-m", "2015-03", "--data", str(data)).exit_code == 0
    _flip_every("plan", lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    result = cli("evaluate", "-m", "2015-03", "--data", str(data))
    assert result.exit_code == 0
    assert "cache entry" in result.stderr and "corrupt: deleted, rebuilding" in result.stderr


def _gbk(tmp_path: Path) -> Path:
    tmp_path.mkdir()
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    (tmp_path / "counters.csv").write_bytes(
        "counter_id,branch_id,counter_name\nC1,B1,一号柜面\nC2,B2,二号柜面\n".encode("gbk")
    )
    return tmp_path


def test_an_edited_transcoded_copy_is_not_used(tmp_path: Path) -> None:
    data = _gbk(tmp_path / "d")
    names = ["一号柜面", "二号柜面"]
    assert kpitool.open_data(data).scan("counters").collect()["counter_name"].to_list() == names
    [copy] = (_cache_root() / "utf8").rglob("*.csv")
    info = copy.stat()
    copy.write_bytes(copy.read_bytes().replace("二号".encode(), "一号".encode()))
    os.utime(copy, ns=(info.st_atime_ns, info.st_mtime_ns))  # same size and mtime
    delta = _since()
    frame = kpitool.open_data(data).scan("counters").collect()
    assert frame["counter_name"].to_list() == names
    assert delta()["utf8.corrupt"] == 1


def test_the_cache_folder_and_its_entries_are_private(tmp_path: Path) -> None:
    kpitool.open_data(_gbk(tmp_path / "d")).scan("counters").collect()
    root = _cache_root()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert list((root / "utf8").rglob("*.csv"))  # the GBK file's UTF-8 copy is in here
    for path in root.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_a_folder_others_can_write_or_another_user_owns_is_refused(cli, tmp_path: Path) -> None:
    data = _gbk(tmp_path / "d")
    root = _cache_root()
    root.mkdir(parents=True)
    root.chmod(0o777)
    result = cli("data", "check", "--data", str(data))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "writable by others" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    root.chmod(0o700)
    os.chown(root, 65534, 65534)
    result = cli("data", "check", "--data", str(data))
    assert result.exit_code == 2 and "belongs to another user" in result.stderr
    assert cli("--no-cache", "data", "check", "--data", str(data)).exit_code == 0


def test_an_unusable_home_is_one_error_line(cli, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.delenv("KPITOOL_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))
    result = cli("data", "check", "--data", str(_gbk(tmp_path / "d")))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {home}/.cache/kpitool: cannot use as the cache")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_gzip_compressed_month_is_read_and_checked(cli, tmp_path: Path) -> None:
    folder = _visits_folder(tmp_path)
    (folder / "2015-02.csv").write_text(HEADER + _visit("T1", "2015-02-02"), encoding="utf-8")
    month = HEADER + _visit("T2", "2015-03-02") + _visit("T3", "2015-03-03")
    (folder / "2015-03.csv.gz").write_bytes(gzip.compress(month.encode("gbk")))
    frame = kpitool.open_data(tmp_path).scan("counter_visits").collect()
    assert frame["ticket_id"].to_list() == ["T1", "T2", "T3"]
    result = cli("data", "check", "--data", str(tmp_path), "-f", "json")
    summary = {d["dataset"]: d for d in json.loads(result.stdout)["datasets"]}
    assert (summary["counter_visits"]["files"], summary["counter_visits"]["rows"]) == (2, 3)
    (folder / "2015-03.csv").write_text(HEADER, encoding="utf-8")
    result = cli("data", "check", "--data", str(tmp_path), "-f", "json")
    assert result.exit_code == 2
    assert "2015-03.csv and 2015-03.csv.gz hold the same part" in result.stdout + result.stderr


def test_eviction_keeps_the_cache_under_its_bound(data: Path, monkeypatch) -> None:
    monkeypatch.setenv("KPITOOL_CACHE_SIZE", "64K")
    use_cache(True, size="64K")
    cold = kpitool.evaluate("2015-03", data)
    kpitool.check_data(kpitool.open_data(data))
    info = cache_info()
    assert 0 < info.bytes <= 64 * 1024 == info.limit
    assert kpitool.evaluate("2015-03", data).equals(cold)
    assert cache_info().bytes <= 64 * 1024


def test_eviction_drops_the_least_recently_used_first(tmp_path: Path) -> None:
    from kpitool.cache import Store

    store = Store(tmp_path / "c", limit=3 * 1100)
    for name in ("a", "b", "c"):
        store.put("t", name * 8, bytes(1000))
    for age, name in enumerate(("b", "a", "c")):  # b used longest ago
        path = next((store.root / "t").rglob(name * 8))
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    store.put("t", "d" * 8, bytes(1000))
    left = sorted(p.name for p in (store.root / "t").rglob("*") if p.is_file())
    assert left == ["aaaaaaaa", "cccccccc", "dddddddd"]


def test_no_cache_writes_nothing_and_clear_empties_it(cli, data: Path) -> None:
    assert cli("--no-cache", "evaluate", "-m", "2015-03", "--data", str(data)).exit_code == 0
    assert not _cache_root().exists() or cache_info().entries == 0
    assert cli("evaluate", "-m", "2015-03", "--data", str(data)).exit_code == 0
    shown = json.loads(cli("cache", "info", "-f", "json").stdout)
    assert shown["location"] == str(_cache_root()) and shown["entries"] > 0
    assert shown["limit"] == 2 << 30
    result = cli("cache", "clear")
    assert result.exit_code == 0 and f"removed {shown['entries']} cache entries" in result.stdout
    assert cache_info().entries == 0
    assert clear_cache() == 0


def test_the_bound_comes_from_kpitool_toml_or_the_environment(
    cli, tmp_path: Path, monkeypatch
) -> None:
    settings = tmp_path / "kpitool.toml"
    settings.write_text('cache_size = "1M"\n', encoding="utf-8")
    shown = cli("--config", str(settings), "cache", "info", "-f", "json")
    assert json.loads(shown.stdout)["limit"] == 1 << 20
    monkeypatch.setenv("KPITOOL_CACHE_SIZE", "64K")
    shown = cli("--config", str(settings), "cache", "info", "-f", "json")
    assert json.loads(shown.stdout)["limit"] == 64 << 10
    settings.write_text('cache_size = "lots"\n', encoding="utf-8")
    monkeypatch.delenv("KPITOOL_CACHE_SIZE")
    result = cli("--config", str(settings), "cache", "info")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {settings}: cache_size: 'lots' is not a size (e.g. 2G, 500M)\n"


def test_a_rerun_report_recomputes_nothing_and_writes_the_same_pages(
    cli, data: Path, tmp_path: Path
) -> None:
    def run(out: Path, *flags: str) -> dict[str, bytes]:
        result = cli(
            *flags,
            "report",
            "-m",
            "2015-03",
            "--data",
            str(data),
            "-f",
            "html",
            "--reproducible",
            "--out",
            str(out),
        )
        assert result.exit_code == 0, result.stderr
        return {p.name: p.read_bytes() for p in sorted((out / "2015-03").glob("*.html"))}

    cold = run(tmp_path / "cold", "--no-cache")
    first = run(tmp_path / "first")
    delta = _since()
    again = run(tmp_path / "again")
    counts = delta()
    # (files written in the last 2 s are hashed again: their times could hide an edit)
    assert [k for k in counts if k.endswith(".miss") and k != "stat.miss"] == []
    assert counts["plan.hit"] > 0 and counts["check.hit"] > 0 and counts["latest.hit"] > 0
    assert len(cold) == 3 and cold == first == again  # two branches and the company
