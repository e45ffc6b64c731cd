"""NUMA topology files (cpulist, distance, node masks) on a real capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.sys_node_topology import (
    parse_sys_node_cpulist,
    parse_sys_node_distance,
    parse_sys_node_mask,
)

NODE = "sys/devices/system/node"


def test_real_capture(fixture_text):
    # cat node0/cpulist node0/distance online possible has_cpu has_memory has_normal_memory
    assert parse_sys_node_cpulist(fixture_text(f"{NODE}/node0/cpulist")) == [0, 1]
    assert parse_sys_node_distance(fixture_text(f"{NODE}/node0/distance")) == [10]
    for mask in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
        assert parse_sys_node_mask(fixture_text(f"{NODE}/{mask}")) == [0]


def test_multi_socket_shapes():
    assert parse_sys_node_cpulist("0-9,20-29\n") == [*range(10), *range(20, 30)]
    assert parse_sys_node_cpulist("0,2,4\n") == [0, 2, 4]
    assert parse_sys_node_cpulist("\n") == []  # memory-only node
    assert parse_sys_node_distance("20 20 10 20\n") == [20, 20, 10, 20]
    assert parse_sys_node_mask("0-3\n") == [0, 1, 2, 3]


def test_errors():
    with pytest.raises(ParseError):
        parse_sys_node_cpulist("0-x\n")
    with pytest.raises(ParseError):
        parse_sys_node_cpulist("5-2\n")
    with pytest.raises(ParseError):
        parse_sys_node_distance("10 far\n")
    with pytest.raises(SkipSource):
        parse_sys_node_distance("")
