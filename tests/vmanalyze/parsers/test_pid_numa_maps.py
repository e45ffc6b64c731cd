"""numa_maps parser on real captures (bash and python3) and a 2-node line."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.pid_numa_maps import numa_maps_node_bytes, parse_pid_numa_maps

KIB = 1024


def _row(address: int, mapping: str, file: str | None, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "address": address,
        "policy": "default",
        "mapping": mapping,
        "file": file,
        "pages_per_node": {},
        "pages": 0,
        "kernelpagesize_bytes": None,
    }
    row.update(dict.fromkeys(("anon", "dirty", "mapped", "mapmax", "swapcache", "active")))
    row["writeback"] = None
    row.update(fields)
    return row


def test_first_heap_and_stack_lines_of_bash(fixture_text):
    rows = parse_pid_numa_maps(fixture_text("proc/3007/numa_maps"))
    # sed -n '1p;7p;43p' proc/3007/numa_maps
    assert rows[0] == _row(
        0x55C2C2F35000,
        "file",
        "/usr/bin/bash",
        mapped=47,
        mapmax=6,
        pages_per_node={0: 47},
        pages=47,
        kernelpagesize_bytes=4 * KIB,
    )
    assert rows[6] == _row(
        0x55C2C5928000,
        "heap",
        None,
        anon=72,
        dirty=72,
        mapmax=3,
        active=0,
        pages_per_node={0: 72},
        pages=72,
        kernelpagesize_bytes=4 * KIB,
    )
    assert rows[42]["mapping"] == "stack" and rows[42]["pages_per_node"] == {0: 5}


def test_totals_of_bash_match_awk(fixture_text):
    rows = parse_pid_numa_maps(fixture_text("proc/3007/numa_maps"))
    # awk over proc/3007/numa_maps: 43 lines, N0 1024 pages, anon 255, dirty 255, 33 file=
    assert len(rows) == 43
    assert numa_maps_node_bytes(rows) == {0: 1024 * 4 * KIB}
    assert sum(r["anon"] or 0 for r in rows) == 255
    assert sum(r["dirty"] or 0 for r in rows) == 255
    assert sum(r["mapping"] == "file" for r in rows) == 33


def test_mapping_without_resident_pages(fixture_text):
    third = parse_pid_numa_maps(fixture_text("proc/5399/numa_maps"))[2]
    assert (third["file"], third["pages"], third["kernelpagesize_bytes"]) == (
        "/root/.pyenv/versions/3.11.7/bin/python3.11",
        0,
        None,
    )


def test_kernel_thread_is_empty(fixture_text):
    assert parse_pid_numa_maps(fixture_text("proc/45/numa_maps")) == []


def test_two_nodes_bind_policy_and_huge_pages():
    rows = parse_pid_numa_maps(
        "7f0000000000 bind:0-1 anon=3 dirty=3 active=0 N0=1 N1=2 kernelpagesize_kB=4\n"
        "7f2000000000 default file=/dev/hugepages/x\\040y huge dirty=2 N1=2"
        " kernelpagesize_kB=2048\n"
    )
    assert rows[0]["policy"] == "bind:0-1" and rows[0]["pages_per_node"] == {0: 1, 1: 2}
    assert rows[1]["file"] == "/dev/hugepages/x y" and rows[1]["huge"] is True
    assert numa_maps_node_bytes(rows) == {0: 4 * KIB, 1: 8 * KIB + 4 * 1024 * KIB}


def test_errors():
    with pytest.raises(ParseError):
        parse_pid_numa_maps("nothex default\n")
    with pytest.raises(ParseError):
        parse_pid_numa_maps("7f0000000000\n")
    with pytest.raises(ParseError):
        parse_pid_numa_maps("7f0000000000 default N0=x\n")
