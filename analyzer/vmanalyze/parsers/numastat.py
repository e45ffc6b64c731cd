"""numastat - the output of ``numastat`` (no options) in a sosreport
==================================================================

``sos_commands/numa/numastat`` (sos numa plugin): the per-node NUMA allocation counters of
``/sys/devices/system/node/nodeN/numastat`` as a table, one column per node (``node0``,
``node1``...), one row per counter: ``numa_hit``, ``numa_miss``, ``numa_foreign``,
``interleave_hit``, ``local_node``, ``other_node`` (pages, cumulative since boot). A report
whose node directory was not copied still has the counters here. ``numastat -m`` and
``-p`` print other tables (MB per node, per process): not this parser's input. See
https://man7.org/linux/man-pages/man8/numastat.8.html

Sample input (a 2-node, 64-core MySQL host)::

                               node0           node1
    numa_hit               129600200        60501102
    numa_miss                      0               0
    numa_foreign                   0               0
    interleave_hit            108648          108429
    local_node             129576548        60395061
    other_node                 23652          106041

Output: ``list[dict]``, one per node in column order: ``node`` (int) and every counter (int),
named as printed (the names of :mod:`~vmanalyze.parsers.sys_node_numastat`).

Examples:
    >>> nodes = parse_numastat(SAMPLE)
    >>> [(n["node"], n["numa_hit"], n["other_node"]) for n in nodes]
    [(0, 129600200, 23652), (1, 60501102, 106041)]
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "numastat"

SAMPLE = (
    "                           node0           node1\n"
    "numa_hit               129600200        60501102\n"
    "numa_miss                      0               0\n"
    "numa_foreign                   0               0\n"
    "interleave_hit            108648          108429\n"
    "local_node             129576548        60395061\n"
    "other_node                 23652          106041\n"
)

_HEADER_RE = re.compile(r"^(?:\s*node\d+)+$")


def parse_numastat(text: str) -> list[dict[str, Any]]:
    """Parse ``numastat`` output (see the module docstring)."""
    require_content(text, SOURCE)
    nodes: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        if not nodes:
            if not _HEADER_RE.match(line):
                raise ParseError(SOURCE, lineno, line, "expected a 'node0 node1 ...' header")
            nodes = [{"node": int(word[4:])} for word in line.split()]
            continue
        words = line.split()
        if len(words) != len(nodes) + 1:
            raise ParseError(SOURCE, lineno, line, f"expected a name and {len(nodes)} values")
        for entry, value in zip(nodes, words[1:], strict=True):
            entry[words[0]] = to_int(value, SOURCE, lineno, line)
    return nodes
