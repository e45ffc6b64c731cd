"""cgroup v2 memory files.

The development VM mounts cgroup v2 at /sys/fs/cgroup/unified without the memory controller
(it is bound to the v1 hierarchy), so only memory.pressure could be captured for real; the other
files are short inline samples in the documented format (Documentation/admin-guide/cgroup-v2.rst).
"""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers import match_sources
from vmanalyze.parsers.cgroup_v2_memory import (
    parse_memory_current,
    parse_memory_events,
    parse_memory_limit,
    parse_memory_pressure,
    parse_memory_stat,
)


def test_memory_pressure_of_real_capture(fixture_text):
    path = "sys/fs/cgroup/unified/memory.pressure"
    assert match_sources(path) == ["cgroup_v2_memory_pressure"]
    # cat sys/fs/cgroup/unified/memory.pressure
    assert parse_memory_pressure(fixture_text(path)) == {
        "some_avg10": 0.0,
        "some_avg60": 0.0,
        "some_avg300": 0.0,
        "some_total_us": 559,
        "full_avg10": 0.0,
        "full_avg60": 0.0,
        "full_avg300": 0.0,
        "full_total_us": 432,
    }


def test_memory_events():
    events = parse_memory_events("low 0\nhigh 12\nmax 1274\noom 3\noom_kill 3\noom_group_kill 0\n")
    assert events == {
        "low": 0,
        "high": 12,
        "max": 1274,
        "oom": 3,
        "oom_kill": 3,
        "oom_group_kill": 0,
    }
    older = parse_memory_events("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")  # before 5.17
    assert older["oom_group_kill"] is None


def test_current_and_limits():
    assert parse_memory_current("1585401856\n") == 1585401856
    assert parse_memory_limit("max\n") is None
    assert parse_memory_limit("67108864\n") == 67108864


def test_memory_stat_keys_as_printed():
    assert parse_memory_stat("anon 4096\nfile 8192\nworkingset_refault_anon 0\n") == {
        "anon": 4096,
        "file": 8192,
        "workingset_refault_anon": 0,
    }


def test_registry_paths():
    base = "sys/fs/cgroup/system.slice/postgresql.service"
    assert match_sources(f"{base}/memory.current") == ["cgroup_v2_memory_current"]
    assert match_sources(f"{base}/memory.max") == ["cgroup_v2_memory_limit"]
    assert match_sources(f"{base}/memory.events") == ["cgroup_v2_memory_events"]
    assert match_sources(f"{base}/memory.stat") == ["cgroup_v2_memory_stat"]
    assert match_sources("sys/fs/cgroup/unified/user.slice/memory.stat") == [
        "cgroup_v2_memory_stat"
    ]


def test_errors():
    with pytest.raises(ParseError):
        parse_memory_limit("unlimited\n")
    with pytest.raises(ParseError):
        parse_memory_events("oom_kill\n")
    with pytest.raises(SkipSource):
        parse_memory_current("")
