"""The tmpfs-like mounts of the host and how full they are, at the start and end snapshots.

Shmem growth is often files left in a tmpfs (``/dev/shm``, ``/run``, ``/tmp``, a Kubernetes
``emptyDir`` with ``medium: Memory``). The mount table says where they are, ``statvfs(2)`` how
much each holds. The result is one small text member, ``vmcollect/tmpfs_mounts`` (format in
docs/bundle-format.md), written at ``start`` and ``end``.

Which mount table: on the host itself, ``/proc/self/mountinfo`` (the collector's own mount
namespace is the host's). Under ``--root`` (a privileged container with the host's ``/proc``
at ``/host/proc``) ``self`` is the collector inside its container, whose mount namespace holds
the container's own ``/dev/shm`` and ``/tmp`` and none of the host's pod volumes; PID 1 of the
host's /proc is the host's init, so ``proc/1/mountinfo`` is the host's table, and
``proc/1/root/<mount point>`` reaches each mount through init's root (it needs the ptrace
access a privileged container's root has; a mount it cannot reach is left out).

``statvfs`` never blocks on a tmpfs (the numbers are in memory), but resolving its path walks
every mount above it: a tmpfs below an NFS or FUSE mount is skipped, like the network and
FUSE file systems themselves, which are never statvfs'd.
"""

import os

#: The file systems whose pages are RAM (shmem, or hugetlb pool pages): statvfs is in memory.
TMPFS_TYPES = ("tmpfs", "ramfs", "devtmpfs", "hugetlbfs")
#: Listed at most in one snapshot (a Kubernetes node has hundreds of tmpfs secret volumes).
MAX_LISTED = 64
#: statvfs'd at most in one snapshot (a safety bound: each call costs microseconds).
MAX_STATVFS = 5000
#: Always listed when present: where leftover shared memory files usually are.
WELL_KNOWN = ("/dev/shm", "/run", "/tmp", "/run/lock", "/var/tmp", "/run/shm")
#: Mounts below these (prefixes of the type) are never reached: a lookup may hang on them.
_REMOTE_PREFIXES = (
    "nfs",
    "cifs",
    "smb",
    "fuse",
    "ceph",
    "gluster",
    "9p",
    "afs",
    "lustre",
    "gpfs",
    "ocfs",
    "gfs",
    "beegfs",
    "virtiofs",
    "davfs",
    "sshfs",
)
MEMBER = "vmcollect/tmpfs_mounts"
HEADER = "mount_point fstype size_bytes used_bytes avail_bytes inodes inodes_free"


def _unescape(field):
    r"""A mountinfo path: the kernel writes space, tab, newline and ``\`` as ``\ooo``."""
    if "\\" not in field:
        return field
    out, index = [], 0
    while index < len(field):
        chunk = field[index : index + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def _escape(path):
    """Space, tab, newline and backslash as the kernel writes them (one field per column)."""
    return (
        path.replace("\\", "\\134")
        .replace(" ", "\\040")
        .replace("\t", "\\011")
        .replace("\n", "\\012")
    )


def parse_mountinfo(text):
    """[(mount id, parent id, mount point, fstype)] of /proc/<pid>/mountinfo, in table order.

    >>> parse_mountinfo("25 1 0:22 / /dev/shm rw,nosuid shared:4 - tmpfs tmpfs rw\\n")
    [(25, 1, '/dev/shm', 'tmpfs')]
    """
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        try:
            mount_id, parent = int(fields[0]), int(fields[1])
        except ValueError:
            continue
        mounts.append((mount_id, parent, _unescape(fields[4]), right.split()[0]))
    return mounts


def reachable_tmpfs(mounts):
    """The tmpfs-like mounts whose path crosses no network or FUSE mount: [(point, fstype)].

    A mount point mounted over keeps only its top mount (the one later in the table).
    """
    by_id = dict((m[0], m) for m in mounts)

    def remote_above(mount):
        seen = set()
        while mount is not None and mount[0] not in seen:
            seen.add(mount[0])
            if mount[3].startswith(_REMOTE_PREFIXES):
                return True
            mount = by_id.get(mount[1])
        return False

    top = {}
    for mount in mounts:
        top[mount[2]] = mount
    out = []
    for mount in mounts:
        if mount[3] in TMPFS_TYPES and top[mount[2]] is mount and not remote_above(mount):
            out.append((mount[2], mount[3]))
    return out


def mount_table(roots):
    """(mount table path, prefix to reach a mount point) for this run (see the docstring)."""
    if roots.is_live:
        return os.path.join(roots.proc, "self/mountinfo"), ""
    return os.path.join(roots.proc, "1/mountinfo"), os.path.join(roots.proc, "1/root")


def statvfs_rows(roots, limit=MAX_STATVFS):
    """[(mount point, fstype, size, used, avail, inodes, inodes free)] of the reachable mounts."""
    table, prefix = mount_table(roots)
    try:
        with open(table, "rb") as f:
            text = f.read(8 << 20).decode("utf-8", "replace")
    except OSError:
        return None
    rows = []
    for point, fstype in reachable_tmpfs(parse_mountinfo(text))[:limit]:
        try:
            st = os.statvfs(prefix + point if prefix else point)
        except OSError:
            continue
        size = st.f_blocks * st.f_frsize
        rows.append(
            (
                point,
                fstype,
                size,
                size - st.f_bfree * st.f_frsize,
                st.f_bavail * st.f_frsize,
                st.f_files,
                st.f_ffree,
            )
        )
    return rows


def choose(rows, keep=(), limit=MAX_LISTED):
    """The rows to list: the well-known mounts, those in `keep`, then the largest by used.

    >>> rows = [("/a", "tmpfs", 9, 1, 8, 0, 0), ("/tmp", "tmpfs", 9, 0, 9, 0, 0),
    ...         ("/b", "tmpfs", 9, 5, 4, 0, 0), ("/c", "tmpfs", 9, 3, 6, 0, 0)]
    >>> [r[0] for r in choose(rows, keep=("/a",), limit=3)]
    ['/tmp', '/a', '/b']
    """
    keep = set(keep)
    ranked = sorted(
        rows,
        key=lambda r: (r[0] not in WELL_KNOWN, r[0] not in keep, -r[3], r[0]),
    )
    return ranked[:limit]


def render(rows, found):
    """The member's text: a comment, the header line, one line per mount."""
    lines = [
        "# vmcollect tmpfs mounts: %d tmpfs-like mounts found, %d listed" % (found, len(rows)),
        HEADER,
    ]
    for row in rows:
        lines.append(" ".join([_escape(row[0]), row[1]] + [str(v) for v in row[2:]]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def snapshot(roots, keep=()):
    """(member bytes, listed mount points) for one snapshot; (None, ()) without a mount table."""
    rows = statvfs_rows(roots)
    if rows is None:
        return None, ()
    chosen = choose(rows, keep)
    return render(chosen, len(rows)), tuple(r[0] for r in chosen)
