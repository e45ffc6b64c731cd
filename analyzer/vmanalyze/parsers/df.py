"""df - the output of ``df -al -x autofs`` in a sosreport (its tmpfs rows)
========================================================================

``sos_commands/filesys/df_-al_-x_autofs`` (sos 4.x filesys plugin; sos 3.x wrote ``df_-al``):
coreutils' table in 1 KiB blocks, ``Filesystem 1K-blocks Used Available Use% Mounted on``,
every mount (``-a``: pseudo file systems too, with ``-`` for Use%). ``df`` prints no file
system type, so the type comes from the sosreport's mount table when it has one
(``sos_commands/filesys/mount_-l`` or ``proc/mounts``, parsed by
:mod:`vmanalyze.parsers.mounts`): a row is tmpfs-like when the last mount at its mount point
is of a tmpfs-like type (``tmpfs``, ``devtmpfs``, ``ramfs``, ``hugetlbfs``), whatever its
source name: Docker's ``shm`` (source ``shm``, type ``tmpfs``) and a tmpfs mounted with a
custom source name are found. Without a mount table, or for a mount point the table does not
list (it was read at another moment), a row is tmpfs-like when its *source* (the
``Filesystem`` column) is a tmpfs-like type name: the name systemd, the kernel and container
runtimes give most of these mounts, but not Docker's ``shm``. A mount listed twice (``-a``
shows both a bind mount and its origin) keeps its last row. Inode counts are in ``df -ali``,
not read.

Sample input (coreutils 9.1, Debian 12, cut from this host's own ``df -al -x autofs``)::

    Filesystem              1K-blocks     Used Available Use% Mounted on
    proc                            0        0         0    - /proc
    devtmpfs                 12358600        0  12358600   0% /dev
    tmpfs                    24731400      460  24730940   1% /dev/shm
    /dev/vda                264212084 44122664  62268248  42% /

Output: ``list[dict]``, one per tmpfs-like mount: ``mount_point``, ``fstype`` (the mount
table's type; without one, the source name), ``size_bytes``, ``used_bytes``, ``avail_bytes``
(int, KiB x 1024), ``inodes`` and ``inodes_free`` (None: not in this file).

Examples:
    >>> rows = parse_df(SAMPLE)
    >>> [(r["mount_point"], r["fstype"], r["used_bytes"]) for r in rows]
    [('/dev', 'devtmpfs', 0), ('/dev/shm', 'tmpfs', 471040)]
    >>> parse_df("Filesystem 1K-blocks Used Available Use% Mounted on\\n")
    []

    Docker's ``shm``: found by its type in the mount table (``mount -l``), missed without it:

    >>> from vmanalyze.parsers.mounts import SAMPLE as MOUNTS_SAMPLE
    >>> shm = "shm 65536 3072 62464 5% /var/lib/docker/containers/4f1c/mounts/shm\\n"
    >>> [r["fstype"] for r in parse_df(SAMPLE + shm, mounts=MOUNTS_SAMPLE)]
    ['devtmpfs', 'tmpfs', 'tmpfs']
    >>> [r["fstype"] for r in parse_df(SAMPLE + shm)]
    ['devtmpfs', 'tmpfs']
"""

from __future__ import annotations

from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines, to_int
from vmanalyze.parsers.mounts import parse_mounts

SOURCE = "df"

SAMPLE = (
    "Filesystem              1K-blocks     Used Available Use% Mounted on\n"
    "proc                            0        0         0    - /proc\n"
    "devtmpfs                 12358600        0  12358600   0% /dev\n"
    "tmpfs                    24731400      460  24730940   1% /dev/shm\n"
    "/dev/vda                264212084 44122664  62268248  42% /\n"
)

#: The tmpfs-like file system types; also the source names these mounts usually have.
TMPFS_TYPES = ("tmpfs", "devtmpfs", "ramfs", "hugetlbfs")


def parse_df(text: str, mounts: str | None = None) -> list[dict[str, Any]]:
    """Parse ``df -al`` output in 1 KiB blocks; the tmpfs-like rows (see the module docstring).

    `mounts` is the text of the same host's mount table (``mount -l`` or ``/proc/mounts``).
    """
    types = {m["mount_point"]: m["fstype"] for m in parse_mounts(mounts)} if mounts else {}
    rows: dict[str, dict[str, Any]] = {}
    for lineno, line in numbered_lines(text):
        if line.startswith("Filesystem"):
            if "1K-blocks" not in line:
                raise ParseError(SOURCE, lineno, line, "expected sizes in 1K-blocks")
            continue
        fields = line.split(None, 5)
        if len(fields) < 6:
            raise ParseError(SOURCE, lineno, line, "expected 6 columns")
        point = fields[5]
        fstype = types.get(point, fields[0])
        if fstype not in TMPFS_TYPES:
            continue
        size, used, avail = (to_int(v, SOURCE, lineno, line) * 1024 for v in fields[1:4])
        rows.pop(point, None)
        rows[point] = {
            "mount_point": point,
            "fstype": fstype,
            "size_bytes": size,
            "used_bytes": used,
            "avail_bytes": avail,
            "inodes": None,
            "inodes_free": None,
        }
    return list(rows.values())
