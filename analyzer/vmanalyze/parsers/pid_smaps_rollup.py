"""pid_smaps_rollup - file /proc/<pid>/smaps_rollup
=================================================

The memory of a whole process summed over all its mappings (4.14+): resident (``Rss``),
proportional share (``Pss``, and since 5.x ``Pss_Anon``/``Pss_File``/``Pss_Shmem``,
``Pss_Dirty`` 6.x), clean/dirty shared/private pages, ``Anonymous``, ``LazyFree``,
``AnonHugePages``, hugetlb, ``Swap``/``SwapPss``, ``Locked``. Cheaper to read than smaps. The
first line is a pseudo mapping header ending in ``[rollup]``; a kernel thread's file is empty
(0 bytes: :class:`~vmanalyze.errors.SkipSource`). See
https://www.kernel.org/doc/html/latest/filesystems/proc.html (smaps_rollup)

Sample input::

    55e0d0b8d000-7ffd1c9f4000 ---p 00000000 00:00 0                          [rollup]
    Rss:               10540 kB
    Pss:                7006 kB
    Pss_Anon:           2372 kB
    Swap:               2000 kB
    SwapPss:            1998 kB

Output: flat dict, the meminfo naming rule: ``rss_bytes``, ``pss_bytes``, ``pss_anon_bytes``,
``pss_file_bytes``, ``pss_shmem_bytes``, ``pss_dirty_bytes``, ``shared_clean_bytes``,
``shared_dirty_bytes``, ``private_clean_bytes``, ``private_dirty_bytes``, ``referenced_bytes``,
``anonymous_bytes``, ``ksm_bytes``, ``lazy_free_bytes``, ``anon_hugepages_bytes``,
``shmem_pmd_mapped_bytes``, ``file_pmd_mapped_bytes``, ``shared_hugetlb_bytes``,
``private_hugetlb_bytes``, ``swap_bytes``, ``swap_pss_bytes``, ``locked_bytes`` (all of
:data:`ROLLUP_KEYS` present, ``None`` when absent; unknown keys kept).

Examples:
    >>> r = parse_pid_smaps_rollup(SAMPLE)
    >>> r["rss_bytes"], r["pss_anon_bytes"], r["swap_pss_bytes"], r["pss_dirty_bytes"]
    (10792960, 2428928, 2045952, None)
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import kb_value, numbered_lines, require_content

SOURCE = "pid_smaps_rollup"

SAMPLE = """\
55e0d0b8d000-7ffd1c9f4000 ---p 00000000 00:00 0                          [rollup]
Rss:               10540 kB
Pss:                7006 kB
Pss_Anon:           2372 kB
Swap:               2000 kB
SwapPss:            1998 kB
"""

ROLLUP_KEYS: tuple[str, ...] = (
    "rss_bytes",
    "pss_bytes",
    "pss_dirty_bytes",
    "pss_anon_bytes",
    "pss_file_bytes",
    "pss_shmem_bytes",
    "shared_clean_bytes",
    "shared_dirty_bytes",
    "private_clean_bytes",
    "private_dirty_bytes",
    "referenced_bytes",
    "anonymous_bytes",
    "ksm_bytes",
    "lazy_free_bytes",
    "anon_hugepages_bytes",
    "shmem_pmd_mapped_bytes",
    "file_pmd_mapped_bytes",
    "shared_hugetlb_bytes",
    "private_hugetlb_bytes",
    "swap_bytes",
    "swap_pss_bytes",
    "locked_bytes",
)


def parse_pid_smaps_rollup(text: str) -> dict[str, int | None]:
    """Parse /proc/<pid>/smaps_rollup (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, int | None] = dict.fromkeys(ROLLUP_KEYS)
    for lineno, line in numbered_lines(text):
        if lineno == 1 and line.endswith("[rollup]"):
            continue
        key, colon, raw = line.partition(":")
        if not colon or " " in key.strip():
            raise ParseError(SOURCE, lineno, line, "expected 'Key: N kB'")
        name, value = kb_value(key.strip(), raw, SOURCE, lineno, line)
        out[name] = value
    return out
