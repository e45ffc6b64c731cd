"""Which kernel files vmcollect reads, found on this host (or under a fixture root).

Every path is returned twice: the real path to open, and the bundle path (the kernel path
without its leading slash: ``proc/meminfo``), so fixture roots produce the same bundle paths
as a real host.
"""

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
CGROUP_V2_FILES = (
    "memory.current",
    "memory.events",
    "memory.pressure",
    "memory.stat",
    "memory.max",
    "memory.high",
    "memory.swap.current",
)
CGROUP_V1_FILES = (
    "memory.usage_in_bytes",
    "memory.limit_in_bytes",
    "memory.stat",
    "memory.oom_control",
    "memory.memsw.usage_in_bytes",
    "memory.failcnt",
)
CONFIG_PROC_FILES = (
    "pagetypeinfo",
    "cmdline",
    "version",
    "cpuinfo",
    "sys/kernel/numa_balancing",
    "sys/kernel/osrelease",
    "sys/kernel/pid_max",
    "sys/kernel/threads-max",
)
_NODE_DIR = re.compile(r"^node[0-9]+$")


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
        if fstype == "cgroup2":
            v2.append(mount_point)
        elif fstype == "cgroup" and "memory" in opts:
            v1.append(mount_point)
    return v2, v1


def cgroup_dirs(roots, max_cgroups=100):
    """(real directory, bundle directory, version) for the memory cgroups to sample.

    The root and the first two levels of each hierarchy, capped at `max_cgroups` in all.
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
    out = []
    for version, mounts in (("v2", v2_mounts), ("v1", v1_mounts)):
        for mount in mounts:
            level = [mount]
            for depth in range(3):
                next_level = []
                for directory in level:
                    if len(out) >= max_cgroups:
                        return out
                    key_file = "memory.stat" if version == "v2" else "memory.usage_in_bytes"
                    if os.path.exists(os.path.join(directory, key_file)):
                        out.append((directory, to_bundle(directory), version))
                    if depth < 2:
                        for name in _listdir(directory):
                            child = os.path.join(directory, name)
                            if os.path.isdir(child) and not os.path.islink(child):
                                next_level.append(child)
                level = next_level
    return out


def cgroup_files(cgroups):
    """The memory files that exist in each cgroup directory (checked once, at discovery)."""
    files = []
    for real_dir, bundle_dir, version in cgroups:
        names = CGROUP_V2_FILES if version == "v2" else CGROUP_V1_FILES
        for name in names:
            real = os.path.join(real_dir, name)
            if os.path.exists(real):
                files.append((real, bundle_dir + "/" + name))
    return files
