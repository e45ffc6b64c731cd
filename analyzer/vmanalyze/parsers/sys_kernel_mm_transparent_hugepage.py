"""sys_kernel_mm_transparent_hugepage - files /sys/kernel/mm/transparent_hugepage/*
=================================================================================

Transparent Huge Page (THP) settings. ``enabled`` (``always``/``madvise``/``never``),
``defrag`` (3 options before 4.6, then ``always defer defer+madvise madvise never``) and
``shmem_enabled`` (``always within_size advise never deny force``) show every choice with the
active one in brackets. Since 6.8, per-size (mTHP) directories ``hugepages-<size>kB/`` have
their own ``enabled`` and ``shmem_enabled`` whose choices include ``inherit`` (follow the
top-level file). RHEL 6 kernels use the same syntax under
``/sys/kernel/mm/redhat_transparent_hugepage/`` (and RHEL 6's ``khugepaged/defrag`` reads
``[yes] no``). Numeric files: ``khugepaged/*`` (``pages_to_scan``, ``scan_sleep_millisecs``,
``alloc_sleep_millisecs``, ``pages_collapsed``, ``full_scans``, ``max_ptes_none``,
``max_ptes_swap``, ``max_ptes_shared``; upstream ``khugepaged/defrag`` is 0/1),
``use_zero_page``, ``hpage_pmd_size`` (bytes), ``shrink_underused`` and the per-size
``stats/*`` counters. See https://www.kernel.org/doc/html/latest/admin-guide/mm/transhuge.html

Sample input::

    always defer defer+madvise [madvise] never

Output: :func:`parse_thp_setting` returns ``{"selected": str | None, "options": list[str]}``
(``selected`` is ``None`` if nothing is bracketed; a bare value such as ``1`` is returned as
``selected`` with no options); :func:`parse_thp_number` returns an int;
:func:`thp_size_from_path` returns the page size in bytes of an mTHP ``hugepages-<N>kB``
path (``None`` for top-level files).

Examples:
    >>> parse_thp_setting("always defer defer+madvise [madvise] never\\n")
    {'selected': 'madvise', 'options': ['always', 'defer', 'defer+madvise', 'madvise', 'never']}
    >>> parse_thp_setting("always inherit madvise [never]\\n")["selected"]
    'never'
    >>> parse_thp_setting("[yes] no\\n")
    {'selected': 'yes', 'options': ['yes', 'no']}
    >>> parse_thp_number("4096\\n")
    4096
    >>> thp_size_from_path("sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled")
    65536
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import hugepage_size_from_path, single_value, to_int

SOURCE = "sys_kernel_mm_transparent_hugepage"


def parse_thp_setting(text: str) -> dict[str, str | list[str] | None]:
    """Parse a ``[selected]``-style THP file (see the module docstring)."""
    line = single_value(text, SOURCE)
    words = line.split()
    selected: str | None = None
    options: list[str] = []
    for word in words:
        if word.startswith("[") and word.endswith("]"):
            if selected is not None:
                raise ParseError(SOURCE, 1, line, "two selected values")
            word = word[1:-1]
            selected = word
        elif "[" in word or "]" in word:
            raise ParseError(SOURCE, 1, line, f"bad option {word!r}")
        options.append(word)
    if selected is None and len(words) == 1:
        return {"selected": words[0], "options": []}
    return {"selected": selected, "options": options}


def parse_thp_number(text: str) -> int:
    """Parse a numeric THP file (khugepaged tunables, counters)."""
    value = single_value(text, SOURCE)
    return to_int(value, SOURCE, 1, value)


def thp_size_from_path(path: str) -> int | None:
    """Page size in bytes of an mTHP ``.../hugepages-<N>kB/...`` path, else ``None``."""
    return hugepage_size_from_path(path)
