"""loadavg - file /proc/loadavg
============================

Load averages over 1, 5 and 15 minutes (runnable plus uninterruptible tasks, so memory stalls in
D state raise it), the number of runnable scheduling entities over the total, and the last pid
allocated. See https://man7.org/linux/man-pages/man5/proc_loadavg.5.html

Sample input::

    0.52 0.58 0.59 2/345 12345

Output: dict with ``load1``, ``load5``, ``load15`` (float), ``runnable``, ``total_threads``,
``last_pid`` (int).

Examples:
    >>> parse_loadavg("0.52 0.58 0.59 2/345 12345\\n")
    {'load1': 0.52, 'load5': 0.58, 'load15': 0.59, 'runnable': 2, 'total_threads': 345, \
'last_pid': 12345}
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content, to_float, to_int

SOURCE = "loadavg"


def parse_loadavg(text: str) -> dict[str, float | int]:
    """Parse /proc/loadavg (see the module docstring)."""
    require_content(text, SOURCE)
    line = text.strip().splitlines()[0]
    words = line.split()
    runnable, slash, total = words[3].partition("/") if len(words) == 5 else ("", "", "")
    if not slash:
        raise ParseError(SOURCE, 1, line, "expected 'l1 l5 l15 run/total lastpid'")
    return {
        "load1": to_float(words[0], SOURCE, 1, line),
        "load5": to_float(words[1], SOURCE, 1, line),
        "load15": to_float(words[2], SOURCE, 1, line),
        "runnable": to_int(runnable, SOURCE, 1, line),
        "total_threads": to_int(total, SOURCE, 1, line),
        "last_pid": to_int(words[4], SOURCE, 1, line),
    }
