"""/proc/<pid>/cgroup parser on a real hybrid v1/v2 capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.pid_cgroup import parse_pid_cgroup


def test_whole_record_of_real_capture(fixture_text):
    # cat proc/3007/cgroup
    assert parse_pid_cgroup(fixture_text("proc/3007/cgroup")) == [
        {"hierarchy_id": 9, "controllers": ["name=systemd"], "path": "/"},
        {"hierarchy_id": 8, "controllers": ["pids"], "path": "/"},
        {"hierarchy_id": 7, "controllers": ["blkio"], "path": "/"},
        {"hierarchy_id": 6, "controllers": ["freezer"], "path": "/"},
        {"hierarchy_id": 5, "controllers": ["devices"], "path": "/"},
        {
            "hierarchy_id": 4,
            "controllers": ["memory"],
            "path": "/process_api/a3c3d67d1e6bf5e4b04a3da58d45a270",
        },
        {"hierarchy_id": 3, "controllers": ["cpuset"], "path": "/"},
        {"hierarchy_id": 2, "controllers": ["cpuacct"], "path": "/"},
        {"hierarchy_id": 1, "controllers": ["cpu"], "path": "/"},
        {"hierarchy_id": 0, "controllers": [], "path": "/"},
    ]


def test_joined_controllers_and_colon_in_path():
    assert parse_pid_cgroup("3:cpu,cpuacct:/a:b\n") == [
        {"hierarchy_id": 3, "controllers": ["cpu", "cpuacct"], "path": "/a:b"}
    ]


def test_errors():
    with pytest.raises(ParseError):
        parse_pid_cgroup("memory:/x\n")
    with pytest.raises(SkipSource):
        parse_pid_cgroup("")
