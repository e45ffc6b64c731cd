"""HugeTLB pool counters (global and per node) on a real capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import InputError, ParseError, SkipSource
from vmanalyze.parsers import match_sources
from vmanalyze.parsers.sys_kernel_mm_hugepages import (
    hugepage_size_from_path,
    parse_hugepages_path,
    parse_hugepages_value,
)

# Every pool file of the fixture with its content (grep . hugepages-*/*): all 0 on this VM.
EXPECTED = {
    "sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages_mempolicy": 0,
    "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_overcommit_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-1048576kB/resv_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-1048576kB/surplus_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages_mempolicy": 0,
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages": 0,
    "sys/kernel/mm/hugepages/hugepages-2048kB/surplus_hugepages": 0,
    "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages": 0,
    "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages": 0,
    "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/surplus_hugepages": 0,
    "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages": 0,
    "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages": 0,
    "sys/devices/system/node/node0/hugepages/hugepages-2048kB/surplus_hugepages": 0,
}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_pool_files_of_real_capture(fixture_text, path):
    assert match_sources(path) == ["sys_kernel_mm_hugepages"]
    assert parse_hugepages_value(fixture_text(path)) == EXPECTED[path]


def test_demote_size_is_not_a_pool_counter(fixture_text):
    path = "sys/kernel/mm/hugepages/hugepages-1048576kB/demote_size"
    assert fixture_text(path) == "2048kB\n"
    assert match_sources(path) == []


def test_size_and_node_from_path():
    assert hugepage_size_from_path("hugepages-64kB") == 64 * 1024
    assert hugepage_size_from_path("sys/kernel/mm/hugepages/hugepages-32768kB/nr_hugepages") == (
        32 * 1024 * 1024
    )
    assert parse_hugepages_path("sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages") == {
        "node": None,
        "size_bytes": 2 * 1024 * 1024,
        "counter": "resv_hugepages",
    }
    with pytest.raises(InputError):
        parse_hugepages_path("sys/kernel/mm/hugepages/nr_hugepages")


def test_errors():
    with pytest.raises(ParseError):
        parse_hugepages_value("2048kB\n")
    with pytest.raises(SkipSource):
        parse_hugepages_value("")
