"""The tables built from real bundles, checked against the live files they came from."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import vmanalyze
from vmanalyze.dataset import parse
from vmanalyze.docs_gen import render_tables_page
from vmanalyze.inputs import read_input
from vmanalyze.tables import build_tables
from vmanalyze.tables_doc import REFERENCE_BUNDLE, TABLES

from .conftest import REPO, read_members, write_tar


@pytest.fixture(scope="module")
def live(live_bundle: Path) -> vmanalyze.dataset.Dataset:
    return parse(str(live_bundle))


def _field(path: str, n: int) -> int:
    """Field n (1-based, proc(5)) of a /proc/<pid>/stat line, split after the last ')'."""
    text = Path(path).read_text()
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[n - 3])


def test_meminfo_and_samples_match_the_host(live) -> None:
    meminfo = live.meminfo
    total_kb = int(re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())[1])
    assert (meminfo["mem_total_bytes"] == total_kb * 1024).all()
    assert list(live.samples["snapshot"]) == [-1, 0, 1, 2, 3, 4]  # start -1, end last + 1
    assert list(live.samples["phase"]) == ["start"] + ["sample"] * 4 + ["end"]
    assert list(meminfo["snapshot"]) == list(live.samples["snapshot"])
    assert meminfo["ts"].is_monotonic_increasing
    assert str(meminfo["ts"].dtype) == "datetime64[ns, UTC]"
    assert live.vmstat["pgmajfault"].is_monotonic_increasing


def test_process_tables_use_the_right_stat_fields(live) -> None:
    stat = live.pid_stat
    pid1 = stat[stat["pid"] == 1].iloc[-1]
    # Cumulative fault counters only grow: the bundle's last value is <= the live value now.
    assert pid1["majflt"] <= _field("/proc/1/stat", 12)
    assert pid1["minflt"] <= _field("/proc/1/stat", 10)
    assert pid1["starttime"] == _field("/proc/1/stat", 22)
    assert pid1["comm"] == Path("/proc/1/comm").read_text().strip()
    samples = live.process_samples
    assert set(samples["snapshot"]) == set(live.samples["snapshot"])
    assert (samples["rss_bytes"] == samples["rss"] * live.host["page_size"]).all()
    procs = live.processes
    assert procs["pid"].is_unique or procs.duplicated(["pid", "starttime"]).sum() == 0
    one = procs[procs["pid"] == 1].iloc[0]
    assert (
        one["cmdline"]
        == Path("/proc/1/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
    )


def test_configuration_tables_match_the_host(live) -> None:
    sysctl = live.sysctl_vm
    swappiness = sysctl[(sysctl["name"] == "swappiness")]
    assert list(swappiness["snapshot"]) == [-1, 4]  # the start and end snapshots
    assert int(swappiness["value_int"].iloc[0]) == int(Path("/proc/sys/vm/swappiness").read_text())
    thp = live.thp
    enabled = thp[thp["setting"] == "enabled"]["value"].iloc[0]
    # Compare with the captured bytes (the live setting may change after the capture).
    captured = read_input(live.source["input"]).files["sys/kernel/mm/transparent_hugepage/enabled"]
    assert f"[{enabled}]".encode() in captured[0][1]
    assert live.host["thp_enabled"] == enabled
    assert live.host["numa_nodes"] == len(
        [p for p in Path("/sys/devices/system/node").glob("node[0-9]*")]
    )


def test_every_table_is_documented_and_the_reference_is_fresh(live) -> None:
    documented = {doc.name for doc in TABLES}
    assert set(live.tables) == documented
    reference = REPO / REFERENCE_BUNDLE
    if not reference.exists():
        pytest.skip(f"{REFERENCE_BUNDLE} not present")
    expected = render_tables_page(parse(str(reference)).tables, str(REFERENCE_BUNDLE))
    current = (REPO / "docs" / "tables.md").read_text()
    assert current == expected, (
        "docs/tables.md is stale: run `python -m vmanalyze.docs_gen tables > docs/tables.md`"
    )


def test_absent_values_are_null_not_zero(live) -> None:
    samples = live.process_samples
    # pid_status is read only for the largest processes each sample: the others' split is null.
    assert samples["rss_anon_bytes"].isna().any()
    assert not (samples["rss_anon_bytes"].fillna(-1) == 0).all()
    assert str(samples["rss_anon_bytes"].dtype) == "Int64"


def test_garbage_in_one_sample_costs_that_sample(tmp_path: Path, live_bundle: Path) -> None:
    members = read_members(live_bundle)
    out = []
    for m, d in members:
        if m.name == "proc/meminfo":
            start = d.index(b"@@ vmcollect 1 ")
            nl = d.index(b"\n", start)
            length = int(d[start:nl].split()[-1])
            body = b"this is: not meminfo at all\n".ljust(length, b"x")[:length]
            d = d[: nl + 1] + body + d[nl + 1 + length :]
        out.append((m, d))
    captured = read_input(str(write_tar(tmp_path / "garbage.tar.gz", out)))
    tables, warnings = build_tables(captured)
    assert list(tables["meminfo"]["snapshot"]) == [-1, 0, 2, 3, 4]
    assert any(w.startswith("sample 1: proc/meminfo: unreadable") for w in warnings)
    health = tables["collection_health"]
    assert (health["outcome"] == "unparsable").sum() == 1


def test_sosreport_directory_is_one_sample(tmp_path: Path) -> None:
    top = tmp_path / "sosreport-db01"
    for rel in (
        "proc/meminfo",
        "proc/vmstat",
        "proc/zoneinfo",
        "proc/sys/vm/overcommit_memory",
        "sys/kernel/mm/transparent_hugepage/enabled",
    ):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(Path("/" + rel).read_bytes())
    (top / "sos_commands").mkdir()
    ds = parse(str(top))
    assert ds.source["kind"] == "sosreport" and ds.source["samples"] == 1
    assert list(ds.meminfo["snapshot"]) == [0]
    assert list(ds.samples["phase"]) == ["sample"]
    assert ds.host["overcommit_memory"] == int(Path("/proc/sys/vm/overcommit_memory").read_text())


def test_export_reads_back_with_pandas_pyarrow_and_duckdb(
    tmp_path: Path, live_bundle: Path, cache_dir: Path
) -> None:
    import duckdb
    import pyarrow.parquet as pq

    out = tmp_path / "export"
    proc = subprocess.run(
        [sys.executable, "-m", "vmanalyze", "export", str(live_bundle), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    ds = parse(str(live_bundle))
    for name, df in ds.tables.items():
        path = out / f"{name}.parquet"
        assert path.exists(), name
        back = pd.read_parquet(path)
        assert len(back) == len(df) and list(back.columns) == list(df.columns), name
        assert pq.read_table(path).num_rows == len(df)
    con = duckdb.connect()
    total = con.execute(f"select max(mem_total_bytes) from '{out / 'meminfo.parquet'}'").fetchone()[
        0
    ]
    assert total == ds.meminfo["mem_total_bytes"].max()
    majflt = con.execute(
        f"select sum(majflt) from '{out / 'pid_stat.parquet'}' p join '{out / 'samples.parquet'}' "
        "s using (snapshot) where s.phase = 'end'"
    ).fetchone()[0]
    end = ds.samples.loc[ds.samples["phase"] == "end", "snapshot"].item()
    assert majflt == ds.pid_stat[ds.pid_stat["snapshot"] == end]["majflt"].sum()


def test_second_load_comes_from_the_cache(live_bundle: Path, cache_dir: Path) -> None:
    first = vmanalyze.load(live_bundle)
    assert first.source["cached"] is False
    assert len(list(cache_dir.iterdir())) == 1
    second = vmanalyze.load(live_bundle)
    assert second.source["cached"] is True
    for name in ("meminfo", "pid_stat", "host", "samples"):
        pd.testing.assert_frame_equal(first[name], second[name], check_dtype=False)
    fresh = vmanalyze.load(live_bundle, cache=False)
    assert "cached" not in fresh.source


def test_pid_stat_edge_cases_comm_with_parens_and_old_kernels() -> None:
    # Lines a live host will not produce on demand: a comm with ") " inside, and the 44-field
    # line of a 2.6 kernel whose missing trailing fields must be null, not 0.
    from vmanalyze.inputs import CapturedInput, Snapshot
    from vmanalyze.tables import TableBuilder

    files = {
        "proc/5/stat": [
            (
                "0",
                b"5 (a) b) c) S 1 5 5 0 -1 4194560 10 0 12 0 3 4 0 0 20 0 1 0 77 1000 5 "
                b"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
            )
        ],
        "proc/6/stat": [("0", b"6 (old) S 1 6 6 0 -1 4202752 1 2 3 4 5 6 7 8 20 0 1 0 3\n")],
    }
    captured = CapturedInput("x", "directory", "h", {"host": {}}, [Snapshot("0", 0)], files)
    df = TableBuilder(captured).pid_stat().set_index("pid")
    assert df.loc[5, "comm"] == "a) b) c" and df.loc[5, "state"] == "S"
    assert (df.loc[5, "minflt"], df.loc[5, "majflt"], df.loc[5, "rss"]) == (10, 12, 5)
    assert df.loc[5, "processor"] == 1
    assert df.loc[6, "starttime"] == 3
    assert pd.isna(df.loc[6, "vsize"]) and pd.isna(df.loc[6, "processor"])


def test_pid_status_table_agrees_with_the_full_parser_on_every_live_process() -> None:
    """The table's one-pass extraction gives what parse_pid_status gives, field by field."""
    from vmanalyze.inputs import CapturedInput, Snapshot
    from vmanalyze.parsers.pid_status import PID_STATUS_FIELDS, parse_pid_status
    from vmanalyze.tables import TableBuilder

    files = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            files[f"proc/{status.parent.name}/status"] = [("0", status.read_bytes())]
        except OSError:
            continue
    expected = {int(p.split("/")[1]): parse_pid_status(d[0][1].decode()) for p, d in files.items()}
    captured = CapturedInput("live", "directory", "h", {"host": {}}, [Snapshot("0", 0)], files)
    table = TableBuilder(captured).pid_status().set_index("pid")
    assert len(table) == len(expected) > 10
    for pid, full in expected.items():
        row = table.loc[pid]
        for _key, column, _kind in PID_STATUS_FIELDS:
            want = full.get(column)
            got = row[column]
            if column in ("cpus_allowed_list", "mems_allowed_list"):
                assert (got is None) == (want is None), (pid, column)
                continue
            if want is None:
                assert pd.isna(got), (pid, column, got)
            else:
                assert got == want, (pid, column, got, want)
