"""slabtop - the output of ``slabtop -o`` in a sosreport
=====================================================

``sos_commands/memory/slabtop_-o`` (sos 4.x memory plugin): the kernel's slab caches, largest
first, as ``slabtop --once`` prints them from ``/proc/slabinfo``: a summary of five
``Active / Total`` lines, then one line per cache with its objects, the share in use, the
object size, slabs, objects per slab, the cache size and the name. Sizes are printed in KiB
with a ``K`` suffix and two decimals for the object size. A large ``CACHE SIZE`` (dentry,
inode caches, ``buffer_head``, ``kmalloc-*``) is kernel memory that ``MemAvailable`` counts only
as far as it is reclaimable (``SReclaimable``). See https://man7.org/linux/man-pages/man1/slabtop.1.html

Sample input (Debian 12, kernel 6.18)::

     Active / Total Objects (% used)    : 2792326 / 2796773 (99.8%)
     Minimum / Average / Maximum Object : 0.01K / 0.16K / 50.28K

      OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME
    2035839 2035839 100%    0.10K  52201       39    208804K buffer_head
    127134 126438  99%    0.19K   6054       21     24216K dentry

Output: ``list[dict]``, one per cache: ``name`` (str), ``objects``, ``active_objects``,
``slabs``, ``objects_per_slab`` (int), ``use_pct`` (int), ``object_size_bytes`` (int, rounded
from the printed KiB), ``cache_size_bytes`` (int). The summary lines are not kept.

Examples:
    >>> rows = parse_slabtop(SAMPLE)
    >>> rows[0]["name"], rows[0]["objects"], rows[0]["cache_size_bytes"], rows[0]["use_pct"]
    ('buffer_head', 2035839, 213815296, 100)
    >>> rows[1]["object_size_bytes"], rows[1]["objects_per_slab"]
    (195, 21)
"""

from __future__ import annotations

from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import KIB, numbered_lines, require_content, to_int

SOURCE = "slabtop"

SAMPLE = (
    " Active / Total Objects (% used)    : 2792326 / 2796773 (99.8%)\n"
    " Minimum / Average / Maximum Object : 0.01K / 0.16K / 50.28K\n"
    "\n"
    "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME                   \n"
    "2035839 2035839 100%    0.10K  52201       39    208804K buffer_head            \n"
    "127134 126438  99%    0.19K   6054       21     24216K dentry                 \n"
)


def _kib(value: str, lineno: int, line: str) -> int:
    if not value.endswith("K"):
        raise ParseError(SOURCE, lineno, line, f"expected a size in K, got {value!r}")
    try:
        return round(float(value[:-1]) * KIB)
    except ValueError:
        raise ParseError(SOURCE, lineno, line, f"not a size: {value!r}") from None


def parse_slabtop(text: str) -> list[dict[str, Any]]:
    """Parse ``slabtop -o`` output (see the module docstring)."""
    require_content(text, SOURCE)
    rows: list[dict[str, Any]] = []
    in_table = False
    for lineno, line in numbered_lines(text):
        if not in_table:
            in_table = line.split()[:2] == ["OBJS", "ACTIVE"]
            continue
        words = line.split(None, 7)
        if len(words) != 8 or not words[2].endswith("%"):
            raise ParseError(SOURCE, lineno, line, "expected 8 slabtop columns")
        objs, active, use, size, slabs, per_slab, cache, name = words
        rows.append(
            {
                "name": name.strip(),
                "objects": to_int(objs, SOURCE, lineno, line),
                "active_objects": to_int(active, SOURCE, lineno, line),
                "use_pct": to_int(use[:-1], SOURCE, lineno, line),
                "object_size_bytes": _kib(size, lineno, line),
                "slabs": to_int(slabs, SOURCE, lineno, line),
                "objects_per_slab": to_int(per_slab, SOURCE, lineno, line),
                "cache_size_bytes": _kib(cache, lineno, line),
            }
        )
    return rows
