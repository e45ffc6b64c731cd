"""vmstat parser: every counter of a real 6.18 capture, and the derived totals across kernels."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.vmstat import DERIVED_KEYS, parse_vmstat

# Written with awk '{printf "\"%s\": %s,\n", $1, $2}' proc/vmstat; the derived totals are the
# awk sums of allocstall_*, pgsteal_{kswapd,direct,khugepaged,proactive} and the same pgscan_*
# (pgscan_direct_throttle excluded): all 0 on this idle VM.
EXPECTED_DEBIAN12 = {
    "nr_free_pages": 808107,
    "nr_free_pages_blocks": 793600,
    "nr_zone_inactive_anon": 5050,
    "nr_zone_active_anon": 387,
    "nr_zone_inactive_file": 284287,
    "nr_zone_active_file": 93347,
    "nr_zone_unevictable": 3636,
    "nr_zone_write_pending": 54,
    "nr_mlock": 3397,
    "nr_zspages": 0,
    "nr_free_cma": 0,
    "numa_hit": 1363386,
    "numa_miss": 0,
    "numa_foreign": 0,
    "numa_interleave": 1127,
    "numa_local": 1363386,
    "numa_other": 0,
    "nr_inactive_anon": 5033,
    "nr_active_anon": 387,
    "nr_inactive_file": 284287,
    "nr_active_file": 93347,
    "nr_unevictable": 3636,
    "nr_slab_reclaimable": 22428,
    "nr_slab_unreclaimable": 6141,
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
    "nr_anon_pages": 6873,
    "nr_mapped": 4047,
    "nr_file_pages": 379848,
    "nr_dirty": 54,
    "nr_writeback": 0,
    "nr_shmem": 2214,
    "nr_shmem_hugepages": 0,
    "nr_shmem_pmdmapped": 0,
    "nr_file_hugepages": 0,
    "nr_file_pmdmapped": 0,
    "nr_anon_transparent_hugepages": 0,
    "nr_vmscan_write": 0,
    "nr_vmscan_immediate_reclaim": 0,
    "nr_dirtied": 284122,
    "nr_written": 183765,
    "nr_throttled_written": 0,
    "nr_kernel_misc_reclaimable": 0,
    "nr_foll_pin_acquired": 0,
    "nr_foll_pin_released": 0,
    "nr_kernel_stack": 1408,
    "nr_page_table_pages": 539,
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
    "nr_dirty_threshold": 1217772,
    "nr_dirty_background_threshold": 608142,
    "nr_memmap_pages": 0,
    "nr_memmap_boot_pages": 98304,
    "pgpgin": 798149,
    "pgpgout": 734416,
    "pswpin": 0,
    "pswpout": 0,
    "pgalloc_dma": 0,
    "pgalloc_dma32": 0,
    "pgalloc_normal": 1685066,
    "pgalloc_movable": 0,
    "pgalloc_device": 0,
    "allocstall_dma": 0,
    "allocstall_dma32": 0,
    "allocstall_normal": 0,
    "allocstall_movable": 0,
    "allocstall_device": 0,
    "pgskip_dma": 0,
    "pgskip_dma32": 0,
    "pgskip_normal": 0,
    "pgskip_movable": 0,
    "pgskip_device": 0,
    "pgfree": 2497321,
    "pgactivate": 102274,
    "pgdeactivate": 0,
    "pglazyfree": 0,
    "pgfault": 1446449,
    "pgmajfault": 655,
    "pglazyfreed": 0,
    "pgrefill": 0,
    "pgreuse": 149778,
    "pgsteal_kswapd": 0,
    "pgsteal_direct": 0,
    "pgsteal_khugepaged": 0,
    "pgsteal_proactive": 0,
    "pgscan_kswapd": 0,
    "pgscan_direct": 0,
    "pgscan_khugepaged": 0,
    "pgscan_proactive": 0,
    "pgscan_direct_throttle": 0,
    "pgscan_anon": 0,
    "pgscan_file": 0,
    "pgsteal_anon": 0,
    "pgsteal_file": 0,
    "zone_reclaim_success": 0,
    "zone_reclaim_failed": 0,
    "pginodesteal": 0,
    "slabs_scanned": 161,
    "kswapd_inodesteal": 0,
    "kswapd_low_wmark_hit_quickly": 0,
    "kswapd_high_wmark_hit_quickly": 0,
    "pageoutrun": 0,
    "pgrotated": 0,
    "drop_pagecache": 1,
    "drop_slab": 2,
    "oom_kill": 1,
    "numa_pte_updates": 0,
    "numa_huge_pte_updates": 0,
    "numa_hint_faults": 0,
    "numa_hint_faults_local": 0,
    "numa_pages_migrated": 0,
    "pgmigrate_success": 0,
    "pgmigrate_fail": 0,
    "thp_migration_success": 0,
    "thp_migration_fail": 0,
    "thp_migration_split": 0,
    "compact_migrate_scanned": 0,
    "compact_free_scanned": 0,
    "compact_isolated": 0,
    "compact_stall": 0,
    "compact_fail": 0,
    "compact_success": 0,
    "compact_daemon_wake": 0,
    "compact_daemon_migrate_scanned": 0,
    "compact_daemon_free_scanned": 0,
    "htlb_buddy_alloc_success": 0,
    "htlb_buddy_alloc_fail": 0,
    "unevictable_pgs_culled": 22717,
    "unevictable_pgs_scanned": 0,
    "unevictable_pgs_rescued": 19081,
    "unevictable_pgs_mlocked": 22649,
    "unevictable_pgs_munlocked": 19252,
    "unevictable_pgs_cleared": 0,
    "unevictable_pgs_stranded": 0,
    "thp_fault_alloc": 0,
    "thp_fault_fallback": 0,
    "thp_fault_fallback_charge": 0,
    "thp_collapse_alloc": 0,
    "thp_collapse_alloc_failed": 0,
    "thp_file_alloc": 0,
    "thp_file_fallback": 0,
    "thp_file_fallback_charge": 0,
    "thp_file_mapped": 0,
    "thp_split_page": 0,
    "thp_split_page_failed": 0,
    "thp_deferred_split_page": 0,
    "thp_underused_split_page": 0,
    "thp_split_pmd": 0,
    "thp_scan_exceed_none_pte": 0,
    "thp_scan_exceed_swap_pte": 0,
    "thp_scan_exceed_share_pte": 0,
    "thp_split_pud": 0,
    "thp_zero_page_alloc": 0,
    "thp_zero_page_alloc_failed": 0,
    "thp_swpout": 0,
    "thp_swpout_fallback": 0,
    "balloon_inflate": 0,
    "balloon_deflate": 0,
    "balloon_migrate": 0,
    "swap_ra": 0,
    "swap_ra_hit": 0,
    "swpin_zero": 0,
    "swpout_zero": 0,
    "ksm_swpin_copy": 0,
    "cow_ksm": 0,
    "zswpin": 0,
    "zswpout": 0,
    "zswpwb": 0,
    "direct_map_level2_splits": 4,
    "direct_map_level3_splits": 0,
    "direct_map_level2_collapses": 0,
    "direct_map_level3_collapses": 0,
    "nr_unstable": 0,
    "allocstall": 0,
    "workingset_refault": 0,
    "workingset_activate": 0,
    "workingset_restore": 0,
    "pgsteal": 0,
    "pgscan": 0,
}


def test_whole_record_of_real_capture(fixture_text):
    assert parse_vmstat(fixture_text("proc/vmstat")) == EXPECTED_DEBIAN12


def test_6x_per_reclaimer_counters_are_summed_and_kept():
    text = (
        "pgsteal_kswapd 100\npgsteal_direct 20\npgsteal_khugepaged 3\npgsteal_proactive 4\n"
        "pgscan_kswapd 200\npgscan_direct 40\npgscan_khugepaged 6\npgscan_proactive 8\n"
        "pgscan_direct_throttle 5\npgsteal_anon 27\npgsteal_file 100\n"
        "allocstall_dma32 1\nallocstall_normal 2\nallocstall_movable 3\n"
        "workingset_refault_anon 7\nworkingset_refault_file 8\n"
    )
    parsed = parse_vmstat(text)
    assert parsed["pgsteal"] == 127  # per-reclaimer sum; pgsteal_anon/file not added again
    assert parsed["pgscan"] == 254  # pgscan_direct_throttle is an event count, not pages
    assert parsed["allocstall"] == 6
    assert parsed["workingset_refault"] == 15
    assert parsed["pgsteal_kswapd"] == 100 and parsed["allocstall_normal"] == 2  # raw kept


def test_4x_raw_single_counters_win():
    parsed = parse_vmstat("allocstall 9\nworkingset_refault 11\npgsteal_kswapd_normal 5\n")
    assert parsed["allocstall"] == 9
    assert parsed["workingset_refault"] == 11
    assert parsed["pgsteal"] == 5
    assert parsed["workingset_activate"] is None


def test_3x_per_zone_reclaimer_counters():
    text = "pgsteal_kswapd_dma32 4\npgsteal_direct_normal 6\npgscan_kswapd_normal 10\n"
    assert (parse_vmstat(text)["pgsteal"], parse_vmstat(text)["pgscan"]) == (10, 10)


def test_2_6_per_zone_pgsteal_without_reclaimer():
    text = "pgsteal_dma 1\npgsteal_normal 2\npgsteal_high 3\npgscan_kswapd_high 7\n"
    assert parse_vmstat(text)["pgsteal"] == 6


def test_only_per_type_counters():
    assert parse_vmstat("pgsteal_anon 2\npgsteal_file 3\n")["pgsteal"] == 5


def test_derived_keys_absent_are_none_not_zero():
    parsed = parse_vmstat("nr_free_pages 10\n")
    assert {key: parsed[key] for key in DERIVED_KEYS} == dict.fromkeys(DERIVED_KEYS)


def test_malformed_and_empty():
    with pytest.raises(ParseError) as caught:
        parse_vmstat("nr_free_pages 10\nnr_dirty\n")
    assert caught.value.lineno == 2
    with pytest.raises(ParseError):
        parse_vmstat("nr_free_pages ten\n")
    with pytest.raises(SkipSource):
        parse_vmstat("")
