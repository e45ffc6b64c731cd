"""buddyinfo - file /proc/buddyinfo
================================

Free memory of each zone as counts of free blocks per buddy-allocator order: column k counts
free blocks of 2**k contiguous pages. Few high-order blocks mean fragmentation (huge page and
high-order allocation failures, compaction stalls). See
https://www.kernel.org/doc/html/latest/filesystems/proc.html (buddyinfo) and mm/vmstat.c.

Sample input (the kernel ends each line with a space)::

    Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1    3
    Node 0, zone   Normal   2367   1473    494    348    108     19      7      1      3      2   18

Output: ``list[dict]``, one per (node, zone) in file order: ``node`` (int), ``zone`` (str),
``order_0`` ... ``order_10`` (free blocks of that order; ``None`` for an order the kernel did
not print, extra orders of larger MAX_ORDER configs are kept as ``order_11``...), and
``free_pages`` (sum of ``count * 2**order``, in pages).

Examples:
    >>> rows = parse_buddyinfo(SAMPLE)
    >>> rows[0]["node"], rows[0]["zone"], rows[0]["order_8"], rows[0]["free_pages"]
    (0, 'DMA', 1, 3840)
    >>> rows[1]["order_0"], rows[1]["order_10"], rows[1]["free_pages"]
    (2367, 18, 33209)
"""

from __future__ import annotations

import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "buddyinfo"

SAMPLE = (
    "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1"
    "      1      3 \n"
    "Node 0, zone   Normal   2367   1473    494    348    108     19      7      1      3"
    "      2     18 \n"
)

ORDERS = 11
_LINE_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)\s+(.*)$")


def parse_buddyinfo(text: str) -> list[dict[str, int | str | None]]:
    """Parse /proc/buddyinfo (see the module docstring)."""
    require_content(text, SOURCE)
    rows: list[dict[str, int | str | None]] = []
    for lineno, line in numbered_lines(text):
        match = _LINE_RE.match(line.strip())
        if not match:
            raise ParseError(SOURCE, lineno, line, "expected 'Node N, zone Z counts...'")
        counts = [to_int(word, SOURCE, lineno, line) for word in match.group(3).split()]
        row: dict[str, int | str | None] = {"node": int(match.group(1)), "zone": match.group(2)}
        for order in range(max(ORDERS, len(counts))):
            row[f"order_{order}"] = counts[order] if order < len(counts) else None
        row["free_pages"] = sum(count << order for order, count in enumerate(counts))
        rows.append(row)
    return rows
