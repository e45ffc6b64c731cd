"""swaps parser on a real capture (a swap file whose name has a space) and edge cases."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.swaps import parse_swaps


def test_real_capture_with_escaped_space(fixture_text):
    text = fixture_text("proc/swaps")
    assert "/tmp/vmtriage\\040swap" in text  # the kernel's octal escape, as captured
    # cat proc/swaps: file, 65532 kB, 0 used, priority 5
    assert parse_swaps(text) == [
        {
            "filename": "/tmp/vmtriage swap",
            "type": "file",
            "size_bytes": 65532 * 1024,
            "used_bytes": 0,
            "priority": 5,
        }
    ]


def test_header_only_is_no_swap():
    assert parse_swaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n") == []


def test_partition_with_negative_priority_and_deleted_file():
    text = (
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/zram0                              partition\t8388604\t\t76\t\t100\n"
        "/swapfile (deleted)                     file\t\t1024\t\t0\t\t-2\n"
    )
    assert [(r["filename"], r["used_bytes"], r["priority"]) for r in parse_swaps(text)] == [
        ("/dev/zram0", 76 * 1024, 100),
        ("/swapfile (deleted)", 0, -2),
    ]


def test_errors():
    with pytest.raises(SkipSource):  # 0 bytes: the kernel always prints the header
        parse_swaps("")
    with pytest.raises(ParseError):
        parse_swaps("Filename Type Size Used Priority\n/dev/sda2 partition 100\n")
    with pytest.raises(ParseError):
        parse_swaps("Filename Type Size Used Priority\n/dev/sda2 partition big 0 -2\n")
