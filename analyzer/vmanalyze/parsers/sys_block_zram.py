"""sys_block_zram - file /sys/block/zram<id>/mm_stat
====================================================

The memory statistics of one zram block device, as one line of whitespace-separated integers
(Documentation/admin-guide/blockdev/zram.rst, "mm_stat"): ``orig_data_size`` (bytes of data
stored, uncompressed), ``compr_data_size`` (bytes after compression), ``mem_used_total``
(bytes the device takes, allocator overhead included), ``mem_limit`` (bytes, 0 = none),
``mem_used_max`` (bytes, peak), ``same_pages`` (pages filled with one value: no memory
allocated), ``pages_compacted``, ``huge_pages`` (incompressible pages, 4.19+) and
``huge_pages_since`` (5.15+). Older kernels print fewer columns, newer ones may add some: the
known leading columns are kept, the rest ignored. An uninitialised device prints zeros.

Sample input::

           0        0        0        0        0        0        0        0        0

Output: ``dict`` with ``orig_data_size_bytes``, ``compr_data_size_bytes``,
``mem_used_total_bytes``, ``mem_limit_bytes``, ``mem_used_max_bytes``, ``same_pages``,
``pages_compacted``, ``huge_pages``, ``huge_pages_since`` (int; a column the kernel did not
print is absent). A 0-byte file raises :class:`~vmanalyze.errors.SkipSource`.

Examples:
    >>> parse_sys_block_zram(SAMPLE)["compr_data_size_bytes"]
    11821056
    >>> parse_sys_block_zram(SAMPLE)["same_pages"]
    2871
    >>> sorted(parse_sys_block_zram("4096 1024 8192 0 8192 0 0"))[:3]
    ['compr_data_size_bytes', 'mem_limit_bytes', 'mem_used_max_bytes']
    >>> "huge_pages" in parse_sys_block_zram("4096 1024 8192 0 8192 0 0")
    False
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content, to_int

SOURCE = "sys_block_zram"

#: The columns of mm_stat in kernel order (drivers/block/zram/zram_drv.c, mm_stat_show()).
COLUMNS = (
    "orig_data_size_bytes",
    "compr_data_size_bytes",
    "mem_used_total_bytes",
    "mem_limit_bytes",
    "mem_used_max_bytes",
    "same_pages",
    "pages_compacted",
    "huge_pages",
    "huge_pages_since",
)

SAMPLE = "545288192 11821056 12627968        0 12627968     2871        0        0        0\n"


def parse_sys_block_zram(text: str) -> dict[str, int]:
    """Parse one zram device's ``mm_stat`` (see the module docstring)."""
    require_content(text, SOURCE)
    line = text.strip().splitlines()[0]
    fields = line.split()
    if len(fields) < 3:
        raise ParseError(SOURCE, 1, line, "mm_stat has fewer than 3 columns")
    # zip stops at the shorter: older kernels print fewer columns, newer ones may add some
    return {
        name: to_int(value, SOURCE, 1, line) for name, value in zip(COLUMNS, fields, strict=False)
    }
