"""Paths inside a captured root (bundle, sosreport, captured tree) that several modules read.

The directory of one process, ``proc/<pid>/``, is written once here: the reader, the packs,
the tables and the report's collection health all find per-process files with it.
"""

from __future__ import annotations

import re

#: ``proc/<pid>/`` as regular-expression text, to compose larger patterns with (no group).
PID_DIR_TEXT = r"proc/[0-9]+/"
#: A captured path that starts with a process directory.
PID_DIR = re.compile("^" + PID_DIR_TEXT)


def pid_of(path: str) -> int | None:
    """The pid of a path in a process directory, or None.

    >>> pid_of("proc/4242/stat"), pid_of("proc/self/stat"), pid_of("proc/meminfo")
    (4242, None, None)
    """
    match = PID_DIR.match(path)
    return int(path[len("proc/") : match.end() - 1]) if match else None


def any_process(path: str) -> str:
    """`path` with its process directory made ``proc/1/``: one lookup per kind of file.

    A bundle holds ~10^4 per-process paths but a handful of kinds (stat, status, smaps...).

    >>> any_process("proc/4242/smaps_rollup"), any_process("proc/meminfo")
    ('proc/1/smaps_rollup', 'proc/meminfo')
    """
    return PID_DIR.sub("proc/1/", path, count=1)
