"""sys_node_vmstat - file /sys/devices/system/node/nodeN/vmstat
=============================================================

The per-NUMA-node subset of /proc/vmstat (node-level page states, workingset and NUMA counters;
in pages or events). Same ``name value`` format as /proc/vmstat; the node number comes from the
path (:func:`vmanalyze.parsers._common.node_from_path`). See
https://www.kernel.org/doc/html/latest/admin-guide/numastat.html and drivers/base/node.c.

Sample input::

    nr_inactive_anon 1439
    nr_active_anon 384
    workingset_refault_anon 0
    workingset_refault_file 12

Output: the dict of :func:`vmanalyze.parsers.vmstat.parse_vmstat` (raw counters plus derived
totals, ``None`` when no part exists). Tolerated kernel quirks: trailing NUL padding, and a
value line without a name (`` 176096``) printed by some 4.8-era kernels, which is dropped.

Examples:
    >>> vs = parse_sys_node_vmstat(SAMPLE)
    >>> vs["nr_inactive_anon"], vs["workingset_refault"], vs["pgsteal"]
    (1439, 12, None)
    >>> parse_sys_node_vmstat("nr_dirtied 5\\n 176096\\n\\x00\\x00")["nr_dirtied"]
    5
"""

from __future__ import annotations

from vmanalyze.parsers._common import parse_counters
from vmanalyze.parsers.vmstat import add_derived

SOURCE = "sys_node_vmstat"

SAMPLE = """\
nr_inactive_anon 1439
nr_active_anon 384
workingset_refault_anon 0
workingset_refault_file 12
"""


def parse_sys_node_vmstat(text: str) -> dict[str, int | None]:
    """Parse a node's vmstat (see the module docstring)."""
    return add_derived(parse_counters(text, SOURCE, tolerate_unnamed=True))
