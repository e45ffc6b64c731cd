"""slabinfo - file /proc/slabinfo
==============================

The kernel's slab caches: for each cache its name, objects in use and allocated, object size,
objects per slab and pages per slab, the SLAB allocator's tunables (zeros under SLUB, the only
allocator since 6.8), then the slabs in use and allocated. Root only (mode 0400). vmcollect reads
it at the start and the end of a run; sos's memory plugin copies it to ``proc/slabinfo``. The
format is version 2.1 since 2.6.12, printed by ``print_slabinfo_header()`` and
``cache_show()`` in mm/slab_common.c (``"%-17s %6lu %6lu %6u %4u %4d"``, then
``" : tunables %4u %4u %4u"`` and ``" : slabdata %6lu %6lu %6lu"``). A kernel built with
``CONFIG_DEBUG_SLAB`` adds ``: globalstat`` and ``: cpustat`` groups, which are ignored. The
memory a cache holds is ``num_slabs x pages_per_slab`` pages, the ``CACHE SIZE`` of
``slabtop``. See https://man7.org/linux/man-pages/man5/slabinfo.5.html

Sample input (this development host, kernel 6.18)::

    slabinfo - version: 2.1
    # name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables \
<limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
    dentry            239499 324408    192   21    1 : tunables    0    0    0 : slabdata  \
15448  15448      0
    task_struct          149    170   5952    5    8 : tunables    0    0    0 : slabdata     \
34     34      0

Output: ``list[dict]``, one per cache: ``name`` (str), ``active_objects``, ``objects``,
``object_size_bytes``, ``objects_per_slab``, ``pages_per_slab``, ``active_slabs``, ``slabs``
(int) and ``pages`` (int, ``slabs x pages_per_slab``: the pages the cache holds). A version
other than 2.x raises :class:`~vmanalyze.errors.ParseError`; an empty file (not readable when
captured) is skipped.

Examples:
    >>> rows = parse_slabinfo(SAMPLE)
    >>> [(r["name"], r["objects"], r["object_size_bytes"], r["pages"]) for r in rows]
    [('dentry', 324408, 192, 15448), ('task_struct', 170, 5952, 272)]
    >>> rows[1]["active_objects"], rows[1]["objects_per_slab"], rows[1]["pages_per_slab"]
    (149, 5, 8)
"""

from __future__ import annotations

from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "slabinfo"

SAMPLE = (
    "slabinfo - version: 2.1\n"
    "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> :"
    " tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs>"
    " <sharedavail>\n"
    "dentry            239499 324408    192   21    1 : tunables    0    0    0 : slabdata "
    " 15448  15448      0\n"
    "task_struct          149    170   5952    5    8 : tunables    0    0    0 : slabdata "
    "    34     34      0\n"
)

_HEAD = ("active_objects", "objects", "object_size_bytes", "objects_per_slab", "pages_per_slab")


def parse_slabinfo(text: str) -> list[dict[str, Any]]:
    """Parse /proc/slabinfo version 2.x (see the module docstring)."""
    require_content(text, SOURCE)
    rows: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        if line.startswith("slabinfo - version:"):
            version = line.split(":", 1)[1].strip()
            if not version.startswith("2."):
                raise ParseError(SOURCE, lineno, line, f"unsupported version {version!r}")
            continue
        if line.startswith("#"):
            continue
        groups = [g.split() for g in line.split(" : ")]
        head = groups[0]
        slabdata = next((g[1:] for g in groups[1:] if g and g[0] == "slabdata"), None)
        if len(head) < 6 or slabdata is None or len(slabdata) != 3:
            raise ParseError(SOURCE, lineno, line, "expected name, 5 numbers and slabdata")
        numbers = [to_int(v, SOURCE, lineno, line) for v in head[-5:]]
        row: dict[str, Any] = {
            "name": " ".join(head[:-5]),
            **dict(zip(_HEAD, numbers, strict=True)),
        }
        row["active_slabs"] = to_int(slabdata[0], SOURCE, lineno, line)
        row["slabs"] = to_int(slabdata[1], SOURCE, lineno, line)
        row["pages"] = row["slabs"] * row["pages_per_slab"]
        rows.append(row)
    return rows
