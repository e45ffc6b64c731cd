"""buddyinfo parser on a real capture (kernel trailing spaces kept) and edge cases."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.buddyinfo import parse_buddyinfo


def _row(zone: str, counts: list[int], free_pages: int) -> dict[str, object]:
    row: dict[str, object] = {"node": 0, "zone": zone}
    row.update({f"order_{order}": count for order, count in enumerate(counts)})
    row["free_pages"] = free_pages
    return row


# Counts copied from the fixture; free_pages computed with
# awk '{s=0; for (i=5; i<=NF; i++) s += $i * 2^(i-5); print $4, s}' proc/buddyinfo
EXPECTED_DEBIAN12 = [
    _row("DMA", [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 3], 3840),
    _row("DMA32", [1, 2, 4, 2, 5, 4, 3, 3, 4, 2, 752], 772917),
    _row("Normal", [2, 1334, 454, 368, 111, 24, 8, 5, 5, 3, 17], 31350),
]


def test_whole_rows_of_real_capture(fixture_text):
    text = fixture_text("proc/buddyinfo")
    assert text.splitlines()[0].endswith(" ")  # the kernel's trailing space is in the fixture
    assert parse_buddyinfo(text) == EXPECTED_DEBIAN12


def test_two_nodes_and_short_order_list():
    rows = parse_buddyinfo(
        "Node 0, zone   Normal      1      2\nNode 1, zone   Normal      4      0      1"
    )
    assert [(r["node"], r["order_0"], r["order_2"], r["order_10"]) for r in rows] == [
        (0, 1, None, None),
        (1, 4, 1, None),
    ]
    assert [r["free_pages"] for r in rows] == [5, 8]


def test_errors():
    with pytest.raises(ParseError):
        parse_buddyinfo("Node 0, zone DMA 1 x 3\n")
    with pytest.raises(ParseError):
        parse_buddyinfo("zone DMA 1 2 3\n")
    with pytest.raises(SkipSource):
        parse_buddyinfo("")
