"""pid_stat - file /proc/<pid>/stat
=================================

One line of status fields of a process, in the order of proc(5): pid, command name in
parentheses, state, parent, fault counters, CPU times in clock ticks, sizes, scheduling. The
command name (``comm``, up to 15 bytes) may contain spaces, parentheses and even newlines, so the
line is split after the LAST ``)``. Old kernels print fewer fields (2.6.32: 44); missing
trailing fields are ``None``. See https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html

Sample input::

    2001 (bad) S 1 2 3 4 5) S 1888 2001 1888 34816 2001 4202496 428 0 0 0 0 0 0 0 20 0 1 0 ...

Output: one dict keyed by the proc(5) field names of :data:`STAT_FIELDS` (1-based field numbers:
pid=1, comm=2, state=3, ppid=4, minflt=10, cminflt=11, majflt=12, cmajflt=13, utime=14,
stime=15 (ticks), priority=18, nice=19, num_threads=20, starttime=22 (ticks since boot),
vsize=23 (bytes), rss=24 (pages), rsslim=25 (bytes), processor=39, delayacct_blkio_ticks=42,
guest_time=43...). ``comm`` and ``state`` are str, everything else int; fields beyond 52 are
kept as ``field_<n>``. Lines after the stat line (never printed by the kernel) are ignored.

Examples:
    >>> st = parse_pid_stat(SAMPLE)
    >>> st["pid"], st["comm"], st["state"], st["ppid"], st["num_threads"]
    (2001, 'bad) S 1 2 3 4 5', 'S', 1888, 1)
    >>> st["minflt"], st["vsize"], st["rss"], st["processor"], st["exit_code"]
    (428, 115900416, 297, 0, 0)
    >>> old = parse_pid_stat("1 (init) S 0 1 1 0 -1 4202752 1 2 3 4 5 6 7 8 20 0 1 0 3")
    >>> old["starttime"], old["vsize"], old["processor"]
    (3, None, None)
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content, to_int

SOURCE = "pid_stat"

SAMPLE = (
    "2001 (bad) S 1 2 3 4 5) S 1888 2001 1888 34816 2001 4202496 428 0 0 0 0 0 0 0 20 0 1 0"
    " 75513 115900416 297 18446744073709551615 4194304 5100612 140737020052256 140737020050904"
    " 140096699233308 0 65536 4 65538 18446744072034584486 0 0 17 0 0 0 0 0 0 7200240 7236240"
    " 35389440 140737020057179 140737020057223 140737020057223 140737020059606 0\n"
)

#: Field names of proc(5), in order: ``STAT_FIELDS[n - 1]`` is field n.
STAT_FIELDS: tuple[str, ...] = (
    "pid",
    "comm",
    "state",
    "ppid",
    "pgrp",
    "session",
    "tty_nr",
    "tpgid",
    "flags",
    "minflt",
    "cminflt",
    "majflt",
    "cmajflt",
    "utime",
    "stime",
    "cutime",
    "cstime",
    "priority",
    "nice",
    "num_threads",
    "itrealvalue",
    "starttime",
    "vsize",
    "rss",
    "rsslim",
    "startcode",
    "endcode",
    "startstack",
    "kstkesp",
    "kstkeip",
    "signal",
    "blocked",
    "sigignore",
    "sigcatch",
    "wchan",
    "nswap",
    "cnswap",
    "exit_signal",
    "processor",
    "rt_priority",
    "policy",
    "delayacct_blkio_ticks",
    "guest_time",
    "cguest_time",
    "start_data",
    "end_data",
    "start_brk",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
    "exit_code",
)

# Fields 1-3 are always there, and 2.6.x printed at least up to starttime.
_MIN_FIELDS = 22


def parse_pid_stat(text: str) -> dict[str, int | str | None]:
    """Parse /proc/<pid>/stat (see the module docstring)."""
    require_content(text, SOURCE)
    head, lparen, _ = text.partition("(")
    close = text.rfind(")")
    first_line = text.splitlines()[0] if text.splitlines() else text
    if not lparen or close < len(head):
        raise ParseError(SOURCE, 1, first_line, "no '(comm)'")
    pid = to_int(head.strip(), SOURCE, 1, first_line)
    comm = text[len(head) + 1 : close]
    rest = text[close + 1 :].split("\n", 1)[0].split()
    if len(rest) < _MIN_FIELDS - 2:
        raise ParseError(SOURCE, 1, first_line, f"only {len(rest) + 2} fields")
    out: dict[str, int | str | None] = dict.fromkeys(STAT_FIELDS)
    out["pid"] = pid
    out["comm"] = comm
    out["state"] = rest[0]
    lineno = 1 + text[:close].count("\n")
    for index, word in enumerate(rest[1:], start=4):
        name = STAT_FIELDS[index - 1] if index <= len(STAT_FIELDS) else f"field_{index}"
        out[name] = to_int(word, SOURCE, lineno, word)
    return out
