"""sysctl_vm - files /proc/sys/vm/*
================================

Virtual memory tunables, one per file: ``swappiness``, ``overcommit_memory``,
``overcommit_ratio``, ``min_free_kbytes``, ``watermark_scale_factor``, ``zone_reclaim_mode``,
``nr_hugepages``, ``dirty_ratio``... Most hold one integer; ``lowmem_reserve_ratio`` holds one
per zone separated by tabs; ``numa_zonelist_order`` holds a word (``Node``, ``default``).
Write-only trigger files (``stat_refresh``) read as empty. The name comes from the path. See
https://www.kernel.org/doc/html/latest/admin-guide/sysctl/vm.html

Sample input (``lowmem_reserve_ratio``)::

    256	256	32	0	0

Output: int for one integer, ``list[int]`` for several, str for anything else, ``None`` for an
empty file.

Examples:
    >>> parse_sysctl_vm("60\\n"), parse_sysctl_vm("256\\t256\\t32\\n"), parse_sysctl_vm("Node\\n")
    (60, [256, 256, 32], 'Node')
    >>> parse_sysctl_vm("") is None
    True
"""

from __future__ import annotations

SOURCE = "sysctl_vm"


def _is_int(word: str) -> bool:
    return word.lstrip("-").isdigit()


def parse_sysctl_vm(text: str) -> int | list[int] | str | None:
    """Parse one /proc/sys/vm file (see the module docstring)."""
    value = text.strip(" \t\r\n\x00")
    if not value:
        return None
    words = value.split()
    if all(_is_int(word) for word in words):
        return int(words[0]) if len(words) == 1 else [int(word) for word in words]
    return value
