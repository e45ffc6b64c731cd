"""slabinfo parser on the sosreport fixture's real 6.18 cut, this host's live file, and the
formats it must refuse or skip."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.slabinfo import parse_slabinfo

REPO = Path(__file__).resolve().parents[3]
SOS_SLABINFO = REPO / "tests/fixtures/sosreport-debian12/proc/slabinfo"


def test_every_cache_of_the_real_cut():
    rows = parse_slabinfo(SOS_SLABINFO.read_text())
    # the fixture's lines: task_struct 152 170 5952 5 8 : tunables 0 0 0 : slabdata 34 34 0
    task = next(r for r in rows if r["name"] == "task_struct")
    assert task == {
        "name": "task_struct",
        "active_objects": 152,
        "objects": 170,
        "object_size_bytes": 5952,
        "objects_per_slab": 5,
        "pages_per_slab": 8,
        "active_slabs": 34,
        "slabs": 34,
        "pages": 272,
    }
    assert [r["name"] for r in rows] == [
        "shmem_inode_cache",
        "dentry",
        "task_struct",
        "radix_tree_node",
        "kmalloc-64",
    ]


@pytest.mark.skipif(not os.access("/proc/slabinfo", os.R_OK), reason="needs root")
def test_live_file_matches_its_own_lines():
    """Every cache of this host's /proc/slabinfo, each row checked against its own line."""
    text = Path("/proc/slabinfo").read_text()
    rows = parse_slabinfo(text)
    lines = [line for line in text.splitlines()[2:] if line.strip()]
    assert len(rows) == len(lines) > 50
    for row, line in zip(rows, lines, strict=True):
        numbers = [int(n) for n in re.findall(r"\d+", line.split(" ", 1)[1])]
        assert line.startswith(row["name"] + " ")
        assert row["objects"] == numbers[1] and row["object_size_bytes"] == numbers[2]
        assert row["slabs"] == numbers[-2]
        assert row["pages"] == row["slabs"] * row["pages_per_slab"]
        assert row["active_objects"] <= row["objects"]


def test_debug_groups_are_ignored():
    """CONFIG_DEBUG_SLAB kernels print : globalstat and : cpustat after slabdata."""
    line = (
        "dentry 10 21 192 21 1 : tunables 120 60 8 : slabdata 1 1 0 : globalstat 30 21 1 0 "
        "0 0 0 0 0 : cpustat 5 1 0 0\n"
    )
    (row,) = parse_slabinfo("slabinfo - version: 2.1 (statistics)\n" + line)
    assert (row["name"], row["objects"], row["slabs"], row["pages"]) == ("dentry", 21, 1, 1)


def test_refuses_other_versions_and_broken_lines():
    with pytest.raises(ParseError, match="unsupported version"):
        parse_slabinfo("slabinfo - version: 1.1\nkmem_cache 1 2 3 4 5\n")
    with pytest.raises(ParseError, match="expected name"):
        parse_slabinfo("slabinfo - version: 2.1\ndentry 10 21 192 21\n")
    with pytest.raises(ParseError, match="not an integer"):
        parse_slabinfo("slabinfo - version: 2.1\ndentry 10 x 192 21 1 : slabdata 1 1 0\n")
    with pytest.raises(SkipSource):
        parse_slabinfo("")
