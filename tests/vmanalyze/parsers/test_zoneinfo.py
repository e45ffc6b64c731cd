"""zoneinfo parser: zones and per-node stats of a real 6.18 capture, old 2.6 and 4.x formats."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.zoneinfo import parse_zoneinfo, parse_zoneinfo_node_stats

# Copied from the fixture: the DMA block by hand, its counters with
# awk '/^Node/{z=$4} /pages free/{s=1} /pagesets/{s=0} z=="DMA" && s && /^      [a-z]/'.
EXPECTED_DMA = {
    "node": 0,
    "zone": "DMA",
    "pages_free": 3840,
    "boost": 0,
    "min": 52,
    "low": 65,
    "high": 78,
    "promo": 91,
    "spanned": 4095,
    "present": 3998,
    "managed": 3840,
    "cma": 0,
    "protection": [0, 3019, 4811, 4811, 4811],
    "nr_free_pages": 3840,
    "nr_free_pages_blocks": 3584,
    "nr_zone_inactive_anon": 0,
    "nr_zone_active_anon": 0,
    "nr_zone_inactive_file": 0,
    "nr_zone_active_file": 0,
    "nr_zone_unevictable": 0,
    "nr_zone_write_pending": 0,
    "nr_mlock": 0,
    "nr_zspages": 0,
    "nr_free_cma": 0,
    "numa_hit": 0,
    "numa_miss": 0,
    "numa_foreign": 0,
    "numa_interleave": 0,
    "numa_local": 0,
    "numa_other": 0,
    "pageset_count": 0,
    "node_unreclaimable": 0,
    "start_pfn": 1,
}


def _empty_zone(name: str, min_: int) -> dict[str, object]:
    return {
        "node": 0,
        "zone": name,
        "pages_free": 0,
        "boost": 0,
        "min": min_,
        "low": min_,
        "high": min_,
        "promo": min_,
        "spanned": 0,
        "present": 0,
        "managed": 0,
        "cma": 0,
        "protection": [0, 0, 0, 0, 0],
        "nr_free_pages": None,
        "pageset_count": None,
        "start_pfn": None,
        "node_unreclaimable": None,
    }


# awk '/per-node stats/{s=1;next} /pages free/{s=0} s {print $1, $2}' proc/zoneinfo
EXPECTED_NODE0 = {
    "node": 0,
    "nr_inactive_anon": 5058,
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
    "nr_kernel_stack": 1436,
    "nr_page_table_pages": 639,
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
}


def test_zones_of_real_capture(fixture_text):
    zones = parse_zoneinfo(fixture_text("proc/zoneinfo"))
    assert [(z["node"], z["zone"]) for z in zones] == [
        (0, "DMA"),
        (0, "DMA32"),
        (0, "Normal"),
        (0, "Movable"),
        (0, "Device"),
    ]
    assert zones[0] == EXPECTED_DMA
    # Empty zones print only their size, watermarks and protection (no counters, no pagesets).
    assert zones[3] == _empty_zone("Movable", 32)
    assert zones[4] == _empty_zone("Device", 0)


def test_populated_zones_main_values(fixture_text):
    # grep -A10 'zone    DMA32\|zone   Normal' proc/zoneinfo; count: summed with awk.
    dma32, normal = parse_zoneinfo(fixture_text("proc/zoneinfo"))[1:3]
    assert {k: dma32[k] for k in ("pages_free", "min", "low", "high", "managed")} == {
        "pages_free": 772917,
        "min": 10569,
        "low": 13211,
        "high": 15853,
        "managed": 772917,
    }
    assert dma32["pageset_count"] == 0
    assert normal["pageset_count"] == 4039
    assert normal["protection"] == [0, 0, 0, 0, 0]


def test_per_node_stats_of_real_capture(fixture_text):
    assert parse_zoneinfo_node_stats(fixture_text("proc/zoneinfo")) == [EXPECTED_NODE0]


# Kernel 2.6.16 layout (no per-node stats, 'scanned' with a breakdown, old pagesets).
OLD_2_6 = """\
Node 0, zone      DMA
  pages free     5410
        min      181
        low      226
        high     271
        active   367
        inactive 720
        scanned  0 (a: 0 i: 0)
        spanned  8192
        present  8192
        protection: (0, 0, 0, 0)
  pagesets
    cpu: 0 pcp: 0
              count: 2
              high:  6
              batch: 1
    cpu: 0 pcp: 1
              count: 1
              high:  2
              batch: 1
  all_unreclaimable: 0
  prev_priority:     12
  temp_priority:     12
  start_pfn:         196608
"""


def test_old_2_6_format():
    assert parse_zoneinfo(OLD_2_6) == [
        {
            "node": 0,
            "zone": "DMA",
            "pages_free": 5410,
            "min": 181,
            "low": 226,
            "high": 271,
            "active": 367,
            "inactive": 720,
            "scanned": 0,
            "spanned": 8192,
            "present": 8192,
            "managed": None,
            "cma": None,
            "protection": [0, 0, 0, 0],
            "nr_free_pages": None,
            "pageset_count": 3,
            "all_unreclaimable": 0,
            "prev_priority": 12,
            "temp_priority": 12,
            "start_pfn": 196608,
            "node_unreclaimable": None,
        }
    ]
    assert parse_zoneinfo_node_stats(OLD_2_6) == []


def test_unnamed_value_of_some_4x_kernels_is_dropped():
    text = "Node 0, zone DMA\n  per-node stats\n      nr_written 5\n                   537792\n"
    assert parse_zoneinfo_node_stats(text) == [{"node": 0, "nr_written": 5}]


def test_errors():
    with pytest.raises(ParseError):
        parse_zoneinfo("  pages free 5\n")  # data before any zone header
    with pytest.raises(ParseError):
        parse_zoneinfo("Node 0, zone DMA\n  pages free lots\n")
    with pytest.raises(SkipSource):
        parse_zoneinfo("\n")
