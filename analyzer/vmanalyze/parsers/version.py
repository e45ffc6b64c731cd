"""version - file /proc/version (and /proc/sys/kernel/osrelease)
==============================================================

Identifies the running kernel: release (``uname -r``), who built it on which host, the compiler
and linker, and the build version string (``#1 SMP PREEMPT_DYNAMIC ...``, with the build date).
The release decides which counters and formats the other files have.
``/proc/sys/kernel/osrelease`` holds the release alone. See
https://man7.org/linux/man-pages/man5/proc_version.5.html

Sample input (one line, wrapped here)::

    Linux version 5.8.0-63-generic (buildd@lcy01-amd64-028) (gcc (Ubuntu 10.3.0-1ubuntu1~20.10)
        10.3.0, GNU ld (GNU Binutils for Ubuntu) 2.35.1) #71-Ubuntu SMP Tue Jul 13 15:59:12 UTC 2021

Output: dict with ``kernel_release``, ``build_user``, ``build_host``, ``compiler`` (the whole
second parenthesis: compiler and, since 5.8, linker), ``build_version`` (the rest), each str or
``None``. :func:`parse_osrelease` returns the same keys with only ``kernel_release`` set.

Examples:
    >>> v = parse_version(SAMPLE)
    >>> v["kernel_release"], v["build_user"], v["build_host"]
    ('5.8.0-63-generic', 'buildd', 'lcy01-amd64-028')
    >>> v["compiler"]
    'gcc (Ubuntu 10.3.0-1ubuntu1~20.10) 10.3.0, GNU ld (GNU Binutils for Ubuntu) 2.35.1'
    >>> v["build_version"]
    '#71-Ubuntu SMP Tue Jul 13 15:59:12 UTC 2021'
    >>> parse_osrelease("4.18.0-80.11.2.el8_0.x86_64\\n")["kernel_release"]
    '4.18.0-80.11.2.el8_0.x86_64'
"""

from __future__ import annotations

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import require_content, single_value

SOURCE = "version"

SAMPLE = (
    "Linux version 5.8.0-63-generic (buildd@lcy01-amd64-028) (gcc (Ubuntu 10.3.0-1ubuntu1~20.10)"
    " 10.3.0, GNU ld (GNU Binutils for Ubuntu) 2.35.1) #71-Ubuntu SMP Tue Jul 13 15:59:12 UTC"
    " 2021\n"
)

VERSION_KEYS = ("kernel_release", "build_user", "build_host", "compiler", "build_version")
_PREFIX = "Linux version "


def _balanced(text: str, start: int) -> int:
    """Return the index just past the parenthesis group opening at ``text[start]``."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def parse_version(text: str) -> dict[str, str | None]:
    """Parse /proc/version (see the module docstring)."""
    require_content(text, SOURCE)
    line = text.strip().splitlines()[0]
    if not line.startswith(_PREFIX):
        raise ParseError(SOURCE, 1, line, f"does not start with {_PREFIX!r}")
    out: dict[str, str | None] = dict.fromkeys(VERSION_KEYS)
    rest = line[len(_PREFIX) :]
    release, _, rest = rest.partition(" ")
    out["kernel_release"] = release
    groups: list[str] = []
    rest = rest.lstrip()
    while rest.startswith("(") and len(groups) < 2:
        end = _balanced(rest, 0)
        groups.append(rest[1 : end - 1].strip())
        rest = rest[end:].lstrip()
    if groups:
        user, at, host = groups[0].partition("@")
        out["build_user"] = user if at else None
        out["build_host"] = host if at else groups[0]
    if len(groups) > 1:
        out["compiler"] = groups[1]
    out["build_version"] = rest or None
    return out


def parse_osrelease(text: str) -> dict[str, str | None]:
    """Parse /proc/sys/kernel/osrelease: only ``kernel_release`` is known."""
    out: dict[str, str | None] = dict.fromkeys(VERSION_KEYS)
    out["kernel_release"] = single_value(text, "osrelease")
    return out
