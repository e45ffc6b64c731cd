"""tmpfs_mounts - the collector's ``vmcollect/tmpfs_mounts`` member (statvfs of tmpfs mounts)
===========================================================================================

Not a kernel file: at the start and end snapshots ``vmcollect`` reads the mount table
(``/proc/self/mountinfo``, under ``--root`` the host's ``proc/1/mountinfo``) and calls
``statvfs(2)`` on each tmpfs-like mount (``tmpfs``, ``ramfs``, ``devtmpfs``, ``hugetlbfs``)
not below a network or FUSE mount, listing at most 64 (``/dev/shm``, ``/run``, ``/tmp`` and
the like first, then the largest by used bytes). Format in docs/bundle-format.md: ``#``
comment lines, a header line, then one whitespace-separated line per mount; the mount point is
escaped as in ``/proc/mounts`` (``\\040`` for a space).

Sample input (this host, 6.18)::

    # vmcollect tmpfs mounts: 2 tmpfs-like mounts found, 2 listed
    mount_point fstype size_bytes used_bytes avail_bytes inodes inodes_free
    /dev/shm tmpfs 25324953600 450560 25324503040 3091425 3091314
    /dev devtmpfs 12655206400 0 12655206400 3089650 3089537

Output: ``list[dict]``, one per mount: ``mount_point``, ``fstype`` (str), ``size_bytes``,
``used_bytes``, ``avail_bytes``, ``inodes``, ``inodes_free`` (int; a tmpfs mounted with
``nr_inodes=0`` has no inode limit and reports 0 inodes).

Examples:
    >>> rows = parse_tmpfs_mounts(SAMPLE)
    >>> rows[0]["mount_point"], rows[0]["fstype"], rows[0]["used_bytes"]
    ('/dev/shm', 'tmpfs', 450560)
    >>> parse_tmpfs_mounts(SAMPLE.replace("/dev/shm", "/mnt/a\\\\040b"))[0]["mount_point"]
    '/mnt/a b'
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, to_int

SOURCE = "tmpfs_mounts"

SAMPLE = (
    "# vmcollect tmpfs mounts: 2 tmpfs-like mounts found, 2 listed\n"
    "mount_point fstype size_bytes used_bytes avail_bytes inodes inodes_free\n"
    "/dev/shm tmpfs 25324953600 450560 25324503040 3091425 3091314\n"
    "/dev devtmpfs 12655206400 0 12655206400 3089650 3089537\n"
)

_NUMBERS = ("size_bytes", "used_bytes", "avail_bytes", "inodes", "inodes_free")
_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape_mount_point(field: str) -> str:
    r"""A mount point as ``/proc/mounts`` escapes it (``\040`` space, ``\011`` tab...)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_tmpfs_mounts(text: str) -> list[dict[str, Any]]:
    """Parse a ``vmcollect/tmpfs_mounts`` record (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        if line.startswith("#") or line.startswith("mount_point "):
            continue
        fields = line.split()
        if len(fields) != 2 + len(_NUMBERS):
            raise ParseError(SOURCE, lineno, line, "expected a mount point, a type and 5 numbers")
        row: dict[str, Any] = {"mount_point": unescape_mount_point(fields[0]), "fstype": fields[1]}
        for key, value in zip(_NUMBERS, fields[2:], strict=True):
            row[key] = to_int(value, SOURCE, lineno, line)
        rows.append(row)
    return rows
