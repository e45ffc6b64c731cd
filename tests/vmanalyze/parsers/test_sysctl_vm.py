"""/proc/sys/vm/* values of a real capture: ints, tab-separated lists, words, empty."""

from __future__ import annotations

import pytest
from vmanalyze.parsers import match_sources
from vmanalyze.parsers.sysctl_vm import parse_sysctl_vm

# cat proc/sys/vm/<name> for every file of the fixture.
EXPECTED = {
    "admin_reserve_kbytes": 8192,
    "compact_unevictable_allowed": 1,
    "compaction_proactiveness": 20,
    "defrag_mode": 0,
    "dirty_background_bytes": 0,
    "dirty_background_ratio": 10,
    "dirty_bytes": 0,
    "dirty_expire_centisecs": 3000,
    "dirty_ratio": 20,
    "dirty_writeback_centisecs": 500,
    "dirtytime_expire_seconds": 43200,
    "extfrag_threshold": 500,
    "hugetlb_optimize_vmemmap": 0,
    "hugetlb_shm_group": 0,
    "laptop_mode": 0,
    "legacy_va_layout": 0,
    "lowmem_reserve_ratio": [256, 256, 32, 0, 0],
    "max_map_count": 65530,
    "memfd_noexec": 0,
    "min_free_kbytes": 67584,
    "min_slab_ratio": 5,
    "min_unmapped_ratio": 1,
    "mmap_min_addr": 4096,
    "mmap_rnd_bits": 28,
    "mmap_rnd_compat_bits": 8,
    "nr_hugepages": 0,
    "nr_hugepages_mempolicy": 0,
    "nr_overcommit_hugepages": 0,
    "numa_stat": 1,
    "numa_zonelist_order": "Node",
    "oom_dump_tasks": 1,
    "oom_kill_allocating_task": 0,
    "overcommit_kbytes": 0,
    "overcommit_memory": 0,
    "overcommit_ratio": 50,
    "page-cluster": 3,
    "page_lock_unfairness": 5,
    "panic_on_oom": 0,
    "percpu_pagelist_high_fraction": 0,
    "shrink_inodes_with_pagecache": 0,
    "stat_interval": 1,
    "stat_refresh": None,
    "swappiness": 60,
    "unprivileged_userfaultfd": 0,
    "user_reserve_kbytes": 100446,
    "vfs_cache_pressure": 100,
    "vfs_cache_pressure_denom": 100,
    "watermark_boost_factor": 15000,
    "watermark_scale_factor": 10,
    "zone_reclaim_mode": 0,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_vm_sysctl_of_real_capture(fixture_text, name):
    path = f"proc/sys/vm/{name}"
    assert match_sources(path) == ["sysctl_vm"]
    assert parse_sysctl_vm(fixture_text(path)) == EXPECTED[name]


def test_lowmem_reserve_ratio_is_tab_separated(fixture_text):
    assert "\t" in fixture_text("proc/sys/vm/lowmem_reserve_ratio")


def test_other_shapes():
    assert parse_sysctl_vm("256\t256\t32\n") == [256, 256, 32]
    assert parse_sysctl_vm("default\n") == "default"
    assert parse_sysctl_vm("-1\n") == -1
