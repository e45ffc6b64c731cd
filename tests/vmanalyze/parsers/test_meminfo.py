"""meminfo parser on a real 6.18 capture and on old-format edge cases."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.meminfo import MEMINFO_KEYS, parse_meminfo

KIB = 1024

# Values read from the fixture with awk ('{print $1, $2, $3}'), names written by hand.
EXPECTED_DEBIAN12 = {
    "mem_total_bytes": 24684092 * KIB,
    "mem_free_bytes": 22974432 * KIB,
    "mem_available_bytes": 24321652 * KIB,
    "buffers_bytes": 58184 * KIB,
    "cached_bytes": 1461208 * KIB,
    "swap_cached_bytes": 0 * KIB,
    "active_bytes": 374936 * KIB,
    "inactive_bytes": 1157380 * KIB,
    "active_anon_bytes": 1548 * KIB,
    "inactive_anon_bytes": 20232 * KIB,
    "active_file_bytes": 373388 * KIB,
    "inactive_file_bytes": 1137148 * KIB,
    "unevictable_bytes": 14544 * KIB,
    "mlocked_bytes": 13588 * KIB,
    "swap_total_bytes": 0 * KIB,
    "swap_free_bytes": 0 * KIB,
    "zswap_bytes": 0 * KIB,
    "zswapped_bytes": 0 * KIB,
    "dirty_bytes": 216 * KIB,
    "writeback_bytes": 0 * KIB,
    "anon_pages_bytes": 27492 * KIB,
    "mapped_bytes": 16188 * KIB,
    "shmem_bytes": 8856 * KIB,
    "k_reclaimable_bytes": 89712 * KIB,
    "slab_bytes": 114276 * KIB,
    "s_reclaimable_bytes": 89712 * KIB,
    "s_unreclaim_bytes": 24564 * KIB,
    "kernel_stack_bytes": 1436 * KIB,
    "page_tables_bytes": 1956 * KIB,
    "sec_page_tables_bytes": 0 * KIB,
    "nfs_unstable_bytes": 0 * KIB,
    "bounce_bytes": 0 * KIB,
    "writeback_tmp_bytes": 0 * KIB,
    "commit_limit_bytes": 12342044 * KIB,
    "committed_as_bytes": 76140 * KIB,
    "vmalloc_total_bytes": 34359738367 * KIB,
    "vmalloc_used_bytes": 14252 * KIB,
    "vmalloc_chunk_bytes": 0 * KIB,
    "percpu_bytes": 712 * KIB,
    "anon_hugepages_bytes": 0 * KIB,
    "shmem_hugepages_bytes": 0 * KIB,
    "shmem_pmd_mapped_bytes": 0 * KIB,
    "file_hugepages_bytes": 0 * KIB,
    "file_pmd_mapped_bytes": 0 * KIB,
    "balloon_bytes": 0 * KIB,
    "hugepages_total": 0,
    "hugepages_free": 0,
    "hugepages_rsvd": 0,
    "hugepages_surp": 0,
    "hugepagesize_bytes": 2048 * KIB,
    "hugetlb_bytes": 0 * KIB,
    "direct_map4k_bytes": 28672 * KIB,
    "direct_map2m_bytes": 2068480 * KIB,
    "direct_map1g_bytes": 25165824 * KIB,
    "high_total_bytes": None,
    "high_free_bytes": None,
    "low_total_bytes": None,
    "low_free_bytes": None,
    "hardware_corrupted_bytes": None,
    "cma_total_bytes": None,
    "cma_free_bytes": None,
}


def test_whole_record_of_real_capture(fixture_text):
    assert parse_meminfo(fixture_text("proc/meminfo")) == EXPECTED_DEBIAN12


def test_every_known_key_is_present_and_unknown_keys_are_kept(fixture_text):
    parsed = parse_meminfo(fixture_text("proc/meminfo"))
    assert set(MEMINFO_KEYS) <= set(parsed)
    assert parsed["balloon_bytes"] == 0  # Balloon: not in MEMINFO_KEYS, kept
    assert parsed["cma_total_bytes"] is None  # absent is None, never 0


def test_missing_final_newline_and_trailing_spaces():
    assert parse_meminfo("MemTotal:  16 kB  \nHugePages_Total:   3")["hugepages_total"] == 3


def test_old_2_4_style_header_is_skipped():
    text = (
        "        total:    used:    free:  shared: buffers:  cached:\n"
        "Mem:  260579328 136073216 124506112        0  4915200 94064640\n"
        "Swap:        0        0        0\n"
        "MemTotal:         254472 kB\n"
        "MemShared:             0 kB\n"
    )
    parsed = parse_meminfo(text)
    assert parsed["mem_total_bytes"] == 254472 * KIB
    assert parsed["mem_shared_bytes"] == 0
    assert parsed["mem_available_bytes"] is None


def test_malformed_line_raises_parse_error_with_position():
    with pytest.raises(ParseError) as caught:
        parse_meminfo("MemTotal: 16 kB\nMemFree 12 kB\n")
    assert (caught.value.source, caught.value.lineno, caught.value.line) == (
        "meminfo",
        2,
        "MemFree 12 kB",
    )


def test_unknown_unit_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_meminfo("MemTotal: 16 MB\n")


def test_empty_file_is_skipped():
    with pytest.raises(SkipSource):
        parse_meminfo("")
