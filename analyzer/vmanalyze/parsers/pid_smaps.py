"""pid_smaps - file /proc/<pid>/smaps
===================================

Per-mapping memory of a process: each mapping's header (address range, permissions, offset,
device, inode, path) followed by ``Key: N kB`` lines (``Size``, ``Rss``, ``Pss``, ``Swap``,
``AnonHugePages``...), ``THPeligible``, ``ProtectionKey`` and ``VmFlags``. Expensive to read
(the kernel walks every page table); vmcollect prefers smaps_rollup. A kernel thread's file is
empty (``[]``). See https://www.kernel.org/doc/html/latest/filesystems/proc.html

Sample input::

    7ffd1c9d3000-7ffd1c9f4000 rw-p 00000000 00:00 0                          [stack]
    Size:                132 kB
    Rss:                  32 kB
    Swap:                  8 kB
    THPeligible:    0
    VmFlags: rd wr mr mw me gd ac

Output: ``list[dict]``, one per mapping: ``start``, ``end`` (int), ``perms``, ``offset`` (int),
``dev``, ``inode`` (int), ``pathname`` (str or ``None``), the ``kB`` values as
``<snake_key>_bytes`` (``size_bytes``, ``rss_bytes``, ``pss_bytes``, ``swap_bytes``,
``anon_hugepages_bytes``, ``kernel_page_size_bytes``...), ``thp_eligible`` and
``protection_key`` (int), ``vm_flags`` (list of str).

Examples:
    >>> m = parse_pid_smaps(SAMPLE)[0]
    >>> m["pathname"], m["size_bytes"], m["swap_bytes"], m["thp_eligible"], m["vm_flags"][:2]
    ('[stack]', 135168, 8192, 0, ['rd', 'wr'])
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import kb_value, numbered_lines, snake_key, to_int

SOURCE = "pid_smaps"

SAMPLE = """\
7ffd1c9d3000-7ffd1c9f4000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
Rss:                  32 kB
Swap:                  8 kB
THPeligible:    0
VmFlags: rd wr mr mw me gd ac
"""

_HEADER_RE = re.compile(
    r"^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+(\S+)\s+(\d+)(?:\s+(.*))?$"
)
_SPECIAL = {"THPeligible": "thp_eligible", "VmFlags": "vm_flags"}


def parse_pid_smaps(text: str) -> list[dict[str, Any]]:
    """Parse /proc/<pid>/smaps (see the module docstring); empty text gives ``[]``."""
    rows: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for lineno, line in numbered_lines(text):
        header = _HEADER_RE.match(line)
        if header:
            current = {
                "start": int(header.group(1), 16),
                "end": int(header.group(2), 16),
                "perms": header.group(3),
                "offset": int(header.group(4), 16),
                "dev": header.group(5),
                "inode": int(header.group(6)),
                "pathname": (header.group(7) or "").strip() or None,
            }
            rows.append(current)
            continue
        key, colon, raw = line.partition(":")
        key = key.strip()
        if current is None or not colon or " " in key:
            raise ParseError(SOURCE, lineno, line, "expected a mapping header or 'Key: value'")
        if key == "VmFlags":
            current["vm_flags"] = raw.split()
        elif raw.strip().endswith("kB"):
            name, value = kb_value(key, raw, SOURCE, lineno, line)
            current[name] = value
        else:
            current[_SPECIAL.get(key, snake_key(key))] = to_int(raw.strip(), SOURCE, lineno, line)
    return rows
