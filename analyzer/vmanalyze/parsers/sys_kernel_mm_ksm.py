"""sys_kernel_mm_ksm - files /sys/kernel/mm/ksm/*
==============================================

Kernel Samepage Merging: whether ksmd runs (``run``: 0 stop, 1 run, 2 unmerge), how hard it
scans (``pages_to_scan``, ``sleep_millisecs``) and what it achieved (``pages_shared``,
``pages_sharing``, ``pages_unshared``, ``pages_volatile``, ``full_scans``,
``general_profit`` in bytes, may be negative). One value per file; since 6.7
``advisor_mode`` uses the ``[selected]`` syntax. See
https://www.kernel.org/doc/html/latest/admin-guide/mm/ksm.html

Sample input (``run``)::

    0

Output: int for numeric files; for a ``[selected]`` file, the selected word (str).

Examples:
    >>> parse_sys_kernel_mm_ksm("100\\n"), parse_sys_kernel_mm_ksm("[none] scan-time\\n")
    (100, 'none')
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import single_value

SOURCE = "sys_kernel_mm_ksm"


def parse_sys_kernel_mm_ksm(text: str) -> int | str:
    """Parse one KSM file (see the module docstring)."""
    value = single_value(text, SOURCE)
    if value.lstrip("-").isdigit():
        return int(value)
    for word in value.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    raise ParseError(SOURCE, 1, value, "expected a number or a [selected] value")
