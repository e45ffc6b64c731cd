"""pid_numa_maps - file /proc/<pid>/numa_maps
===========================================

One line per memory mapping (VMA) of a process: start address, NUMA memory policy
(``default``, ``bind:0-1``, ``interleave:0-3``, ``prefer:1``, ``local``...), what is mapped
(``file=<path>``, ``heap``, ``stack``, otherwise anonymous; ``huge`` marks hugetlbfs), page
counts (``anon=``, ``dirty=``, ``mapped=``, ``mapmax=``, ``swapcache=``, ``active=``,
``writeback=``), pages resident on each node (``N<node>=<pages>``) and the page size
(``kernelpagesize_kB=``). A kernel thread's file is empty. Paths have white space escaped as
octal. See https://man7.org/linux/man-pages/man7/numa.7.html

Sample input::

    55d43b745000 default file=/usr/bin/shim anon=3 dirty=3 active=0 N0=1 N1=2 kernelpagesize_kB=4
    7ffd1c9e3000 default stack anon=33 dirty=33 N0=33 kernelpagesize_kB=4

Output: ``list[dict]``, one per line: ``address`` (int), ``policy`` (str), ``mapping``
(``file``, ``heap``, ``stack`` or ``anon``), ``file`` (str or ``None``), ``huge`` (True, only
for hugetlb mappings; other bare words are kept the same way),
``pages_per_node`` (``dict[int, int]``, pages), ``pages`` (sum over nodes),
``kernelpagesize_bytes`` (int), and the counters of :data:`COUNTERS` (int pages, ``None`` when
not printed); unknown ``key=value`` items are kept (int when numeric). Helper
:func:`numa_maps_node_bytes` sums ``pages * kernelpagesize`` per node over the rows, in bytes.

Examples:
    >>> rows = parse_pid_numa_maps(SAMPLE)
    >>> r = rows[0]
    >>> hex(r["address"]), r["mapping"], r["file"], r["pages_per_node"], r["anon"], r["mapped"]
    ('0x55d43b745000', 'file', '/usr/bin/shim', {0: 1, 1: 2}, 3, None)
    >>> rows[1]["mapping"], rows[1]["pages"], rows[1]["kernelpagesize_bytes"]
    ('stack', 33, 4096)
    >>> numa_maps_node_bytes(rows)
    {0: 139264, 1: 8192}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import KIB, numbered_lines, to_int

SOURCE = "pid_numa_maps"

SAMPLE = """\
55d43b745000 default file=/usr/bin/shim anon=3 dirty=3 active=0 N0=1 N1=2 kernelpagesize_kB=4
7ffd1c9e3000 default stack anon=33 dirty=33 N0=33 kernelpagesize_kB=4
"""

COUNTERS: tuple[str, ...] = (
    "anon",
    "dirty",
    "mapped",
    "mapmax",
    "swapcache",
    "active",
    "writeback",
)

_NODE_RE = re.compile(r"^N(\d+)$")
_OCTAL_RE = re.compile(r"\\([0-7]{3})")


def parse_pid_numa_maps(text: str) -> list[dict[str, Any]]:
    """Parse /proc/<pid>/numa_maps (see the module docstring); empty text gives ``[]``."""
    rows: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        words = line.split()
        if len(words) < 2:
            raise ParseError(SOURCE, lineno, line, "expected 'address policy ...'")
        try:
            address = int(words[0], 16)
        except ValueError:
            raise ParseError(SOURCE, lineno, line, "bad address") from None
        row: dict[str, Any] = {
            "address": address,
            "policy": words[1],
            "mapping": "anon",
            "file": None,
            "pages_per_node": {},
            "pages": 0,
            "kernelpagesize_bytes": None,
        }
        row.update(dict.fromkeys(COUNTERS))
        for word in words[2:]:
            key, eq, value = word.partition("=")
            if not eq:
                if key == "heap" or key.startswith("stack"):
                    row["mapping"] = "stack" if key.startswith("stack") else key
                else:
                    row[key] = True
                continue
            node = _NODE_RE.match(key)
            if key == "file":
                row["mapping"] = "file"
                row["file"] = _OCTAL_RE.sub(lambda m: chr(int(m.group(1), 8)), value)
            elif node:
                pages = to_int(value, SOURCE, lineno, line)
                row["pages_per_node"][int(node.group(1))] = pages
                row["pages"] += pages
            elif key == "kernelpagesize_kB":
                row["kernelpagesize_bytes"] = to_int(value, SOURCE, lineno, line) * KIB
            else:
                row[key] = int(value) if value.isdigit() else value
        rows.append(row)
    return rows


def numa_maps_node_bytes(rows: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """Sum resident bytes per node (``pages * kernelpagesize``) over numa_maps rows."""
    out: dict[int, int] = {}
    for row in rows:
        page = row.get("kernelpagesize_bytes") or 4 * KIB
        for node, pages in row.get("pages_per_node", {}).items():
            out[node] = out.get(node, 0) + pages * page
    return dict(sorted(out.items()))
