"""The SOURCES registry (parsers/__init__.py): globs, naming rule, and the whole fixture root."""

from __future__ import annotations

import pytest
from vmanalyze.errors import SkipSource
from vmanalyze.parsers import SOURCES, glob_regex, match_sources
from vmanalyze.parsers._common import snake_key

# Every kernel file of the fixture and the sources it must feed.
EXPECTED_ROUTES = {
    "proc/meminfo": ["meminfo"],
    "proc/vmstat": ["vmstat"],
    "proc/zoneinfo": ["zoneinfo", "zoneinfo_node_stats"],
    "proc/buddyinfo": ["buddyinfo"],
    "proc/pagetypeinfo": ["pagetypeinfo"],
    "proc/pressure/memory": ["pressure_memory"],
    "proc/swaps": ["swaps"],
    "proc/loadavg": ["loadavg"],
    "proc/stat": ["proc_stat"],
    "proc/version": ["version"],
    "proc/sys/kernel/osrelease": ["osrelease"],
    "etc/os-release": ["os_release"],
    "proc/cpuinfo": ["cpuinfo"],
    "proc/sys/vm/swappiness": ["sysctl_vm"],
    "proc/5399/stat": ["pid_stat"],
    "proc/5399/status": ["pid_status"],
    "proc/5399/smaps_rollup": ["pid_smaps_rollup"],
    "proc/5399/smaps": ["pid_smaps"],
    "proc/5399/numa_maps": ["pid_numa_maps"],
    "proc/5399/cgroup": ["pid_cgroup"],
    "proc/5399/comm": [],
    "sys/devices/system/node/node0/meminfo": ["sys_node_meminfo"],
    "sys/devices/system/node/node0/numastat": ["sys_node_numastat"],
    "sys/devices/system/node/node0/vmstat": ["sys_node_vmstat"],
    "sys/devices/system/node/node0/cpulist": ["sys_node_cpulist"],
    "sys/devices/system/node/node0/distance": ["sys_node_distance"],
    "sys/devices/system/node/has_normal_memory": ["sys_node_mask"],
    "sys/kernel/mm/transparent_hugepage/enabled": ["sys_kernel_mm_transparent_hugepage"],
    "sys/kernel/mm/transparent_hugepage/hpage_pmd_size": [
        "sys_kernel_mm_transparent_hugepage_counters"
    ],
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": ["sys_kernel_mm_hugepages"],
    "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages": [
        "sys_kernel_mm_hugepages"
    ],
    "sys/kernel/mm/ksm/run": ["sys_kernel_mm_ksm"],
    "sys/fs/cgroup/memory/memory.usage_in_bytes": ["cgroup_v1_memory_bytes"],
    "sys/fs/cgroup/memory/memory.stat": ["cgroup_v1_memory_stat"],
    "sys/fs/cgroup/memory/vmtriage-oomtest/memory.oom_control": ["cgroup_v1_memory_oom_control"],
    "sys/fs/cgroup/memory/memory.swappiness": [],
    "sys/fs/cgroup/unified/memory.pressure": ["cgroup_v2_memory_pressure"],
    "dev/kmsg": ["kmsg"],
}


@pytest.mark.parametrize("path", sorted(EXPECTED_ROUTES))
def test_routes(debian12, path):
    assert (debian12 / path).is_file(), path
    assert match_sources(path) == EXPECTED_ROUTES[path]


def test_every_fixture_file_with_a_source_parses(debian12):
    parsed = 0
    for file in sorted(debian12.rglob("*")):
        relpath = file.relative_to(debian12).as_posix()
        if not file.is_file() or "/" not in relpath:
            continue  # PROVENANCE.md, capture.sh
        text = file.read_bytes().decode("utf-8")
        for name in match_sources(relpath):
            try:
                SOURCES[name].parse(text)
            except SkipSource:
                pytest.fail(f"{relpath}: {name}: skipped although it has content")
            parsed += 1
    assert parsed > 250


def test_registry_shape():
    for source in SOURCES.values():
        assert source.globs and all(not g.startswith("/") for g in source.globs)
        assert callable(source.parse)
        assert source.parse.__module__ == f"vmanalyze.parsers.{source.module}"


def test_glob_semantics():
    assert glob_regex("proc/[0-9]*/stat").match("proc/42/stat")
    assert not glob_regex("proc/[0-9]*/stat").match("proc/self/stat")
    assert not glob_regex("proc/[0-9]*/stat").match("proc/42/task/42/stat")  # * stays in a dir
    assert glob_regex("sys/fs/cgroup/**/memory.stat").match("sys/fs/cgroup/a/b/c/memory.stat")
    assert glob_regex("sys/{a,b}/x").match("sys/b/x")


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("MemTotal", "mem_total"),
        ("Active(anon)", "active_anon"),
        ("Committed_AS", "committed_as"),
        ("HugePages_Total", "hugepages_total"),
        ("AnonHugePages", "anon_hugepages"),
        ("VmRSS", "vm_rss"),
        ("VmPTE", "vm_pte"),
        ("RssShmem", "rss_shmem"),
        ("HugetlbPages", "hugetlb_pages"),
        ("THP_enabled", "thp_enabled"),
        ("Mems_allowed_list", "mems_allowed_list"),
        ("SReclaimable", "s_reclaimable"),
        ("NFS_Unstable", "nfs_unstable"),
        ("DirectMap1G", "direct_map1g"),
        ("PPid", "ppid"),
        ("NStgid", "ns_tgid"),
        ("nr_free_pages", "nr_free_pages"),
    ],
)
def test_naming_rule(key, name):
    assert snake_key(key) == name


def test_every_source_names_a_documented_table_or_none():
    from vmanalyze.tables_doc import TABLES

    documented = {doc.name for doc in TABLES}
    tables = {name: source.table for name, source in SOURCES.items()}
    assert {t for t in tables.values() if t is not None} <= documented
    assert [name for name, table in tables.items() if table is None] == ["pid_smaps"]
    assert tables["meminfo"] == "meminfo" and tables["pid_stat"] == "pid_stat"
    assert tables["cpuinfo"] == tables["version"] == "host"
    assert {tables[n] for n in tables if n.startswith("cgroup_")} == {"cgroup_memory"}
    assert tables["sys_node_cpulist"] == tables["numactl"] == "numa_topology"
    assert tables["kmsg"] == tables["dmesg"] == tables["syslog"] == "oom_events"


def test_the_tables_of_the_fixture_sources_hold_rows(debian12):
    """A source's table is where its file's data lands: each such table of the fixture has rows."""
    from vmanalyze.dataset import parse

    tables = parse(str(debian12)).tables
    for path, names in EXPECTED_ROUTES.items():
        for name in names:
            table = SOURCES[name].table
            if table is not None:
                assert len(tables[table]), (path, name, table)
