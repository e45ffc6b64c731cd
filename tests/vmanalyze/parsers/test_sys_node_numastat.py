"""Per-node numastat parser on a real capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.sys_node_numastat import parse_sys_node_numastat


def test_numastat_whole_record(fixture_text):
    # cat sys/devices/system/node/node0/numastat
    assert parse_sys_node_numastat(fixture_text("sys/devices/system/node/node0/numastat")) == {
        "numa_hit": 1395370,
        "numa_miss": 0,
        "numa_foreign": 0,
        "interleave_hit": 1127,
        "local_node": 1395370,
        "other_node": 0,
    }


def test_numastat_missing_counter_is_none():
    parsed = parse_sys_node_numastat("numa_hit 5\nnuma_miss 0\n")
    assert parsed["local_node"] is None and parsed["numa_hit"] == 5


def test_errors():
    with pytest.raises(ParseError):
        parse_sys_node_numastat("numa_hit\n")
    with pytest.raises(SkipSource):
        parse_sys_node_numastat("")
