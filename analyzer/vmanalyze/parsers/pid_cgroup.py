"""pid_cgroup - file /proc/<pid>/cgroup
=====================================

The control groups of a process, one line per hierarchy: ``hierarchy-id:controllers:path``.
Under cgroup v1 each mounted hierarchy has its own line (``4:memory:/docker/abc``); the cgroup
v2 unified hierarchy is ``0::/path``. The memory cgroup path tells which limit and which
``memory.*`` files apply to the process. See
https://man7.org/linux/man-pages/man7/cgroups.7.html

Sample input::

    4:memory:/process_api/a3c3d67d
    1:name=systemd:/
    0::/user.slice/user-1000.slice

Output: ``list[dict]``: ``hierarchy_id`` (int), ``controllers`` (list of str, empty for v2),
``path`` (str, may contain ``:``).

Examples:
    >>> parse_pid_cgroup(SAMPLE)[0]
    {'hierarchy_id': 4, 'controllers': ['memory'], 'path': '/process_api/a3c3d67d'}
    >>> parse_pid_cgroup(SAMPLE)[2]["controllers"]
    []
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, require_content, to_int

SOURCE = "pid_cgroup"

SAMPLE = """\
4:memory:/process_api/a3c3d67d
1:name=systemd:/
0::/user.slice/user-1000.slice
"""


def parse_pid_cgroup(text: str) -> list[dict[str, int | str | list[str]]]:
    """Parse /proc/<pid>/cgroup (see the module docstring)."""
    require_content(text, SOURCE)
    rows: list[dict[str, int | str | list[str]]] = []
    for lineno, line in numbered_lines(text):
        parts = line.split(":", 2)
        if len(parts) != 3:
            raise ParseError(SOURCE, lineno, line, "expected 'id:controllers:path'")
        rows.append(
            {
                "hierarchy_id": to_int(parts[0], SOURCE, lineno, line),
                "controllers": [c for c in parts[1].split(",") if c],
                "path": parts[2],
            }
        )
    return rows
