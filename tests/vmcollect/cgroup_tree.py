"""Memory cgroup trees laid out the way systemd and containerd lay out a Kubernetes node.

Python 3.6 compatible (the collector tests also run under 3.6).

The v2 files are real-shaped: the key order and formats of a 6.x kernel's memory.stat,
memory.events, memory.events.local and memory.swap.events (Documentation/admin-guide/
cgroup-v2.rst), and memory.pressure copied from this machine's real cgroup v2 root (its v2
hierarchy has no memory controller, so nothing else can be captured live). The v1 files are
copied from this machine's real v1 memory root.

Layout (kubelet with the systemd cgroup driver, containerd as the runtime)::

    kubepods.slice/
      kubepods-burstable.slice/
        kubepods-burstable-pod<uid>.slice/
          cri-containerd-<id>.scope        (the application container)
          cri-containerd-<id>.scope        (the pause container)
      kubepods-besteffort.slice/
        kubepods-besteffort-pod<uid>.slice/
          cri-containerd-<id>.scope
    system.slice/
      containerd.service
      kubelet.service
"""

import os

POD_UID = "3f8b2a6c_1d4e_4c1a_9b7e_2f6d8c0a5e11"
BESTEFFORT_UID = "a1c9e7d2_55b0_4f3e_8d21_7c4b9e6f0a32"
APP_ID = "8c1f4e2b9a7d6c5e3f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e"
PAUSE_ID = "0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e"
BESTEFFORT_ID = "5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f"

BURSTABLE = "kubepods.slice/kubepods-burstable.slice"
POD = BURSTABLE + "/kubepods-burstable-pod%s.slice" % POD_UID
APP = POD + "/cri-containerd-%s.scope" % APP_ID
PAUSE = POD + "/cri-containerd-%s.scope" % PAUSE_ID
BESTEFFORT_POD = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice" % (
    BESTEFFORT_UID
)
BESTEFFORT = BESTEFFORT_POD + "/cri-containerd-%s.scope" % BESTEFFORT_ID

# cgroup path -> (memory.current, memory.max or None for "max", oom_kill events)
V2_CGROUPS = (
    ("", None, None, 0),
    ("kubepods.slice", 3221225472, 15729823744, 0),
    ("kubepods.slice/kubepods-burstable.slice", 2684354560, None, 0),
    (POD, 2147483648, 2147483648, 2),
    (APP, 2139095040, 2147483648, 2),
    (PAUSE, 499712, None, 0),
    ("kubepods.slice/kubepods-besteffort.slice", 536870912, None, 0),
    (BESTEFFORT_POD, 536870912, None, 0),
    (BESTEFFORT, 536346624, None, 0),
    ("system.slice", 1073741824, None, 0),
    ("system.slice/containerd.service", 268435456, None, 0),
    ("system.slice/kubelet.service", 134217728, None, 0),
)

_V2_STAT_KEYS = [
    "anon",
    "file",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "sock",
    "vmalloc",
    "shmem",
    "zswap",
    "zswapped",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "swapcached",
    "anon_thp",
    "file_thp",
    "shmem_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "slab",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "pgscan",
    "pgsteal",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgfault",
    "pgmajfault",
    "pgrefill",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "zswpin",
    "zswpout",
    "thp_fault_alloc",
    "thp_collapse_alloc",
]


def _write(path, data):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "wb") as f:
        f.write(data)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def v2_stat(current):
    """A memory.stat in a 6.x kernel's key order, its sizes adding up to `current`."""
    anon = current * 3 // 4 // 4096 * 4096
    file_ = (current - anon) // 2 // 4096 * 4096
    values = dict.fromkeys(_V2_STAT_KEYS, 0)
    values.update(
        anon=anon,
        file=file_,
        kernel=current - anon - file_,
        kernel_stack=245760,
        pagetables=4894720,
        percpu=2880,
        sock=4096,
        shmem=135168,
        file_mapped=file_ // 8 // 4096 * 4096,
        active_anon=anon,
        inactive_file=file_ // 2,
        active_file=file_ - file_ // 2,
        slab_reclaimable=1867152,
        slab_unreclaimable=712848,
        slab=2580000,
        workingset_refault_file=18231,
        workingset_activate_file=4120,
        pgscan=91544,
        pgsteal=90125,
        pgscan_direct=91544,
        pgsteal_direct=90125,
        pgfault=4187311,
        pgmajfault=1204,
        pgrefill=5311,
        pgactivate=220131,
        pgdeactivate=5022,
    )
    return "".join("%s %d\n" % (k, values[k]) for k in _V2_STAT_KEYS).encode("ascii")


def build_v2_kubelet_tree(base):
    """A cgroup v2 tree with the memory controller under `base` (the sys/fs/cgroup directory).

    Returns {cgroup path: {file name: bytes}} of what was written.
    """
    pressure = _read("/sys/fs/cgroup/unified/memory.pressure")
    written = {}
    _write(os.path.join(base, "cgroup.controllers"), b"cpuset cpu io memory hugetlb pids rdma\n")
    for path, current, limit, oom_kill in V2_CGROUPS:
        files = {"memory.stat": v2_stat(current or 3758096384), "memory.pressure": pressure}
        if path:  # the root has no current, limits or events
            max_text = b"max\n" if limit is None else ("%d\n" % limit).encode("ascii")
            events = "low 0\nhigh 0\nmax %d\noom %d\noom_kill %d\noom_group_kill 0\n" % (
                41 if oom_kill else 0,
                oom_kill,
                oom_kill,
            )
            is_leaf = path.endswith(".scope") or path.endswith(".service")
            files.update(
                {
                    "memory.current": ("%d\n" % current).encode("ascii"),
                    "memory.max": max_text,
                    "memory.high": b"max\n",
                    "memory.low": b"0\n",
                    "memory.min": b"0\n",
                    "memory.peak": ("%d\n" % (current + 4096)).encode("ascii"),
                    "memory.events": events.encode("ascii"),
                    "memory.events.local": (
                        events
                        if is_leaf
                        else "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
                    ).encode("ascii"),
                    "memory.swap.current": b"0\n",
                    "memory.swap.max": b"max\n",
                    "memory.swap.high": b"max\n",
                    "memory.swap.peak": b"0\n",
                    "memory.swap.events": b"high 0\nmax 0\nfail 0\n",
                    "memory.oom.group": b"1\n" if path.endswith(".scope") else b"0\n",
                    "cgroup.procs": b"",
                }
            )
        for name, data in files.items():
            _write(os.path.join(base, path, name), data)
        written[path] = files
    return written


V1_CGROUPS = (
    "",
    "kubepods",
    "kubepods/burstable",
    "kubepods/burstable/pod" + POD_UID.replace("_", "-"),
    "kubepods/burstable/pod" + POD_UID.replace("_", "-") + "/" + APP_ID,
    "kubepods/burstable/pod" + POD_UID.replace("_", "-") + "/" + PAUSE_ID,
)


def build_v1_kubelet_tree(memory_base):
    """A cgroup v1 memory tree (kubelet's cgroupfs driver) of this machine's real root files."""
    real = "/sys/fs/cgroup/memory"
    names = (
        "memory.usage_in_bytes",
        "memory.limit_in_bytes",
        "memory.max_usage_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.stat",
        "memory.oom_control",
        "memory.failcnt",
        "memory.memsw.usage_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.swappiness",
    )
    files = {}
    for name in names:
        try:
            files[name] = _read(os.path.join(real, name))
        except OSError:
            continue
    for path in V1_CGROUPS:
        for name, data in files.items():
            _write(os.path.join(memory_base, path, name), data)
    return files
