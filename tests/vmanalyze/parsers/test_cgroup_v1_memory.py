"""cgroup v1 memory files of a real capture, including a cgroup that just OOM-killed a task."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers import match_sources
from vmanalyze.parsers.cgroup_v1_memory import (
    parse_memory_bytes,
    parse_memory_oom_control,
    parse_memory_stat,
)

V1 = "sys/fs/cgroup/memory"
OOMTEST = f"{V1}/vmtriage-oomtest"

# awk '{printf "\"%s\": %s,\n", $1, $2}' sys/fs/cgroup/memory/vmtriage-oomtest/memory.stat
EXPECTED_OOMTEST_STAT = {
    "cache": 0,
    "rss": 0,
    "rss_huge": 0,
    "shmem": 0,
    "mapped_file": 0,
    "dirty": 0,
    "writeback": 0,
    "workingset_refault_anon": 0,
    "workingset_refault_file": 0,
    "swap": 0,
    "swapcached": 0,
    "pgpgin": 16351,
    "pgpgout": 16351,
    "pgfault": 16352,
    "pgmajfault": 0,
    "inactive_anon": 0,
    "active_anon": 0,
    "inactive_file": 0,
    "active_file": 0,
    "unevictable": 0,
    "hierarchical_memory_limit": 67108864,
    "hierarchical_memsw_limit": 9223372036854771712,
    "total_cache": 0,
    "total_rss": 0,
    "total_rss_huge": 0,
    "total_shmem": 0,
    "total_mapped_file": 0,
    "total_dirty": 0,
    "total_writeback": 0,
    "total_workingset_refault_anon": 0,
    "total_workingset_refault_file": 0,
    "total_swap": 0,
    "total_swapcached": 0,
    "total_pgpgin": 16351,
    "total_pgpgout": 16351,
    "total_pgfault": 16352,
    "total_pgmajfault": 0,
    "total_inactive_anon": 0,
    "total_active_anon": 0,
    "total_inactive_file": 0,
    "total_active_file": 0,
    "total_unevictable": 0,
}


def test_memory_stat_whole_record(fixture_text):
    assert parse_memory_stat(fixture_text(f"{OOMTEST}/memory.stat")) == EXPECTED_OOMTEST_STAT


def test_root_memory_stat_has_the_same_keys(fixture_text):
    root = parse_memory_stat(fixture_text(f"{V1}/memory.stat"))
    assert list(root) == list(EXPECTED_OOMTEST_STAT)
    assert root["hierarchical_memory_limit"] == 9223372036854771712  # no limit at the root


def test_oom_control_after_an_oom_kill(fixture_text):
    assert parse_memory_oom_control(fixture_text(f"{OOMTEST}/memory.oom_control")) == {
        "oom_kill_disable": 0,
        "under_oom": 0,
        "oom_kill": 1,
    }
    assert parse_memory_oom_control(fixture_text(f"{V1}/memory.oom_control"))["oom_kill"] == 0


@pytest.mark.parametrize(
    ("name", "root", "oomtest"),
    [
        # cat memory.<name> in the root and in vmtriage-oomtest
        ("memory.usage_in_bytes", 1585401856, 131072),
        ("memory.limit_in_bytes", 9223372036854771712, 67108864),
        ("memory.max_usage_in_bytes", 1675243520, 67108864),
        ("memory.failcnt", 0, 36),
    ],
)
def test_single_value_files(fixture_text, name, root, oomtest):
    assert match_sources(f"{OOMTEST}/{name}") == ["cgroup_v1_memory_bytes"]
    assert parse_memory_bytes(fixture_text(f"{V1}/{name}")) == root
    assert parse_memory_bytes(fixture_text(f"{OOMTEST}/{name}")) == oomtest


def test_registry_keeps_v1_stat_out_of_the_v2_table():
    assert match_sources(f"{OOMTEST}/memory.stat") == ["cgroup_v1_memory_stat"]
    assert match_sources(f"{V1}/memory.oom_control") == ["cgroup_v1_memory_oom_control"]


def test_pre_4_13_oom_control_has_no_oom_kill():
    parsed = parse_memory_oom_control("oom_kill_disable 0\nunder_oom 1\n")
    assert parsed == {"oom_kill_disable": 0, "under_oom": 1, "oom_kill": None}


def test_errors():
    with pytest.raises(ParseError):
        parse_memory_bytes("-\n")
    with pytest.raises(ParseError):
        parse_memory_stat("cache\n")
    with pytest.raises(SkipSource):
        parse_memory_bytes("")
