"""numactl - the output of ``numactl --hardware`` in a sosreport
==============================================================

``sos_commands/numa/numactl_--hardware`` (sos numa plugin; Insights:
``insights_commands/numactl_--hardware``): the NUMA nodes with their CPUs, memory size and
free memory in MB, and the node distance matrix (10 = local). A report whose
``/sys/devices/system/node`` was not copied still shows its topology here. A node without CPUs
(memory-only, CXL/PMEM) prints an empty ``cpus:`` list. See
https://man7.org/linux/man-pages/man8/numactl.8.html

Sample input (a 4-node, 56-CPU host)::

    available: 4 nodes (0-3)
    node 0 cpus: 0 1 2 3 4 5 6 28 29 30 31 32 33 34
    node 0 size: 15932 MB
    node 0 free: 15580 MB
    ...
    node distances:
    node   0   1   2   3
      0:  10  21  31  31

Output: ``list[dict]``, one per node in node order: ``node`` (int), ``cpus`` (``list[int]``),
``size_bytes``, ``free_bytes`` (int, from MB; ``None`` when not printed), ``distances``
(``list[int]``, the node's row of the matrix, in the order of the matrix header).

Examples:
    >>> nodes = parse_numactl_hardware(SAMPLE)
    >>> [(n["node"], len(n["cpus"]), n["size_bytes"] >> 20, n["distances"]) for n in nodes]
    [(0, 4, 15932, [10, 21]), (1, 0, 16125, [21, 10])]
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content

SOURCE = "numactl"

SAMPLE = (
    "available: 2 nodes (0-1)\n"
    "node 0 cpus: 0 1 2 3\nnode 0 size: 15932 MB\nnode 0 free: 15580 MB\n"
    "node 1 cpus:\nnode 1 size: 16125 MB\nnode 1 free: 15483 MB\n"
    "node distances:\nnode   0   1 \n  0:  10  21 \n  1:  21  10 \n"
)

_NODE_RE = re.compile(r"^node (\d+) (cpus|size|free):\s*(.*)$")
_ROW_RE = re.compile(r"^\s*(\d+):((?:\s+\d+)+)\s*$")


def parse_numactl_hardware(text: str) -> list[dict[str, Any]]:
    """Parse ``numactl --hardware`` output (see the module docstring)."""
    require_content(text, SOURCE)
    nodes: dict[int, dict[str, Any]] = {}

    def node(number: int) -> dict[str, Any]:
        return nodes.setdefault(
            number,
            {"node": number, "cpus": [], "size_bytes": None, "free_bytes": None, "distances": []},
        )

    for lineno, line in numbered_lines(text):
        match = _NODE_RE.match(line)
        if match:
            entry = node(int(match[1]))
            if match[2] == "cpus":
                entry["cpus"] = [int(cpu) for cpu in match[3].split()]
            else:
                size = match[3].split()
                if len(size) != 2 or size[1] != "MB" or not size[0].isdigit():
                    raise ParseError(SOURCE, lineno, line, "expected 'N MB'")
                entry[f"{match[2]}_bytes"] = int(size[0]) << 20
            continue
        row = _ROW_RE.match(line)
        if row:
            node(int(row[1]))["distances"] = [int(d) for d in row[2].split()]
    return [nodes[number] for number in sorted(nodes)]
