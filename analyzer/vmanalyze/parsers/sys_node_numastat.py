"""sys_node_numastat - file /sys/devices/system/node/nodeN/numastat
=================================================================

NUMA allocation counters of one node, in pages since boot: ``numa_hit`` (allocated here as
intended), ``numa_miss`` (allocated here although another node was preferred),
``numa_foreign`` (intended for here, allocated elsewhere), ``interleave_hit``, ``local_node``
(allocated here for a task running here) and ``other_node`` (allocated here for a task on
another node). See https://www.kernel.org/doc/html/latest/admin-guide/numastat.html

Sample input::

    numa_hit 193460335812
    numa_miss 12624528
    numa_foreign 59858626709
    interleave_hit 57146
    local_node 193454780853
    other_node 18179487

Output: dict with the six keys of :data:`NUMASTAT_KEYS` (int pages, ``None`` when absent) plus
any unknown counter, kept as printed.

Examples:
    >>> ns = parse_sys_node_numastat(SAMPLE)
    >>> ns["numa_hit"], ns["numa_miss"], ns["other_node"]
    (193460335812, 12624528, 18179487)
    >>> parse_sys_node_numastat("numa_hit 5\\n")["interleave_hit"] is None
    True
"""

from __future__ import annotations

from vmanalyze.parsers._common import parse_counters

SOURCE = "sys_node_numastat"

SAMPLE = """\
numa_hit 193460335812
numa_miss 12624528
numa_foreign 59858626709
interleave_hit 57146
local_node 193454780853
other_node 18179487
"""

NUMASTAT_KEYS: tuple[str, ...] = (
    "numa_hit",
    "numa_miss",
    "numa_foreign",
    "interleave_hit",
    "local_node",
    "other_node",
)


def parse_sys_node_numastat(text: str) -> dict[str, int | None]:
    """Parse one node's numastat (see the module docstring)."""
    out: dict[str, int | None] = dict.fromkeys(NUMASTAT_KEYS)
    out.update(parse_counters(text, SOURCE))
    return out
