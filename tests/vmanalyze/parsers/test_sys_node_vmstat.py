"""Per-node vmstat parser on a real capture, with the kernel quirks it tolerates."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.sys_node_vmstat import parse_sys_node_vmstat

# awk '{printf "\"%s\": %s,\n", $1, $2}' sys/devices/system/node/node0/vmstat; derived totals
# from awk: workingset_* _anon + _file; no allocstall/pgsteal/pgscan on a node -> None.
EXPECTED_NODE0_VMSTAT = {
    "nr_free_pages": 806614,
    "nr_free_pages_blocks": 793088,
    "nr_zone_inactive_anon": 5048,
    "nr_zone_active_anon": 388,
    "nr_zone_inactive_file": 284341,
    "nr_zone_active_file": 93356,
    "nr_zone_unevictable": 3636,
    "nr_zone_write_pending": 138,
    "nr_mlock": 3397,
    "nr_zspages": 0,
    "nr_free_cma": 0,
    "numa_hit": 1395671,
    "numa_miss": 0,
    "numa_foreign": 0,
    "numa_interleave": 1127,
    "numa_local": 1395671,
    "numa_other": 0,
    "nr_inactive_anon": 5069,
    "nr_active_anon": 388,
    "nr_inactive_file": 284341,
    "nr_active_file": 93356,
    "nr_unevictable": 3636,
    "nr_slab_reclaimable": 22449,
    "nr_slab_unreclaimable": 6167,
    "nr_isolated_anon": 0,
    "nr_isolated_file": 0,
    "workingset_nodes": 0,
    "workingset_refault_anon": 0,
    "workingset_refault_file": 0,
    "workingset_activate_anon": 0,
    "workingset_activate_file": 0,
    "workingset_restore_anon": 0,
    "workingset_restore_file": 0,
    "workingset_nodereclaim": 0,
    "nr_anon_pages": 6878,
    "nr_mapped": 4076,
    "nr_file_pages": 379911,
    "nr_dirty": 117,
    "nr_writeback": 0,
    "nr_shmem": 2214,
    "nr_shmem_hugepages": 0,
    "nr_shmem_pmdmapped": 0,
    "nr_file_hugepages": 0,
    "nr_file_pmdmapped": 0,
    "nr_anon_transparent_hugepages": 0,
    "nr_vmscan_write": 0,
    "nr_vmscan_immediate_reclaim": 0,
    "nr_dirtied": 284185,
    "nr_written": 183765,
    "nr_throttled_written": 0,
    "nr_kernel_misc_reclaimable": 0,
    "nr_foll_pin_acquired": 0,
    "nr_foll_pin_released": 0,
    "nr_kernel_stack": 1424,
    "nr_page_table_pages": 635,
    "nr_sec_page_table_pages": 0,
    "nr_iommu_pages": 0,
    "nr_swapcached": 0,
    "pgpromote_success": 0,
    "pgpromote_candidate": 0,
    "pgpromote_candidate_nrl": 0,
    "pgdemote_kswapd": 0,
    "pgdemote_direct": 0,
    "pgdemote_khugepaged": 0,
    "pgdemote_proactive": 0,
    "nr_hugetlb": 0,
    "nr_balloon_pages": 0,
    "nr_kernel_file_pages": 0,
    "allocstall": None,
    "workingset_refault": 0,
    "workingset_activate": 0,
    "workingset_restore": 0,
    "pgsteal": None,
    "pgscan": None,
}


def test_node_vmstat_whole_record(fixture_text):
    parsed = parse_sys_node_vmstat(fixture_text("sys/devices/system/node/node0/vmstat"))
    assert parsed == EXPECTED_NODE0_VMSTAT


def test_node_vmstat_kernel_quirks_are_tolerated():
    # Some 4.x kernels print a value without a name and pad the sysfs page with NULs.
    parsed = parse_sys_node_vmstat("nr_written 17147101\n 176096\n" + "\x00" * 64)
    assert parsed["nr_written"] == 17147101 and len(parsed) == 7


def test_errors():
    with pytest.raises(ParseError):
        parse_sys_node_vmstat("nr_written 1 2\n")
    with pytest.raises(SkipSource):
        parse_sys_node_vmstat("\x00\x00")
