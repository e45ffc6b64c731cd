"""Parsers of the kernel files vmcollect captures: one module per kernel source.

Every module has a pure ``parse_<module>(text: str)`` function (no file I/O) and documents its
file, its meaning, a sample and its output keys. :data:`SOURCES` maps each source to the path
globs it is captured at (relative to a captured root, e.g. a bundle or an extracted sosreport:
``proc/meminfo``, ``proc/[0-9]*/stat``), its parse function, the table its rows go to and its
module.

Naming rule for output keys
---------------------------
* Kernel keys become snake_case: CamelCase words are split (``MemTotal`` -> ``mem_total``),
  runs of capitals stay one word (``VmPTE`` -> ``vm_pte``, ``SReclaimable`` ->
  ``s_reclaimable``), anything that is not a letter or digit becomes ``_``
  (``Active(anon)`` -> ``active_anon``, ``Committed_AS`` -> ``committed_as``), digits stay
  attached (``DirectMap2M`` -> ``direct_map2m``). ``HugePages`` is one word
  (``HugePages_Total`` -> ``hugepages_total``, ``AnonHugePages`` -> ``anon_hugepages``);
  ``PPid`` -> ``ppid``, ``NSpid`` -> ``ns_pid``. Keys that are already snake_case (vmstat,
  numastat, cgroup ``memory.stat``) are kept as printed.
* A value printed with a ``kB`` unit is converted to bytes (x 1024) and its key gets the suffix
  ``_bytes``: ``MemTotal: 16 kB`` -> ``mem_total_bytes: 16384``. A value without unit keeps the
  plain name and the kernel's unit (pages, events, ticks): ``HugePages_Total: 0`` ->
  ``hugepages_total: 0``. Where a module names a unit explicitly it says so (``_us``,
  ``_bytes``, ``_pages``).
* Absent means ``None``, never 0: each module lists the keys that are always present (e.g.
  :data:`meminfo.MEMINFO_KEYS`) and fills the ones this kernel does not print with ``None``.
  Unknown keys (newer kernels, vendor patches) are kept under their snake_case name.
* Errors: a line that does not fit the format raises
  :class:`~vmanalyze.errors.ParseError` (source, line number, line). A file that is empty where
  the kernel always prints something (0 bytes: it was not readable when captured) raises
  :class:`~vmanalyze.errors.SkipSource`; files that are legitimately empty (numa_maps and
  smaps of a kernel thread, kmsg without events, a node cpulist without CPUs, a write-only
  sysctl) parse to an empty result.

Registry
--------
``SOURCES[name] = Source(globs, parse, table, module, exclude)``: ``name`` is the source
(``meminfo``, ``pid_stat``, ``zoneinfo_node_stats``...), ``globs`` the paths it is found at
(``*`` does not cross ``/``, ``**/`` spans directories, ``{a,b}`` alternatives, ``[0-9]``
classes), ``table`` the table of docs/tables.md its records go to (the source's own name for
most; ``host`` for version and cpuinfo, ``cgroup_memory`` for every cgroup file, ``None`` for a
source no table reads), ``module`` the parser module. One path can feed several sources
(``proc/zoneinfo`` gives ``zoneinfo`` and ``zoneinfo_node_stats``); :func:`match_sources`
returns them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

from vmanalyze.parsers import (
    buddyinfo,
    cgroup_v1_memory,
    cgroup_v2_memory,
    cpuinfo,
    date,
    df,
    free,
    kernel_log,
    kmsg,
    loadavg,
    meminfo,
    mounts,
    numactl,
    numastat,
    os_release,
    pagetypeinfo,
    pid_cgroup,
    pid_numa_maps,
    pid_smaps,
    pid_smaps_rollup,
    pid_stat,
    pid_status,
    pressure_memory,
    proc_stat,
    ps,
    slabinfo,
    slabtop,
    sos_manifest,
    swapon,
    swaps,
    sys_block_zram,
    sys_kernel_mm_hugepages,
    sys_kernel_mm_ksm,
    sys_kernel_mm_transparent_hugepage,
    sys_node_meminfo,
    sys_node_numastat,
    sys_node_topology,
    sys_node_vmstat,
    sysctl_a,
    sysctl_vm,
    tmpfs_mounts,
    uptime,
    version,
    vmstat,
    zoneinfo,
)


class Source(NamedTuple):
    """One kernel source: where it is captured, how to parse it, which table it feeds."""

    globs: tuple[str, ...]
    parse: Callable[[str], Any]
    #: The table (docs/tables.md) its records go to; None: read for nothing but the parser.
    table: str | None
    module: str
    exclude: tuple[str, ...] = ()


_THP = "sys/kernel/mm/{transparent_hugepage,redhat_transparent_hugepage}"
_NODE = "sys/devices/system/node/node[0-9]*"
_V1 = "sys/fs/cgroup/memory/**/"
# Pool counters only: demote_size (6.x) holds a size such as "2048kB", demote is write-only.
_POOL = (
    "{nr_hugepages,free_hugepages,resv_hugepages,surplus_hugepages,nr_overcommit_hugepages,"
    "nr_hugepages_mempolicy}"
)
_V2 = "sys/fs/cgroup/**/"
# Command outputs of sosreports (sos 3.x and 4.x names) and Insights archives.
_SOS = "sos_commands"
_INSIGHTS = "insights_commands"
_PS_LISTS = "{ps_auxwww,ps_auxww,ps_aux,ps_auxcww,ps_alxwww,ps_ef,ps_eo_pid_ppid_comm}"
_ROTATED = "{,-[0-9]*,.[0-9],.[0-9].gz,.[0-9][0-9].gz}"


_OWN_NAME: Any = object()


def _src(
    name: str,
    module: str,
    parse: Callable[[str], Any],
    *globs: str,
    table: str | None = _OWN_NAME,
    exclude: tuple[str, ...] = (),
) -> tuple[str, Source]:
    """A source whose table is its own name unless `table` says otherwise."""
    return name, Source(tuple(globs), parse, name if table is _OWN_NAME else table, module, exclude)


SOURCES: dict[str, Source] = dict(
    [
        _src("meminfo", "meminfo", meminfo.parse_meminfo, "proc/meminfo"),
        _src("vmstat", "vmstat", vmstat.parse_vmstat, "proc/vmstat"),
        _src("zoneinfo", "zoneinfo", zoneinfo.parse_zoneinfo, "proc/zoneinfo"),
        _src(
            "zoneinfo_node_stats",
            "zoneinfo",
            zoneinfo.parse_zoneinfo_node_stats,
            "proc/zoneinfo",
        ),
        _src("buddyinfo", "buddyinfo", buddyinfo.parse_buddyinfo, "proc/buddyinfo"),
        _src("pagetypeinfo", "pagetypeinfo", pagetypeinfo.parse_pagetypeinfo, "proc/pagetypeinfo"),
        _src(
            "pressure_memory",
            "pressure_memory",
            pressure_memory.parse_pressure_memory,
            "proc/pressure/memory",
        ),
        _src("swaps", "swaps", swaps.parse_swaps, "proc/swaps"),
        _src("loadavg", "loadavg", loadavg.parse_loadavg, "proc/loadavg"),
        _src("proc_stat", "proc_stat", proc_stat.parse_proc_stat, "proc/stat"),
        _src("version", "version", version.parse_version, "proc/version", table="host"),
        _src(
            "osrelease",
            "version",
            version.parse_osrelease,
            "proc/sys/kernel/osrelease",
            table="host",
        ),
        _src(
            "os_release", "os_release", os_release.parse_os_release, "etc/os-release", table="host"
        ),
        _src("cpuinfo", "cpuinfo", cpuinfo.parse_cpuinfo, "proc/cpuinfo", table="host"),
        _src("sysctl_vm", "sysctl_vm", sysctl_vm.parse_sysctl_vm, "proc/sys/vm/*"),
        _src("pid_stat", "pid_stat", pid_stat.parse_pid_stat, "proc/[0-9]*/stat"),
        _src("pid_status", "pid_status", pid_status.parse_pid_status, "proc/[0-9]*/status"),
        _src(
            "pid_smaps_rollup",
            "pid_smaps_rollup",
            pid_smaps_rollup.parse_pid_smaps_rollup,
            "proc/[0-9]*/smaps_rollup",
        ),
        _src("pid_smaps", "pid_smaps", pid_smaps.parse_pid_smaps, "proc/[0-9]*/smaps", table=None),
        _src(
            "pid_numa_maps",
            "pid_numa_maps",
            pid_numa_maps.parse_pid_numa_maps,
            "proc/[0-9]*/numa_maps",
        ),
        _src(
            "pid_cgroup",
            "pid_cgroup",
            pid_cgroup.parse_pid_cgroup,
            "proc/[0-9]*/cgroup",
            table="processes",
        ),
        _src(
            "sys_node_meminfo",
            "sys_node_meminfo",
            sys_node_meminfo.parse_sys_node_meminfo,
            f"{_NODE}/meminfo",
        ),
        _src(
            "sys_node_numastat",
            "sys_node_numastat",
            sys_node_numastat.parse_sys_node_numastat,
            f"{_NODE}/numastat",
        ),
        _src(
            "sys_node_vmstat",
            "sys_node_vmstat",
            sys_node_vmstat.parse_sys_node_vmstat,
            f"{_NODE}/vmstat",
        ),
        _src(
            "sys_node_cpulist",
            "sys_node_topology",
            sys_node_topology.parse_sys_node_cpulist,
            f"{_NODE}/cpulist",
            table="numa_topology",
        ),
        _src(
            "sys_node_distance",
            "sys_node_topology",
            sys_node_topology.parse_sys_node_distance,
            f"{_NODE}/distance",
            table="numa_topology",
        ),
        _src(
            "sys_node_mask",
            "sys_node_topology",
            sys_node_topology.parse_sys_node_mask,
            "sys/devices/system/node/{online,possible,has_cpu,has_memory,has_normal_memory}",
            table="numa_topology",
        ),
        _src(
            "sys_kernel_mm_transparent_hugepage",
            "sys_kernel_mm_transparent_hugepage",
            sys_kernel_mm_transparent_hugepage.parse_thp_setting,
            f"{_THP}/{{enabled,defrag,shmem_enabled}}",
            f"{_THP}/hugepages-*kB/{{enabled,shmem_enabled}}",
            f"{_THP}/khugepaged/defrag",
            table="thp",
        ),
        _src(
            "sys_kernel_mm_transparent_hugepage_counters",
            "sys_kernel_mm_transparent_hugepage",
            sys_kernel_mm_transparent_hugepage.parse_thp_number,
            f"{_THP}/{{use_zero_page,hpage_pmd_size,shrink_underused}}",
            f"{_THP}/khugepaged/*",
            f"{_THP}/hugepages-*kB/stats/*",
            exclude=(f"{_THP}/khugepaged/defrag",),
            table="thp",
        ),
        _src(
            "sys_kernel_mm_hugepages",
            "sys_kernel_mm_hugepages",
            sys_kernel_mm_hugepages.parse_hugepages_value,
            f"sys/kernel/mm/hugepages/hugepages-*kB/{_POOL}",
            f"{_NODE}/hugepages/hugepages-*kB/{_POOL}",
            table="hugepages",
        ),
        _src(
            "sys_block_zram",
            "sys_block_zram",
            sys_block_zram.parse_sys_block_zram,
            "sys/block/zram[0-9]*/mm_stat",
            table="zram",
        ),
        _src(
            "sys_kernel_mm_ksm",
            "sys_kernel_mm_ksm",
            sys_kernel_mm_ksm.parse_sys_kernel_mm_ksm,
            "sys/kernel/mm/ksm/*",
            table="ksm",
        ),
        _src(
            "cgroup_v1_memory_bytes",
            "cgroup_v1_memory",
            cgroup_v1_memory.parse_memory_bytes,
            f"{_V1}memory.{{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt}}",
            f"{_V1}memory.{{soft_limit_in_bytes,memsw.usage_in_bytes,memsw.limit_in_bytes}}",
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v1_memory_stat",
            "cgroup_v1_memory",
            cgroup_v1_memory.parse_memory_stat,
            f"{_V1}memory.stat",
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v1_memory_oom_control",
            "cgroup_v1_memory",
            cgroup_v1_memory.parse_memory_oom_control,
            f"{_V1}memory.oom_control",
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v2_memory_current",
            "cgroup_v2_memory",
            cgroup_v2_memory.parse_memory_current,
            f"{_V2}memory.{{current,swap.current,peak,swap.peak}}",
            exclude=(f"{_V1}*",),
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v2_memory_limit",
            "cgroup_v2_memory",
            cgroup_v2_memory.parse_memory_limit,
            f"{_V2}memory.{{max,high,low,min,swap.max,swap.high}}",
            exclude=(f"{_V1}*",),
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v2_memory_events",
            "cgroup_v2_memory",
            cgroup_v2_memory.parse_memory_events,
            f"{_V2}memory.{{events,events.local}}",
            exclude=(f"{_V1}*",),
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v2_memory_swap_events",
            "cgroup_v2_memory",
            cgroup_v2_memory.parse_memory_swap_events,
            f"{_V2}memory.swap.events",
            exclude=(f"{_V1}*",),
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v2_memory_stat",
            "cgroup_v2_memory",
            cgroup_v2_memory.parse_memory_stat,
            f"{_V2}memory.stat",
            exclude=(f"{_V1}*",),
            table="cgroup_memory",
        ),
        _src(
            "cgroup_v2_memory_pressure",
            "cgroup_v2_memory",
            cgroup_v2_memory.parse_memory_pressure,
            f"{_V2}memory.pressure",
            exclude=(f"{_V1}*",),
            table="cgroup_memory",
        ),
        _src("kmsg", "kmsg", kmsg.parse_kmsg, "dev/kmsg", table="oom_events"),
        _src(
            "ps",
            "ps",
            ps.parse_ps,
            f"{_SOS}/process/{_PS_LISTS}",
            f"{_SOS}/process/ps_axo_*",
            f"{_INSIGHTS}/{_PS_LISTS}",
        ),
        _src(
            "dmesg",
            "kernel_log",
            kernel_log.parse_dmesg,
            f"{_SOS}/kernel/dmesg",
            f"{_INSIGHTS}/dmesg",
            "var/log/dmesg",
            table="oom_events",
        ),
        _src(
            "syslog",
            "kernel_log",
            kernel_log.parse_syslog,
            f"{_SOS}/{{logs,kernel}}/journalctl_*",
            f"{_INSIGHTS}/journalctl_*",
            f"var/log/{{messages,kern.log,syslog}}{_ROTATED}",
            exclude=("var/log/*.{xz,bz2,zst}",),
            table="oom_events",
        ),
        _src(
            "date",
            "date",
            date.parse_date,
            f"{_SOS}/date/{{date,date_--utc}}",
            f"{_INSIGHTS}/{{date,date_--utc}}",
            table="samples",
        ),
        _src(
            "uptime",
            "uptime",
            uptime.parse_uptime,
            f"{_SOS}/host/uptime",
            f"{_INSIGHTS}/uptime",
            table="samples",
        ),
        _src(
            "sos_manifest",
            "sos_manifest",
            sos_manifest.parse_sos_manifest,
            "sos_reports/manifest.json",
            table="samples",
        ),
        _src(
            "numactl",
            "numactl",
            numactl.parse_numactl_hardware,
            f"{_SOS}/numa/numactl_--hardware",
            f"{_INSIGHTS}/numactl_--hardware",
            table="numa_topology",
        ),
        _src(
            "numastat",
            "numastat",
            numastat.parse_numastat,
            f"{_SOS}/numa/numastat",
            table="sys_node_numastat",
        ),
        _src("slabinfo", "slabinfo", slabinfo.parse_slabinfo, "proc/slabinfo"),
        _src("slabtop", "slabtop", slabtop.parse_slabtop, f"{_SOS}/memory/slabtop_-o"),
        _src(
            "tmpfs_mounts",
            "tmpfs_mounts",
            tmpfs_mounts.parse_tmpfs_mounts,
            "vmcollect/tmpfs_mounts",
        ),
        _src(
            "df",
            "df",
            df.parse_df,
            f"{_SOS}/filesys/{{df_-al_-x_autofs,df_-al}}",
            table="tmpfs_mounts",
        ),
        _src(
            "mounts",
            "mounts",
            mounts.parse_mounts,
            f"{_SOS}/filesys/mount_-l",
            "proc/mounts",
            table="tmpfs_mounts",  # the types of the df rows (vmanalyze.tables.tmpfs_mounts)
        ),
        _src("free", "free", free.parse_free, f"{_SOS}/memory/free", f"{_INSIGHTS}/free"),
        _src("swapon", "swapon", swapon.parse_swapon, f"{_SOS}/memory/swapon_--bytes_--show"),
        _src(
            "sysctl_a",
            "sysctl_a",
            sysctl_a.parse_sysctl_a,
            f"{_SOS}/kernel/sysctl_-a",
            f"{_INSIGHTS}/sysctl_-a",
            table="sysctl_vm",
        ),
    ]
)


def _expand_braces(pattern: str) -> list[str]:
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    end = pattern.index("}", start)
    return [
        expanded
        for choice in pattern[start + 1 : end].split(",")
        for expanded in _expand_braces(pattern[:start] + choice + pattern[end + 1 :])
    ]


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a source glob: ``*`` stays within a directory, ``**/`` spans directories.

    >>> bool(glob_regex("proc/[0-9]*/stat").match("proc/1234/stat"))
    True
    >>> bool(glob_regex("sys/fs/cgroup/**/memory.stat").match("sys/fs/cgroup/memory.stat"))
    True
    """
    alternatives = []
    for expanded in _expand_braces(pattern):
        out = []
        index = 0
        while index < len(expanded):
            char = expanded[index]
            if expanded.startswith("**/", index):
                out.append("(?:[^/]+/)*")
                index += 3
                continue
            if char == "*":
                out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif char == "[":
                close = expanded.index("]", index)
                out.append(expanded[index : close + 1])
                index = close + 1
                continue
            else:
                out.append(re.escape(char))
            index += 1
        alternatives.append("".join(out))
    return re.compile("^(?:" + "|".join(alternatives) + ")$")


def match_sources(relpath: str) -> list[str]:
    """Names of the sources a path (relative to a captured root, ``/``-separated) belongs to.

    >>> match_sources("proc/zoneinfo")
    ['zoneinfo', 'zoneinfo_node_stats']
    >>> match_sources("sys/fs/cgroup/memory/docker/memory.stat")
    ['cgroup_v1_memory_stat']
    >>> match_sources("sys/fs/cgroup/unified/system.slice/memory.stat")
    ['cgroup_v2_memory_stat']
    >>> match_sources("proc/1/environ")
    []
    """
    names = []
    for name, source in SOURCES.items():
        if any(glob_regex(g).match(relpath) for g in source.globs) and not any(
            glob_regex(g).match(relpath) for g in source.exclude
        ):
            names.append(name)
    return names


__all__ = ["SOURCES", "Source", "glob_regex", "match_sources"]
