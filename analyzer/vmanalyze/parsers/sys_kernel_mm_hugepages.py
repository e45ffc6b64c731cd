"""sys_kernel_mm_hugepages - files /sys/kernel/mm/hugepages/hugepages-<N>kB/*
===========================================================================

HugeTLB pools, one directory per huge page size, system-wide and per NUMA node
(``/sys/devices/system/node/nodeN/hugepages/hugepages-<N>kB/``). Each file holds one number of
pages: ``nr_hugepages`` (pool size), ``free_hugepages``, ``resv_hugepages`` (reserved, not yet
faulted), ``surplus_hugepages`` (above the pool, from overcommit),
``nr_overcommit_hugepages`` (limit), ``nr_hugepages_mempolicy``; per-node directories have
only ``nr_hugepages``, ``free_hugepages`` and ``surplus_hugepages``. Pages are reserved memory
whether used or not. See https://www.kernel.org/doc/html/latest/admin-guide/mm/hugetlbpage.html

Sample input (``hugepages-2048kB/nr_hugepages``)::

    2000

Output: :func:`parse_hugepages_value` returns the int (pages); :func:`hugepage_size_from_path`
returns the huge page size in bytes parsed from the ``hugepages-<N>kB`` directory name;
:func:`parse_hugepages_path` returns ``{"node": int | None, "size_bytes": int,
"counter": str}`` for a captured path (``node`` is ``None`` for the global pool).

Examples:
    >>> parse_hugepages_value("2000\\n")
    2000
    >>> hugepage_size_from_path("hugepages-1048576kB")
    1073741824
    >>> parse_hugepages_path("sys/devices/system/node/node1/hugepages/hugepages-2048kB/"
    ...                      "nr_hugepages")
    {'node': 1, 'size_bytes': 2097152, 'counter': 'nr_hugepages'}
"""

from __future__ import annotations

from vmanalyze.errors import InputError
from vmanalyze.parsers._common import (
    hugepage_size_from_path,
    node_from_path,
    single_value,
    to_int,
)

SOURCE = "sys_kernel_mm_hugepages"


def parse_hugepages_value(text: str) -> int:
    """Parse one hugepage pool counter file (pages)."""
    value = single_value(text, SOURCE)
    return to_int(value, SOURCE, 1, value)


def parse_hugepages_path(path: str) -> dict[str, int | str | None]:
    """Split a captured hugepage counter path into node, page size and counter name."""
    size = hugepage_size_from_path(path)
    if size is None:
        raise InputError(path, "no hugepages-<N>kB directory in the path")
    return {"node": node_from_path(path), "size_bytes": size, "counter": path.rsplit("/", 1)[-1]}
