"""Parse the LIVE /proc of the machine running the tests and check it is self-consistent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.buddyinfo import parse_buddyinfo
from vmanalyze.parsers.meminfo import parse_meminfo
from vmanalyze.parsers.pid_stat import parse_pid_stat
from vmanalyze.parsers.pid_status import parse_pid_status
from vmanalyze.parsers.vmstat import parse_vmstat
from vmanalyze.parsers.zoneinfo import parse_zoneinfo, parse_zoneinfo_node_stats

PROC = Path("/proc")
pytestmark = pytest.mark.skipif(
    not (PROC / "meminfo").exists(), reason="needs a Linux /proc (the analyzer's CI host has one)"
)


def _read(name: str) -> str:
    return (PROC / name).read_text()


def test_meminfo_total_matches_sysconf():
    meminfo = parse_meminfo(_read("meminfo"))
    # Both are totalram_pages; allow 1 MiB for memory hot-plug between the two reads.
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(meminfo["mem_total_bytes"] - physical) <= 1 << 20
    assert 0 < meminfo["mem_free_bytes"] <= meminfo["mem_total_bytes"]


def test_vmstat_and_zoneinfo_agree_on_free_pages():
    vmstat = parse_vmstat(_read("vmstat"))
    zones = parse_zoneinfo(_read("zoneinfo"))
    assert zones and all(z["pages_free"] is not None for z in zones)
    assert all(z["min"] <= z["low"] <= z["high"] for z in zones)
    zone_free = sum(z["pages_free"] for z in zones)
    # Two reads of a moving counter: allow 5 % drift.
    assert abs(vmstat["nr_free_pages"] - zone_free) <= max(1024, zone_free // 20)
    for key in ("allocstall", "pgsteal", "pgscan", "workingset_refault"):
        assert vmstat[key] is not None and vmstat[key] >= 0
    nodes = parse_zoneinfo_node_stats(_read("zoneinfo"))  # empty before 4.8
    assert [node["node"] for node in nodes] == sorted({z["node"] for z in zones})[: len(nodes)]


def test_buddyinfo_free_pages_are_positive_and_close_to_zoneinfo():
    rows = parse_buddyinfo(_read("buddyinfo"))
    total = sum(row["free_pages"] for row in rows)
    assert total > 0
    zone_free = sum(z["pages_free"] for z in parse_zoneinfo(_read("zoneinfo")))
    # buddyinfo leaves out the per-CPU lists: never more than zoneinfo's free pages, plus drift.
    assert total <= zone_free + max(1024, zone_free // 20)


def test_every_process_stat_parses_and_pid_matches_directory():
    checked = 0
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process exited while we listed /proc
        try:
            stat = parse_pid_stat(text)
        except ParseError as exc:  # pragma: no cover - a failure to show
            pytest.fail(f"{entry}/stat: {exc}")
        assert stat["pid"] == int(entry.name)
        assert stat["processor"] is not None and stat["exit_code"] is not None
        checked += 1
    assert checked >= 2


def test_own_status_and_stat_agree():
    stat = parse_pid_stat(_read("self/stat"))
    status = parse_pid_status(_read("self/status"))
    assert stat["pid"] == status["pid"] == os.getpid()
    assert stat["num_threads"] == status["threads"]
    assert stat["comm"] == status["name"]
