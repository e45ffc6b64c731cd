"""sys_node_meminfo - file /sys/devices/system/node/nodeN/meminfo
===============================================================

The meminfo of one NUMA node: its total, free and used memory, LRU lists, slab, and hugepages
allocated on that node. Every line starts with ``Node N``. See
https://www.kernel.org/doc/html/latest/admin-guide/mm/numaperf.html and drivers/base/node.c.

Sample input::

    Node 0 MemTotal:       16320756 kB
    Node 0 MemFree:        13812020 kB
    Node 0 MemUsed:         2508736 kB
    Node 0 Active(anon):       1536 kB
    Node 0 HugePages_Total:     0

Output: one flat dict with ``node`` (int, from the ``Node N`` prefix) and the meminfo naming
rule: ``mem_total_bytes``, ``mem_free_bytes``, ``mem_used_bytes``, ``file_pages_bytes``,
``active_anon_bytes``... in bytes; ``hugepages_total``, ``hugepages_free``, ``hugepages_surp``
in pages. Every key of :data:`NODE_MEMINFO_KEYS` is present (``None`` when absent); unknown
keys are kept.

Examples:
    >>> nm = parse_sys_node_meminfo(SAMPLE)
    >>> nm["node"], nm["mem_total_bytes"], nm["active_anon_bytes"], nm["hugepages_total"]
    (0, 16712454144, 1572864, 0)
    >>> nm["shmem_bytes"] is None
    True
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, parse_key_values, to_int

SOURCE = "sys_node_meminfo"

SAMPLE = """\
Node 0 MemTotal:       16320756 kB
Node 0 MemFree:        13812020 kB
Node 0 MemUsed:         2508736 kB
Node 0 Active(anon):       1536 kB
Node 0 HugePages_Total:     0
"""

NODE_MEMINFO_KEYS: tuple[str, ...] = (
    "node",
    "mem_total_bytes",
    "mem_free_bytes",
    "mem_used_bytes",
    "swap_cached_bytes",
    "active_bytes",
    "inactive_bytes",
    "active_anon_bytes",
    "inactive_anon_bytes",
    "active_file_bytes",
    "inactive_file_bytes",
    "unevictable_bytes",
    "mlocked_bytes",
    "high_total_bytes",
    "high_free_bytes",
    "low_total_bytes",
    "low_free_bytes",
    "dirty_bytes",
    "writeback_bytes",
    "file_pages_bytes",
    "mapped_bytes",
    "anon_pages_bytes",
    "shmem_bytes",
    "kernel_stack_bytes",
    "page_tables_bytes",
    "sec_page_tables_bytes",
    "nfs_unstable_bytes",
    "bounce_bytes",
    "writeback_tmp_bytes",
    "k_reclaimable_bytes",
    "slab_bytes",
    "s_reclaimable_bytes",
    "s_unreclaim_bytes",
    "anon_hugepages_bytes",
    "shmem_hugepages_bytes",
    "shmem_pmd_mapped_bytes",
    "file_hugepages_bytes",
    "file_pmd_mapped_bytes",
    "hugepages_total",
    "hugepages_free",
    "hugepages_surp",
)


def node_prefix(text: str, source: str) -> int | None:
    """Check that every line starts with the same ``Node N`` and return N."""
    node: int | None = None
    for lineno, line in numbered_lines(text):
        words = line.split(None, 2)
        if len(words) < 3 or words[0] != "Node":
            raise ParseError(source, lineno, line, "expected 'Node N Key: value'")
        this = to_int(words[1], source, lineno, line)
        if node is not None and this != node:
            raise ParseError(source, lineno, line, f"node {this} in a file of node {node}")
        node = this
    return node


def parse_sys_node_meminfo(text: str) -> dict[str, int | None]:
    """Parse one node's meminfo (see the module docstring)."""
    out = parse_key_values(text, SOURCE, NODE_MEMINFO_KEYS, prefix_words=2)
    out["node"] = node_prefix(text, SOURCE)
    return out
