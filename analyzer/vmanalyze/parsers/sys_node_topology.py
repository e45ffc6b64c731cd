"""sys_node_topology - files /sys/devices/system/node/{nodeN/cpulist,nodeN/distance,online,...}
=============================================================================================

NUMA topology: ``nodeN/cpulist`` lists the CPUs of node N, ``nodeN/distance`` the SLIT distance
from node N to every node (10 = local), and the node masks ``online``, ``possible``,
``has_cpu``, ``has_memory``, ``has_normal_memory`` list node numbers. Lists use the kernel's
range syntax ``0-3,8-11``; a node without CPUs has an empty cpulist. See
https://www.kernel.org/doc/html/latest/admin-guide/mm/numa_memory_policy.html and
Documentation/ABI/stable/sysfs-devices-node.

Sample input::

    0-9,20-29

Output: ``list[int]`` for every file (CPU numbers, node numbers, or distances in node order).

Examples:
    >>> parse_sys_node_cpulist("0-3,8-9\\n")
    [0, 1, 2, 3, 8, 9]
    >>> parse_sys_node_cpulist("\\n")
    []
    >>> parse_sys_node_distance("10 21\\n")
    [10, 21]
    >>> parse_sys_node_mask("0-1\\n")
    [0, 1]
"""

from __future__ import annotations

from vmanalyze.parsers._common import numbered_lines, parse_ranges, require_content, to_int

SOURCE = "sys_node_topology"


def parse_sys_node_cpulist(text: str) -> list[int]:
    """Parse ``nodeN/cpulist`` into CPU numbers (empty for a memory-only node)."""
    return parse_ranges(text, SOURCE)


def parse_sys_node_mask(text: str) -> list[int]:
    """Parse a node mask (``online``, ``possible``, ``has_memory``...) into node numbers."""
    return parse_ranges(text, SOURCE)


def parse_sys_node_distance(text: str) -> list[int]:
    """Parse ``nodeN/distance`` into the distance to node 0, 1, ..."""
    require_content(text, SOURCE)
    out: list[int] = []
    for lineno, line in numbered_lines(text):
        out.extend(to_int(word, SOURCE, lineno, line) for word in line.split())
    return out
