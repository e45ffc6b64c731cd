"""swapon - the output of ``swapon --bytes --show`` in a sosreport
================================================================

``sos_commands/memory/swapon_--bytes_--show`` (sos 4.x memory plugin): util-linux's table of
the active swap areas, sizes in bytes (``--bytes``): ``NAME TYPE SIZE USED PRIO``. Empty when
no swap is active (sos still writes the file). ``swapon --summary --verbose``, the other file
sos writes, is ``/proc/swaps`` in KiB, which the ``swaps`` table already reads.

Sample input (util-linux 2.38.1, Debian 12, a swap file)::

    NAME           TYPE     SIZE USED PRIO
    /tmp/h13b.swap file 67104768    0   -2

Output: ``list[dict]``, one per swap area: ``filename`` (str), ``type`` (``partition``,
``file``...), ``size_bytes``, ``used_bytes``, ``priority`` (int).

Examples:
    >>> rows = parse_swapon(SAMPLE)
    >>> rows[0]["filename"], rows[0]["type"], rows[0]["size_bytes"], rows[0]["priority"]
    ('/tmp/h13b.swap', 'file', 67104768, -2)
    >>> parse_swapon("")
    []
"""

from __future__ import annotations

from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, to_int

SOURCE = "swapon"

SAMPLE = "NAME           TYPE     SIZE USED PRIO\n/tmp/h13b.swap file 67104768    0   -2\n"


def parse_swapon(text: str) -> list[dict[str, Any]]:
    """Parse ``swapon --bytes --show`` output (see the module docstring); empty: no swap."""
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    for lineno, line in numbered_lines(text):
        words = line.split()
        if header is None:
            if words[:2] != ["NAME", "TYPE"]:
                raise ParseError(SOURCE, lineno, line, "expected the NAME TYPE SIZE header")
            header = words
            continue
        # a name may hold spaces: the last len(header) - 1 words are the other columns
        if len(words) < len(header):
            raise ParseError(SOURCE, lineno, line, f"expected {len(header)} columns")
        name = line.rsplit(None, len(header) - 1)[0].strip()
        values = dict(zip(header[1:], words[-(len(header) - 1) :], strict=True))
        rows.append(
            {
                "filename": name,
                "type": values.get("TYPE"),
                "size_bytes": _number(values.get("SIZE"), lineno, line),
                "used_bytes": _number(values.get("USED"), lineno, line),
                "priority": _number(values.get("PRIO"), lineno, line),
            }
        )
    return rows


def _number(value: str | None, lineno: int, line: str) -> int | None:
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return to_int(value, SOURCE, lineno, line)
    raise ParseError(SOURCE, lineno, line, f"not a byte count: {value!r} (--bytes missing?)")
