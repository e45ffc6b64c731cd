"""proc_stat - file /proc/stat
===========================

Kernel/system statistics. This module reads the CPU lines: time spent by all CPUs (``cpu``)
and by each CPU (``cpuN``) in user, nice, system, idle, iowait, irq, softirq, steal, guest and
guest_nice mode, in clock ticks (USER_HZ, usually 100/s). Old kernels print fewer columns
(steal 2.6.11, guest 2.6.24, guest_nice 2.6.33). High iowait/system with memory pressure
points at reclaim or swap. See https://man7.org/linux/man-pages/man5/proc_stat.5.html

Sample input::

    cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
    cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
    intr 1462898 ...
    ctxt 1990473
    btime 1062191376
    processes 2915
    procs_running 1
    procs_blocked 0

Output: :func:`parse_proc_stat` returns ``list[dict]``, one per CPU line, with ``cpu`` (str,
``cpu`` or ``cpuN``) and :data:`CPU_FIELDS` (int ticks, ``None`` when not printed);
:func:`parse_proc_stat_totals` returns the single-value lines (``ctxt``, ``btime``,
``processes``, ``procs_running``, ``procs_blocked``; ``None`` when absent).

Examples:
    >>> parse_proc_stat(SAMPLE)[1]["idle"], parse_proc_stat(SAMPLE)[0]["guest"]
    (13343292, 175628)
    >>> parse_proc_stat("cpu  1 2 3 4\\n")[0]["iowait"] is None
    True
    >>> parse_proc_stat_totals(SAMPLE)["procs_blocked"]
    0
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "proc_stat"

SAMPLE = """\
cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
intr 1462898 0 0
ctxt 1990473
btime 1062191376
processes 2915
procs_running 1
procs_blocked 0
"""

CPU_FIELDS: tuple[str, ...] = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
)
TOTAL_KEYS: tuple[str, ...] = ("ctxt", "btime", "processes", "procs_running", "procs_blocked")


def parse_proc_stat(text: str) -> list[dict[str, str | int | None]]:
    """Parse the CPU lines of /proc/stat (see the module docstring)."""
    require_content(text, SOURCE)
    rows: list[dict[str, str | int | None]] = []
    for lineno, line in numbered_lines(text):
        words = line.split()
        if not words[0].startswith("cpu"):
            continue
        if len(words) < 5:
            raise ParseError(SOURCE, lineno, line, "a cpu line has at least 4 values")
        row: dict[str, str | int | None] = {"cpu": words[0]}
        values = [to_int(word, SOURCE, lineno, line) for word in words[1:]]
        for index, field in enumerate(CPU_FIELDS):
            row[field] = values[index] if index < len(values) else None
        rows.append(row)
    return rows


def parse_proc_stat_totals(text: str) -> dict[str, int | None]:
    """Parse the single-value lines of /proc/stat (``ctxt``, ``btime``, ``processes``...)."""
    require_content(text, SOURCE)
    out: dict[str, int | None] = dict.fromkeys(TOTAL_KEYS)
    for lineno, line in numbered_lines(text):
        words = line.split()
        if len(words) == 2 and not words[0].startswith("cpu"):
            out[words[0]] = to_int(words[1], SOURCE, lineno, line)
    return out
