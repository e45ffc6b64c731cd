"""swaps - file /proc/swaps
========================

Active swap areas: device or file, type (``partition`` or ``file``), size and use in kB, and
priority (higher is used first; negative = default order). The kernel always prints the header
line; a swap path with white space has it escaped as octal (``\\040``), and a deleted swap file
ends in `` (deleted)``. See https://man7.org/linux/man-pages/man5/proc_swaps.5.html

Sample input::

    Filename				Type		Size		Used		Priority
    /dev/dm-1                               partition	1003516		0		-2
    /swap.img                               file		3996668		1024		-3

Output: ``list[dict]`` (empty when no swap is active), one per area: ``filename`` (str, octal
escapes decoded), ``type`` (str), ``size_bytes``, ``used_bytes`` (int, bytes), ``priority``
(int). A 0-byte file (not readable when captured) raises
:class:`~vmanalyze.errors.SkipSource`.

Examples:
    >>> parse_swaps(SAMPLE)[1]
    {'filename': '/swap.img', 'type': 'file', 'size_bytes': 4092588032, 'used_bytes': 1048576, \
'priority': -3}
    >>> parse_swaps("Filename\\tType\\tSize\\tUsed\\tPriority\\n")
    []
    >>> parse_swaps(HEADER + "/my\\\\040swap file 8 0 -2\\n")[0]["filename"]
    '/my swap'
"""

from __future__ import annotations

import re

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import KIB, numbered_lines, require_content, to_int

SOURCE = "swaps"

HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"

SAMPLE = (
    HEADER + "/dev/dm-1                               partition\t1003516\t\t0\t\t-2\n"
    "/swap.img                               file\t\t3996668\t\t1024\t\t-3\n"
)

_OCTAL_RE = re.compile(r"\\([0-7]{3})")


def _unescape(path: str) -> str:
    return _OCTAL_RE.sub(lambda m: chr(int(m.group(1), 8)), path)


def parse_swaps(text: str) -> list[dict[str, str | int]]:
    """Parse /proc/swaps (see the module docstring)."""
    require_content(text, SOURCE)
    rows: list[dict[str, str | int]] = []
    for lineno, line in numbered_lines(text):
        if lineno == 1 and line.startswith("Filename"):
            continue
        words = line.rsplit(None, 4)
        if len(words) != 5:
            raise ParseError(SOURCE, lineno, line, "expected 'filename type size used prio'")
        filename, kind, size, used, priority = words
        rows.append(
            {
                "filename": _unescape(filename),
                "type": kind,
                "size_bytes": to_int(size, SOURCE, lineno, line) * KIB,
                "used_bytes": to_int(used, SOURCE, lineno, line) * KIB,
                "priority": to_int(priority, SOURCE, lineno, line),
            }
        )
    return rows
