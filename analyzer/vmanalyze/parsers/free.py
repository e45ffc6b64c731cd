"""free - the output of ``free`` in a sosreport
=============================================

``sos_commands/memory/free`` (sos 3.x and 4.x memory plugin; ``free_-m`` is the same in MiB and
is not read): procps's summary of ``/proc/meminfo`` in KiB. Two layouts exist:

* procps-ng 3.3.10 and newer (RHEL 7.2+, every Debian since 9)::

                   total        used        free      shared  buff/cache   available
    Mem:         2018096      307728     1172724      135284      537644     1431424
    Swap:              0           0           0

* older procps (RHEL 6, RHEL 7.0/7.1), with buffers and cache apart and no ``available``::

                 total       used       free     shared    buffers     cached
    Mem:      16268040   15877952     390088      19032     198464   12730024
    -/+ buffers/cache:    2949464   13318576
    Swap:      8257532      37352    8220180

Output: ``dict``, sizes in bytes, absent columns ``None``: ``mem_total_bytes``,
``mem_used_bytes``, ``mem_free_bytes``, ``mem_shared_bytes``, ``mem_buff_cache_bytes``
(``buffers`` + ``cached`` in the old layout), ``mem_buffers_bytes``, ``mem_cached_bytes`` (old
layout only), ``mem_available_bytes`` (new layout only), ``swap_total_bytes``,
``swap_used_bytes``, ``swap_free_bytes``. ``/proc/meminfo`` of the same sosreport has more
and is what the rules read; this table says what the customer saw with ``free``.

Examples:
    >>> new = parse_free(SAMPLE)
    >>> new["mem_total_bytes"], new["mem_available_bytes"], new["mem_cached_bytes"]
    (2066530304, 1465778176, None)
    >>> old = parse_free(SAMPLE_OLD)
    >>> old["mem_buff_cache_bytes"] == (198464 + 12730024) * 1024, old["mem_available_bytes"]
    (True, None)
    >>> old["swap_used_bytes"]
    38248448
"""

from __future__ import annotations

from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import KIB, numbered_lines, require_content, to_int

SOURCE = "free"

#: Debian 11's procps (3.3.17), from a real sosreport of tests/data/kernels/bullseye.
SAMPLE = (
    "               total        used        free      shared  buff/cache   available\n"
    "Mem:         2018096      307728     1172724      135284      537644     1431424\n"
    "Swap:              0           0           0\n"
)
#: The layout of procps before 3.3.10 (RHEL 6 and 7.0/7.1), as procps printed it.
SAMPLE_OLD = (
    "             total       used       free     shared    buffers     cached\n"
    "Mem:      16268040   15877952     390088      19032     198464   12730024\n"
    "-/+ buffers/cache:    2949464   13318576\n"
    "Swap:      8257532      37352    8220180\n"
)

_MEM_COLUMNS = {
    "total": "mem_total_bytes",
    "used": "mem_used_bytes",
    "free": "mem_free_bytes",
    "shared": "mem_shared_bytes",
    "buff/cache": "mem_buff_cache_bytes",
    "buffers": "mem_buffers_bytes",
    "cached": "mem_cached_bytes",
    "available": "mem_available_bytes",
}
KEYS = (*_MEM_COLUMNS.values(), "swap_total_bytes", "swap_used_bytes", "swap_free_bytes")


def parse_free(text: str) -> dict[str, Any]:
    """Parse ``free`` output in KiB (see the module docstring)."""
    require_content(text, SOURCE)
    out: dict[str, Any] = dict.fromkeys(KEYS)
    header: list[str] | None = None
    for lineno, line in numbered_lines(text):
        words = line.split()
        if header is None:
            if words and words[0] == "total":
                header = words
                continue
            raise ParseError(SOURCE, lineno, line, "expected the 'total used free' header")
        if words[0] == "Mem:":
            if len(words) - 1 != len(header) or any(h not in _MEM_COLUMNS for h in header):
                raise ParseError(SOURCE, lineno, line, f"Mem: does not match header {header}")
            for name, value in zip(header, words[1:], strict=True):
                out[_MEM_COLUMNS[name]] = to_int(value, SOURCE, lineno, line) * KIB
        elif words[0] == "Swap:":
            if len(words) != 4:
                raise ParseError(SOURCE, lineno, line, "expected Swap: total used free")
            total, used, free = (to_int(v, SOURCE, lineno, line) * KIB for v in words[1:])
            out.update(swap_total_bytes=total, swap_used_bytes=used, swap_free_bytes=free)
        elif line.startswith("-/+ buffers/cache:") or words[0] in ("Low:", "High:", "Total:"):
            continue  # derived lines of the old layout and of `free -l`/`-t`
        else:
            raise ParseError(SOURCE, lineno, line, "expected Mem:, Swap: or -/+ buffers/cache:")
    if header is None or out["mem_total_bytes"] is None:
        raise ParseError(SOURCE, 0, text[:80], "no Mem: line")
    if out["mem_buff_cache_bytes"] is None and out["mem_buffers_bytes"] is not None:
        out["mem_buff_cache_bytes"] = out["mem_buffers_bytes"] + (out["mem_cached_bytes"] or 0)
    return out
