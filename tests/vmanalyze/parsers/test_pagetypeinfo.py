"""pagetypeinfo parser on a real 6.18 capture and the capped / mixed-blocks formats."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.pagetypeinfo import parse_pagetypeinfo


def _free(zone: str, migrate_type: str, counts: list[int]) -> dict[str, object]:
    row: dict[str, object] = {"node": 0, "zone": zone, "migrate_type": migrate_type}
    row.update({f"order_{order}": count for order, count in enumerate(counts)})
    row["capped"] = False
    return row


def _blocks(zone: str, counts: dict[str, int]) -> list[dict[str, object]]:
    return [
        {"node": 0, "zone": zone, "migrate_type": kind, "blocks": count}
        for kind, count in counts.items()
    ]


# Rows copied from the fixture with awk (free: '/type/ && NF == 17'; blocks: '/^Node/ && NF == 9').
EXPECTED_DEBIAN12 = {
    "page_block_order": 9,
    "pages_per_block": 512,
    "free": [
        _free("DMA", "Unmovable", [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
        _free("DMA", "Movable", [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3]),
        _free("DMA", "Reclaimable", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("DMA", "HighAtomic", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("DMA", "Isolate", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("DMA32", "Unmovable", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("DMA32", "Movable", [1, 2, 4, 2, 5, 4, 3, 3, 4, 2, 752]),
        _free("DMA32", "Reclaimable", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("DMA32", "HighAtomic", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("DMA32", "Isolate", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("Normal", "Unmovable", [1, 0, 0, 1, 1, 0, 1, 2, 1, 1, 0]),
        _free("Normal", "Movable", [1, 1334, 454, 367, 109, 24, 5, 1, 2, 1, 17]),
        _free("Normal", "Reclaimable", [0, 0, 0, 0, 1, 0, 2, 2, 2, 1, 0]),
        _free("Normal", "HighAtomic", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        _free("Normal", "Isolate", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ],
    "blocks": [
        *_blocks(
            "DMA", {"Unmovable": 1, "Movable": 7, "Reclaimable": 0, "HighAtomic": 0, "Isolate": 0}
        ),
        *_blocks(
            "DMA32",
            {"Unmovable": 0, "Movable": 1528, "Reclaimable": 0, "HighAtomic": 0, "Isolate": 0},
        ),
        *_blocks(
            "Normal",
            {"Unmovable": 64, "Movable": 785, "Reclaimable": 47, "HighAtomic": 0, "Isolate": 0},
        ),
    ],
    "mixed_blocks": [],
}


def test_whole_record_of_real_capture(fixture_text):
    assert parse_pagetypeinfo(fixture_text("proc/pagetypeinfo")) == EXPECTED_DEBIAN12


def test_capped_counts_and_mixed_blocks_table():
    text = (
        "Page block order: 9\nPages per block:  512\n\n"
        "Free pages count per migrate type at order       0      1\n"
        "Node    0, zone   Normal, type      Movable >100000  12\n\n"
        "Number of blocks type     Unmovable      Movable\n"
        "Node 0, zone   Normal            3           40\n"
        "Number of mixed blocks    Unmovable      Movable\n"
        "Node 0, zone   Normal            1            0\n"
    )
    parsed = parse_pagetypeinfo(text)
    assert parsed["free"] == [
        {
            "node": 0,
            "zone": "Normal",
            "migrate_type": "Movable",
            "order_0": 100000,
            "order_1": 12,
            "capped": True,
        }
    ]
    assert [(r["migrate_type"], r["blocks"]) for r in parsed["mixed_blocks"]] == [
        ("Unmovable", 1),
        ("Movable", 0),
    ]


def test_errors():
    with pytest.raises(ParseError):
        parse_pagetypeinfo("Page block order: 9\nsomething else\n")
    with pytest.raises(ParseError):  # a blocks row with a column missing
        parse_pagetypeinfo("Number of blocks type  Unmovable Movable\nNode 0, zone DMA 1\n")
    with pytest.raises(SkipSource):  # root-only file copied without privilege: 0 bytes
        parse_pagetypeinfo("")
