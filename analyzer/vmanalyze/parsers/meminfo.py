"""meminfo - file /proc/meminfo
============================

System-wide memory usage as the kernel accounts it: total and free memory, page cache, anon,
slab, swap, commit charge, hugepages. Each line is ``Key: value [kB]``; kernels add keys over
time (MemAvailable 3.14, KReclaimable 4.20, Zswap 5.19...) and drop a few. See
https://www.kernel.org/doc/html/latest/filesystems/proc.html#meminfo

Sample input::

    MemTotal:       16318088 kB
    MemFree:        14034392 kB
    MemAvailable:   15480424 kB
    Active(anon):       1536 kB
    Committed_AS:     447504 kB
    HugePages_Total:       0
    Hugepagesize:       2048 kB

Output: one flat dict. Every ``kB`` value becomes ``<snake_key>_bytes`` in bytes
(``mem_total_bytes``, ``mem_free_bytes``, ``mem_available_bytes``, ``active_anon_bytes``,
``committed_as_bytes``, ``swap_total_bytes``, ``anon_hugepages_bytes``, ``hugepagesize_bytes``,
``direct_map2m_bytes``...); unit-less counts keep a plain name (``hugepages_total``,
``hugepages_free``, ``hugepages_rsvd``, ``hugepages_surp``, in pages). Every key of
:data:`MEMINFO_KEYS` is present, ``None`` when this kernel does not print it; unknown keys are
kept. The 2.4-style header (``total: used: free:...``, ``Mem:``, ``Swap:``) that some old or
vendor kernels print first is skipped.

Examples:
    >>> mi = parse_meminfo(SAMPLE)
    >>> mi["mem_total_bytes"], mi["active_anon_bytes"], mi["committed_as_bytes"]
    (16709722112, 1572864, 458244096)
    >>> mi["hugepages_total"], mi["hugepagesize_bytes"]
    (0, 2097152)
    >>> mi["swap_total_bytes"] is None  # not in this sample: absent, never 0
    True
"""

from __future__ import annotations

from vmanalyze.parsers._common import parse_key_values

SOURCE = "meminfo"

SAMPLE = """\
MemTotal:       16318088 kB
MemFree:        14034392 kB
MemAvailable:   15480424 kB
Active(anon):       1536 kB
Committed_AS:     447504 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""

#: Output names of the keys printed by some kernel between 2.6.32 and 6.x (fs/proc/meminfo.c),
#: always present in the result (``None`` when absent).
MEMINFO_KEYS: tuple[str, ...] = (
    "mem_total_bytes",
    "mem_free_bytes",
    "mem_available_bytes",
    "buffers_bytes",
    "cached_bytes",
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
    "swap_total_bytes",
    "swap_free_bytes",
    "zswap_bytes",
    "zswapped_bytes",
    "dirty_bytes",
    "writeback_bytes",
    "anon_pages_bytes",
    "mapped_bytes",
    "shmem_bytes",
    "k_reclaimable_bytes",
    "slab_bytes",
    "s_reclaimable_bytes",
    "s_unreclaim_bytes",
    "kernel_stack_bytes",
    "page_tables_bytes",
    "sec_page_tables_bytes",
    "nfs_unstable_bytes",
    "bounce_bytes",
    "writeback_tmp_bytes",
    "commit_limit_bytes",
    "committed_as_bytes",
    "vmalloc_total_bytes",
    "vmalloc_used_bytes",
    "vmalloc_chunk_bytes",
    "percpu_bytes",
    "hardware_corrupted_bytes",
    "anon_hugepages_bytes",
    "shmem_hugepages_bytes",
    "shmem_pmd_mapped_bytes",
    "file_hugepages_bytes",
    "file_pmd_mapped_bytes",
    "cma_total_bytes",
    "cma_free_bytes",
    "hugepages_total",
    "hugepages_free",
    "hugepages_rsvd",
    "hugepages_surp",
    "hugepagesize_bytes",
    "hugetlb_bytes",
    "direct_map4k_bytes",
    "direct_map2m_bytes",
    "direct_map1g_bytes",
)


def parse_meminfo(text: str) -> dict[str, int | None]:
    """Parse /proc/meminfo into a flat dict (see the module docstring)."""
    return parse_key_values(text, SOURCE, MEMINFO_KEYS)
