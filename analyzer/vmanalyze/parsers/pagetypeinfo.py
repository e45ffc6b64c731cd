"""pagetypeinfo - file /proc/pagetypeinfo
======================================

Free blocks per zone, migrate type (Unmovable, Movable, Reclaimable, HighAtomic, CMA,
Isolate; Reserve before 3.x) and buddy order, followed by the number of pageblocks of each
migrate type per zone. Shows whether fragmentation is caused by unmovable allocations. Since
5.5 a per-order count above 100000 is printed as ``>100000``. Root-only on recent kernels.
See https://www.kernel.org/doc/html/latest/admin-guide/mm/concepts.html and mm/vmstat.c.

Sample input::

    Page block order: 9
    Pages per block:  512

    Free pages count per migrate type at order       0      1      2
    Node    0, zone      DMA, type    Unmovable      0      0      1
    Node    0, zone      DMA, type      Movable      0  >100000      3

    Number of blocks type     Unmovable      Movable  Reclaimable
    Node 0, zone      DMA            1            7            0

Output: dict with ``page_block_order`` (int), ``pages_per_block`` (int), ``free`` (list of
dicts: ``node``, ``zone``, ``migrate_type``, ``order_0``..``order_N`` free blocks, ``capped``
True when a count was printed as ``>100000`` and so is a lower bound), ``blocks`` (list of
dicts: ``node``, ``zone``, ``migrate_type``, ``blocks`` = number of pageblocks) and
``mixed_blocks`` (same shape, from the optional "Number of mixed blocks" table of
CONFIG_PAGE_OWNER kernels; empty list when absent).

Examples:
    >>> pt = parse_pagetypeinfo(SAMPLE)
    >>> pt["page_block_order"], pt["pages_per_block"], len(pt["free"])
    (9, 512, 2)
    >>> pt["free"][1]
    {'node': 0, 'zone': 'DMA', 'migrate_type': 'Movable', 'order_0': 0, 'order_1': 100000, \
'order_2': 3, 'capped': True}
    >>> pt["blocks"][1]
    {'node': 0, 'zone': 'DMA', 'migrate_type': 'Movable', 'blocks': 7}
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "pagetypeinfo"

SAMPLE = """\
Page block order: 9
Pages per block:  512

Free pages count per migrate type at order       0      1      2
Node    0, zone      DMA, type    Unmovable      0      0      1
Node    0, zone      DMA, type      Movable      0  >100000      3

Number of blocks type     Unmovable      Movable  Reclaimable
Node 0, zone      DMA            1            7            0
"""

_FREE_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+),\s+type\s+(\S+)\s+(.*)$")
_BLOCKS_RE = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)\s+(.*)$")


def parse_pagetypeinfo(text: str) -> dict[str, Any]:
    """Parse /proc/pagetypeinfo (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, Any] = {
        "page_block_order": None,
        "pages_per_block": None,
        "free": [],
        "blocks": [],
        "mixed_blocks": [],
    }
    columns: list[str] = []
    table = ""
    for lineno, line in numbered_lines(text):
        body = line.strip()
        if body.startswith("Page block order:"):
            out["page_block_order"] = to_int(body.split(":")[1].strip(), SOURCE, lineno, line)
        elif body.startswith("Pages per block:"):
            out["pages_per_block"] = to_int(body.split(":")[1].strip(), SOURCE, lineno, line)
        elif body.startswith("Free pages count per migrate type"):
            table = "free"
        elif body.startswith("Number of"):
            table = "mixed_blocks" if "mixed" in body.split("type")[0] else "blocks"
            columns = body.split("type", 1)[1].split() if " type " in body else []
            if not columns:
                columns = body.split("blocks", 1)[1].split()
        elif table == "free" and (match := _FREE_RE.match(body)):
            row: dict[str, Any] = {
                "node": int(match.group(1)),
                "zone": match.group(2),
                "migrate_type": match.group(3),
            }
            capped = False
            for order, word in enumerate(match.group(4).split()):
                capped = capped or word.startswith(">")
                row[f"order_{order}"] = to_int(word.lstrip(">"), SOURCE, lineno, line)
            row["capped"] = capped
            out["free"].append(row)
        elif table in ("blocks", "mixed_blocks") and (match := _BLOCKS_RE.match(body)):
            counts = match.group(3).split()
            if len(counts) != len(columns):
                raise ParseError(SOURCE, lineno, line, f"{len(columns)} columns in the header")
            for migrate_type, word in zip(columns, counts, strict=True):
                out[table].append(
                    {
                        "node": int(match.group(1)),
                        "zone": match.group(2),
                        "migrate_type": migrate_type,
                        "blocks": to_int(word, SOURCE, lineno, line),
                    }
                )
        else:
            raise ParseError(SOURCE, lineno, line, "unexpected line")
    return out
