"""mounts - a sosreport's mount table: ``proc/mounts`` or ``mount -l``
=====================================================================

Read for one thing: the file system *type* of each mount point, which ``df`` does not print
(:mod:`vmanalyze.parsers.df` uses it to find the tmpfs mounts whatever their source name).
Two formats, told apart line by line:

- ``/proc/mounts`` (``/proc/PID/mounts``, fstab format): ``SOURCE MOUNT_POINT TYPE OPTIONS
  0 0``, whitespace in names escaped as octal (``\\040`` for a space). sos 4.x copies it
  through its symbolic links (``proc/mounts -> self/mounts``, ``proc/self -> <sos's pid>``),
  which an input reader does not follow; a regular ``proc/mounts`` (a captured tree) is read.
- ``mount -l`` (util-linux; sos's filesys plugin writes it to ``sos_commands/filesys/mount_-l``,
  a regular file): ``SOURCE on MOUNT_POINT type TYPE (OPTIONS)``, optionally followed by
  `` [LABEL]``; names are printed as they are, spaces included, like ``df`` prints them.

Sample input (util-linux 2.38.1, this host, with a tmpfs of source ``shm`` where Docker puts
a container's ``/dev/shm``)::

    devtmpfs on /dev type devtmpfs (rw,relatime,size=12358600k,nr_inodes=3089650,mode=755)
    tmpfs on /dev/shm type tmpfs (rw,relatime,size=24731400k)
    /dev/vda on / type ext4 (rw,relatime,discard)
    shm on /var/lib/docker/containers/4f1c/mounts/shm type tmpfs (rw,relatime,size=65536k)

Output: ``list[dict]`` in the table's order, one per mount: ``source``, ``mount_point``,
``fstype`` (str). A mount point mounted over holds several rows; the last is the visible one.

Examples:
    >>> [(r["source"], r["fstype"]) for r in parse_mounts(SAMPLE)][-1]
    ('shm', 'tmpfs')
    >>> parse_mounts("shm /mnt/a\\\\040b tmpfs rw,relatime 0 0\\n")
    [{'source': 'shm', 'mount_point': '/mnt/a b', 'fstype': 'tmpfs'}]
    >>> parse_mounts("/dev/sda1 on /boot type ext4 (rw) [BOOT]\\n")[0]["fstype"]
    'ext4'
"""

from __future__ import annotations

import re
from typing import Any

from vmanalyze.errors import ParseError
from vmanalyze.parsers._common import numbered_lines
from vmanalyze.parsers.tmpfs_mounts import unescape_mount_point

SOURCE = "mounts"

SAMPLE = (
    "devtmpfs on /dev type devtmpfs (rw,relatime,size=12358600k,nr_inodes=3089650,mode=755)\n"
    "tmpfs on /dev/shm type tmpfs (rw,relatime,size=24731400k)\n"
    "/dev/vda on / type ext4 (rw,relatime,discard)\n"
    "shm on /var/lib/docker/containers/4f1c/mounts/shm type tmpfs (rw,relatime,size=65536k)\n"
)

_MOUNT_L = re.compile(
    r"^(?P<source>.*?) on (?P<point>/.*) type (?P<fstype>\S+) \([^()]*\)( \[.*\])?$"
)


def parse_mounts(text: str) -> list[dict[str, Any]]:
    """Parse a mount table, ``/proc/mounts`` or ``mount -l`` (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for lineno, line in numbered_lines(text):
        match = _MOUNT_L.match(line)
        if match:
            source, point, fstype = match.group("source", "point", "fstype")
        else:
            fields = line.split()
            if len(fields) != 6:
                raise ParseError(SOURCE, lineno, line, "expected a /proc/mounts or mount -l line")
            source, point, fstype = (unescape_mount_point(f) for f in fields[:3])
        rows.append({"source": source, "mount_point": point, "fstype": fstype})
    return rows
