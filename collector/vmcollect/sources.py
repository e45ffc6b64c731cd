"""Which kernel files vmcollect reads, found on this host (or under a fixture root).

Every path is returned twice: the real path to open, and the bundle path (the kernel path
without its leading slash: ``proc/meminfo``), so fixture roots produce the same bundle paths
as a real host.
"""

import errno
import os
import re
import stat

SAMPLED_PROC_FILES = (
    "meminfo",
    "vmstat",
    "zoneinfo",
    "buddyinfo",
    "pressure/memory",
    "swaps",
    "loadavg",
    "stat",
)
NODE_SAMPLED_FILES = ("meminfo", "numastat", "vmstat")
HUGEPAGE_POOL_FILES = (
    "nr_hugepages",
    "free_hugepages",
    "resv_hugepages",
    "surplus_hugepages",
    "nr_overcommit_hugepages",
    "nr_hugepages_mempolicy",
)
NODE_HUGEPAGE_FILES = ("nr_hugepages", "free_hugepages", "surplus_hugepages")
# Memory cgroup files read in every sample (for the --max-cgroups largest cgroups) and, with
# the START_END ones, at the start and the end for every memory cgroup found.
CGROUP_V2_FILES = (
    "memory.current",
    "memory.events",
    "memory.events.local",
    "memory.pressure",
    "memory.stat",
    "memory.max",
    "memory.high",
    "memory.swap.current",
    "memory.swap.events",
)
CGROUP_V2_START_END_FILES = (
    "memory.low",
    "memory.min",
    "memory.peak",
    "memory.swap.max",
    "memory.swap.high",
    "memory.swap.peak",
)
CGROUP_V1_FILES = (
    "memory.usage_in_bytes",
    "memory.limit_in_bytes",
    "memory.stat",
    "memory.oom_control",
    "memory.memsw.usage_in_bytes",
    "memory.failcnt",
)
CGROUP_V1_START_END_FILES = (
    "memory.max_usage_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.memsw.limit_in_bytes",
)
# A directory is a memory cgroup when it holds this file; its usage ranks it for sampling.
_CGROUP_KEY_FILE = {"v2": "memory.stat", "v1": "memory.usage_in_bytes"}
_CGROUP_USAGE_FILE = {"v2": "memory.current", "v1": "memory.usage_in_bytes"}
#: Memory cgroups walked at most (a safety bound: a node has hundreds, not tens of thousands).
MAX_CGROUPS_FOUND = 20000
# slabinfo (root only, ~25 KiB) is read at start and end only: which slab caches grew.
CONFIG_PROC_FILES = (
    "pagetypeinfo",
    "slabinfo",
    "cmdline",
    "version",
    "cpuinfo",
    "sys/kernel/numa_balancing",
    "sys/kernel/osrelease",
    "sys/kernel/pid_max",
    "sys/kernel/threads-max",
)
_NODE_DIR = re.compile(r"^node[0-9]+$")
_ZRAM_DIR = re.compile(r"^zram[0-9]+$")
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class Roots(object):
    """Where /proc, /sys and /etc are; tests point these at fixture trees."""

    def __init__(self, proc_root="/proc", sys_root="/sys", etc_root=None):
        self.proc = proc_root.rstrip("/") or "/"
        self.sys = sys_root.rstrip("/") or "/"
        if etc_root is None:
            etc_root = (
                "/etc" if self.proc == "/proc" else os.path.join(os.path.dirname(self.proc), "etc")
            )
        self.etc = etc_root

    @property
    def is_live(self):
        return self.proc == "/proc" and self.sys == "/sys"

    def proc_path(self, rel):
        return (os.path.join(self.proc, rel), "proc/" + rel)

    def sys_path(self, rel):
        return (os.path.join(self.sys, rel), "sys/" + rel)


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def node_dirs(roots):
    """NUMA node directory names (``node0`` ...) in numeric order."""
    base = os.path.join(roots.sys, "devices/system/node")
    names = [n for n in _listdir(base) if _NODE_DIR.match(n)]
    return sorted(names, key=lambda n: int(n[4:]))


def hugepage_size_dirs(path):
    return [n for n in _listdir(path) if n.startswith("hugepages-")]


def sampled_system_files(roots):
    """(real path, bundle path) of the system-wide files read in every sample."""
    files = [roots.proc_path(rel) for rel in SAMPLED_PROC_FILES]
    for node in node_dirs(roots):
        for name in NODE_SAMPLED_FILES:
            files.append(roots.sys_path("devices/system/node/%s/%s" % (node, name)))
        hp_base = "devices/system/node/%s/hugepages" % node
        for size_dir in hugepage_size_dirs(os.path.join(roots.sys, hp_base)):
            for name in NODE_HUGEPAGE_FILES:
                files.append(roots.sys_path("%s/%s/%s" % (hp_base, size_dir, name)))
    for size_dir in hugepage_size_dirs(os.path.join(roots.sys, "kernel/mm/hugepages")):
        for name in HUGEPAGE_POOL_FILES:
            files.append(roots.sys_path("kernel/mm/hugepages/%s/%s" % (size_dir, name)))
    # zram devices (compressed RAM disks, usually swap): stored vs compressed bytes
    for dev in _listdir(os.path.join(roots.sys, "block")):
        if _ZRAM_DIR.match(dev):
            files.append(roots.sys_path("block/%s/mm_stat" % dev))
    return files


def _walk_files(real_base, bundle_base, skip_write_only=True):
    """Every regular, readable file under a directory, not following links."""
    out = []
    for dirpath, dirnames, filenames in os.walk(real_base):
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            real = os.path.join(dirpath, name)
            try:
                st = os.lstat(real)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if skip_write_only and not st.st_mode & 0o444:
                continue
            rel = os.path.relpath(real, real_base)
            out.append((real, bundle_base + "/" + rel.replace(os.sep, "/")))
    return out


def config_files(roots):
    """(real path, bundle path) of the configuration files read at start and end."""
    files = _walk_files(os.path.join(roots.proc, "sys/vm"), "proc/sys/vm")
    files.extend(roots.proc_path(rel) for rel in CONFIG_PROC_FILES)
    for mm_dir in ("transparent_hugepage", "redhat_transparent_hugepage", "ksm", "lru_gen"):
        real = os.path.join(roots.sys, "kernel/mm", mm_dir)
        if os.path.isdir(real):
            files.extend(_walk_files(real, "sys/kernel/mm/" + mm_dir))
    files.append(roots.sys_path("kernel/mm/transparent_hugepage/enabled"))
    for name in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
        files.append(roots.sys_path("devices/system/node/" + name))
    for node in node_dirs(roots):
        for name in ("cpulist", "distance"):
            files.append(roots.sys_path("devices/system/node/%s/%s" % (node, name)))
    files.append((os.path.join(roots.etc, "os-release"), "etc/os-release"))
    seen = set()
    unique = []
    for real, bundle in files:
        if bundle not in seen:
            seen.add(bundle)
            unique.append((real, bundle))
    return unique


def _cgroup_mounts_from_mountinfo(roots):
    """Return (v2 mount points, v1 memory mount points) as absolute paths on this host."""
    v2, v1 = [], []
    try:
        with open(os.path.join(roots.proc, "self/mounts"), "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return v2, v1
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        mount_point, fstype, opts = parts[1], parts[2], parts[3].split(",")
        mount_point = mount_point.replace("\\040", " ")
        if fstype == "cgroup2" and mount_point not in v2:
            v2.append(mount_point)
        elif fstype == "cgroup" and "memory" in opts and mount_point not in v1:
            v1.append(mount_point)
    return v2, v1


def cgroup_mounts(roots):
    """[(version, real mount directory, bundle directory)] of the memory cgroup hierarchies.

    On the live host the mount table says where they are. Under another root (a fixture tree,
    or a host's file systems mounted at ``--root``) the mount table belongs to someone else, so
    the usual places are used: ``sys/fs/cgroup`` or ``sys/fs/cgroup/unified`` for v2,
    ``sys/fs/cgroup/memory`` for v1.
    """
    if roots.is_live:
        v2_mounts, v1_mounts = _cgroup_mounts_from_mountinfo(roots)
        to_bundle = lambda p: p.lstrip("/")  # noqa: E731
    else:
        base = os.path.join(roots.sys, "fs/cgroup")
        v2_mounts = [
            p
            for p in (base, os.path.join(base, "unified"))
            if os.path.exists(os.path.join(p, "cgroup.controllers"))
        ]
        v1_mounts = [
            p
            for p in (os.path.join(base, "memory"),)
            if os.path.exists(os.path.join(p, "memory.usage_in_bytes"))
        ]
        to_bundle = lambda p: "sys/" + os.path.relpath(p, roots.sys)  # noqa: E731
    out = [("v2", p, to_bundle(p)) for p in v2_mounts]
    out.extend(("v1", p, to_bundle(p)) for p in v1_mounts)
    return out


class Cgroup(object):
    """One memory cgroup directory: where it is, its bundle path and the files it holds."""

    __slots__ = ("real", "bundle", "version", "names", "depth", "usage")

    def __init__(self, real, bundle, version, names, depth=0):
        self.real = real
        self.bundle = bundle
        self.version = version
        self.names = names
        self.depth = depth
        self.usage = None

    def read_usage(self):
        """Bytes charged to the cgroup (v2 ``memory.current``, v1 ``usage_in_bytes``) or None."""
        try:
            fd = os.open(os.path.join(self.real, _CGROUP_USAGE_FILE[self.version]), _READ_FLAGS)
            try:
                self.usage = int(os.read(fd, 64).split()[0])
            finally:
                os.close(fd)
        except (OSError, ValueError, IndexError):
            self.usage = None
        return self.usage

    def files(self, start_end=False):
        """(real path, bundle path) of the memory files this cgroup holds."""
        if self.version == "v2":
            names = CGROUP_V2_FILES + (CGROUP_V2_START_END_FILES if start_end else ())
        else:
            names = CGROUP_V1_FILES + (CGROUP_V1_START_END_FILES if start_end else ())
        return [
            (os.path.join(self.real, n), self.bundle + "/" + n) for n in names if n in self.names
        ]


def _scan(directory):
    """(file names, subdirectories) of a directory, not following links; None if unreadable."""
    names, subdirs = set(), []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return None
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                names.add(entry.name)
        except OSError:
            continue
    return names, sorted(subdirs)


def find_cgroups(roots, limit=MAX_CGROUPS_FOUND):
    """Every memory cgroup of every hierarchy, parents before children; and whether `limit` cut
    the walk short.

    A v2 directory without ``memory.stat`` has no memory controller, and neither can anything
    below it, so its subtree is skipped (the v2 tree of a host whose memory controller is
    bound to v1 costs one directory listing).
    """
    found = []
    for version, mount, bundle_mount in cgroup_mounts(roots):
        key = _CGROUP_KEY_FILE[version]
        stack = [(mount, bundle_mount, 0)]
        while stack:
            real, bundle, depth = stack.pop()
            scanned = _scan(real)
            if scanned is None or key not in scanned[0]:
                continue
            if len(found) >= limit:
                return found, True
            found.append(Cgroup(real, bundle, version, scanned[0], depth))
            for name in reversed(scanned[1]):
                stack.append((os.path.join(real, name), bundle + "/" + name, depth + 1))
    return found, False


def rank_cgroups(cgroups, count):
    """The `count` cgroups to read every sample: each hierarchy's root, then the largest by usage.

    Usage is re-read here (one small file per cgroup); the caller re-ranks every minute, not
    every sample. Ties keep the walk order (parents before children).
    """
    order = []
    for index, cgroup in enumerate(cgroups):
        usage = cgroup.read_usage()
        order.append((cgroup.depth > 0, -(usage or 0), index))
    order.sort()
    return [cgroups[i] for _not_root, _usage, i in order[:count]]


def cgroup_files(cgroups, start_end=False):
    """(real path, bundle path) of the memory files of `cgroups`."""
    files = []
    for cgroup in cgroups:
        files.extend(cgroup.files(start_end))
    return files


def _denied(path):
    """The error of opening `path` for reading when it is a permission error, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "%s: %s" % (type(exc).__name__, exc.strerror)
        return None
    os.close(fd)
    return None


def missing_without_privilege(roots, kmsg_path):
    """What this run cannot read for lack of privilege, found before it starts.

    A list of ``{"path", "what", "reason"}``: the kernel log and root-only files are probed
    (a container's root can lack CAP_SYSLOG too); other users' deep files are missed by any
    run that is not root.
    """
    out = []
    probes = [(kmsg_path, "dev/kmsg", "kernel log: OOM kills, allocation failures, hung tasks")]
    probes.append(roots.proc_path("pagetypeinfo") + ("free pages by migrate type (fragmentation)",))
    probes.append(roots.proc_path("slabinfo") + ("slab caches by size (which kernel caches grew)",))
    for real, bundle, what in probes:
        reason = _denied(real) if real else None
        if reason:
            out.append({"path": bundle, "what": what, "reason": reason})
    if os.geteuid() != 0:
        out.append(
            {
                "path": "proc/[pid]/smaps_rollup",
                "what": "smaps_rollup and numa_maps of other users' processes "
                "(their PSS, swap and NUMA placement)",
                "reason": "not root: reading them needs root or CAP_SYS_PTRACE",
            }
        )
    return out
