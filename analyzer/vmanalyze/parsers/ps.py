r"""ps - the process lists of a sosreport or Insights archive (``ps auxwww``, ``ps axo ...``)
========================================================================================

A sosreport has no ``/proc/<pid>`` files: its process list is the output of ``ps``, in several
variants (``sos_commands/process/``): ``ps auxwww`` (sos 3.x and 4.x; also the root ``ps``
link), ``ps alxwww`` (uid, ppid), ``ps axo flags,state,uid,pid,ppid,...,lstart,tty,time,cmd``
(the exact start time; sos 4.x writes ``wchan:20``) and ``ps axo pid,ppid,user,group,lwp,nlwp,
start_time,comm,cgroup`` (the 15-character comm and the cgroups). Insights archives hold
``insights_commands/ps_auxcww``, ``ps_auxww``, ``ps_ef`` and ``ps_eo_pid_ppid_comm``.

The columns are named by the header line (procps prints one for every format). Every column
is one word except three: the start time (``STARTED`` of ``lstart`` is 5 words, e.g.
``Wed Oct  2 02:19:25 2019``; ``START`` of ``start`` may be 2, ``Oct 02``), the command line
(``COMMAND``/``CMD``/``ARGS``, free text), and a ``COMMAND`` column followed by more columns,
which is the comm (it may hold spaces): the words after it are read from the right.
See https://man7.org/linux/man-pages/man1/ps.1.html (STANDARD FORMAT SPECIFIERS).

Sample input (``ps auxwww``, from a Debian 12 sosreport)::

    USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND
    root         2  0.0  0.0      0     0 ?        S    06:11   0:00 [kthreadd]
    postgres 10648  0.1  0.1 217124 29556 ?        Ss   06:17   0:00 /usr/lib/postgresql/15/bin/pos\
tgres -D /var/lib/postgresql/15/main

Output: ``list[dict]``, one per process line, every key of :data:`PS_KEYS` present (``None``
when this variant does not print it): ``pid``, ``ppid``, ``user``, ``uid``, ``state``,
``vsz_bytes``, ``rss_bytes`` (``VSZ``/``RSS`` are KiB: converted to bytes), ``start`` (the
coarse ``START``/``STIME`` as printed: ``06:17``, ``Dec05``, ``2025``), ``started`` (``lstart``
as printed, local time of the host), ``nlwp``, ``comm``, ``command``, ``cgroup``.
Thread listings (``ps -elfL``, ``ps auxwwwm``) are not process lists: do not feed them here.

Examples:
    >>> rows = parse_ps(SAMPLE)
    >>> rows[1]["pid"], rows[1]["user"], rows[1]["rss_bytes"], rows[1]["start"]
    (10648, 'postgres', 30265344, '06:17')
    >>> rows[1]["command"]
    '/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main'
    >>> r = parse_ps(LSTART_SAMPLE)[0]
    >>> r["pid"], r["ppid"], r["uid"], r["started"], r["command"]
    (10649, 10648, 101, 'Sun Dec 6 06:18:00 2026', 'postgres: 15/main: checkpointer')
    >>> parse_ps(EF_SAMPLE)[0]["user"], parse_ps(EF_SAMPLE)[0]["start"]
    ('root', '06:11')
    >>> r = parse_ps(CGROUP_SAMPLE)[0]
    >>> r["comm"], r["nlwp"], r["start"], r["cgroup"], r["command"]
    ('Web Content', 30, 'Dec05', '4:memory:/user.slice', None)
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import KIB, numbered_lines, require_content, to_int

SOURCE = "ps"

SAMPLE = (
    "USER       PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
    "root         2  0.0  0.0      0     0 ?        S    06:11   0:00 [kthreadd]\n"
    "postgres 10648  0.1  0.1 217124 29556 ?        Ss   06:17   0:00"
    " /usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main\n"
)
LSTART_SAMPLE = (
    "F S   UID   PID  PPID  PGID   SID CLS PRI ADDR    SZ WCHAN                "
    "                 STARTED TT           TIME CMD\n"
    "1 S   101 10649 10648 10649 10649  TS  19    - 54281 do_epoll_wait        "
    "Sun Dec  6 06:18:00 2026 ?        00:00:00 postgres: 15/main: checkpointer \n"
)
EF_SAMPLE = (
    "UID  PID  PPID  C STIME TTY  TIME CMD\nroot   1     0  0 06:11 ?    00:00:01 /sbin/init\n"
)
CGROUP_SAMPLE = (
    "  PID  PPID USER     GROUP      LWP NLWP START COMMAND         CGROUP\n"
    " 4242     1 alice    alice     4242   30 Dec05 Web Content     4:memory:/user.slice\n"
)

PS_KEYS: tuple[str, ...] = (
    "pid",
    "ppid",
    "user",
    "uid",
    "state",
    "vsz_bytes",
    "rss_bytes",
    "start",
    "started",
    "nlwp",
    "comm",
    "command",
    "cgroup",
)

#: Header -> output key; KiB columns are converted to bytes.
_COLUMNS = {
    "PID": "pid",
    "PPID": "ppid",
    "USER": "user",
    "UID": "uid",
    "STAT": "state",
    "S": "state",
    "VSZ": "vsz_bytes",
    "RSS": "rss_bytes",
    "RSZ": "rss_bytes",
    "NLWP": "nlwp",
    "CGROUP": "cgroup",
}
_INTS = {"pid", "ppid", "uid", "nlwp"}
_KIB = {"vsz_bytes", "rss_bytes"}
_TEXT = ("COMMAND", "CMD", "ARGS", "COMM")
_START = ("START", "STARTED", "STIME")
_WEEKDAY = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)$")
_MONTH = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)$")


def _start_width(words: list[str], index: int) -> int:
    """How many words the start time at `index` spans (lstart 5, ``Oct 02`` 2, else 1)."""
    word = words[index] if index < len(words) else ""
    if _WEEKDAY.match(word):
        return 5
    if _MONTH.match(word) and index + 1 < len(words) and words[index + 1].isdigit():
        return 2
    return 1


def _row(header: list[str], line: str, lineno: int) -> dict[str, Any]:
    words = line.split()
    row: dict[str, Any] = dict.fromkeys(PS_KEYS)
    pos = 0
    for col_index, name in enumerate(header):
        if pos >= len(words):
            break
        if name in _TEXT:
            rest = header[col_index + 1 :]
            if not rest:
                row["comm" if name == "COMM" else "command"] = " ".join(words[pos:])
                return row
            # A comm in the middle: the remaining one-word columns are read from the right.
            tail = words[len(words) - len(rest) :] if len(words) - len(rest) > pos else []
            row["comm"] = " ".join(words[pos : len(words) - len(tail)]) or None
            for tail_name, value in zip(rest, tail, strict=False):
                _store(row, tail_name, value, line, lineno)
            return row
        if name in _START:
            width = _start_width(words, pos)
            value = " ".join(words[pos : pos + width])
            row["started" if width == 5 else "start"] = value
            pos += width
            continue
        _store(row, name, words[pos], line, lineno)
        pos += 1
    return row


def _store(row: dict[str, Any], name: str, value: str, line: str, lineno: int) -> None:
    key = _COLUMNS.get(name)
    if key is None or value == "-":
        return
    if key == "uid" and not value.isdigit():
        row["user"] = value  # ps -ef prints the user name under UID
    elif key in _INTS:
        row[key] = to_int(value, SOURCE, lineno, line)
    elif key in _KIB:
        row[key] = to_int(value, SOURCE, lineno, line) * KIB
    else:
        row[key] = value


def parse_ps(text: str) -> list[dict[str, Any]]:
    """Parse a ``ps`` process listing with its header line (see the module docstring)."""
    require_content(text, SOURCE)
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        if header is None:
            header = line.split()
            if "PID" not in header:
                raise ParseError(SOURCE, lineno, line, "expected a ps header with a PID column")
            continue
        row = _row(header, line.rstrip(), lineno)
        if row["pid"] is None:
            raise ParseError(SOURCE, lineno, line, "no PID")
        rows.append(row)
    return rows
