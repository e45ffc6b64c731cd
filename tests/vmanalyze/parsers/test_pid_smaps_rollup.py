"""smaps_rollup parser on a real capture, cross-checked with the same process's smaps."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.pid_smaps import parse_pid_smaps
from vmanalyze.parsers.pid_smaps_rollup import parse_pid_smaps_rollup

KIB = 1024

# cat proc/5399/smaps_rollup
EXPECTED_5399 = {
    "rss_bytes": 13820 * KIB,
    "pss_bytes": 9811 * KIB,
    "pss_dirty_bytes": 7012 * KIB,
    "pss_anon_bytes": 7012 * KIB,
    "pss_file_bytes": 2799 * KIB,
    "pss_shmem_bytes": 0,
    "shared_clean_bytes": 6744 * KIB,
    "shared_dirty_bytes": 0,
    "private_clean_bytes": 64 * KIB,
    "private_dirty_bytes": 7012 * KIB,
    "referenced_bytes": 13820 * KIB,
    "anonymous_bytes": 7012 * KIB,
    "ksm_bytes": 0,
    "lazy_free_bytes": 0,
    "anon_hugepages_bytes": 0,
    "shmem_pmd_mapped_bytes": 0,
    "file_pmd_mapped_bytes": 0,
    "shared_hugetlb_bytes": 0,
    "private_hugetlb_bytes": 0,
    "swap_bytes": 0,
    "swap_pss_bytes": 0,
    "locked_bytes": 0,
}


def test_whole_record_of_real_capture(fixture_text):
    assert parse_pid_smaps_rollup(fixture_text("proc/5399/smaps_rollup")) == EXPECTED_5399


def test_rollup_rss_equals_sum_of_smaps(fixture_text):
    # awk '/^Rss:/ {r += $2} END {print r}' proc/5399/smaps -> 13820
    mappings = parse_pid_smaps(fixture_text("proc/5399/smaps"))
    assert sum(m["rss_bytes"] for m in mappings) == 13820 * KIB == EXPECTED_5399["rss_bytes"]


def test_older_rollup_without_pss_split_is_none():
    parsed = parse_pid_smaps_rollup(
        "00400000-7fff ---p 00000000 00:00 0   [rollup]\nRss: 29948 kB\nSwap: 1940 kB\n"
    )
    assert parsed["rss_bytes"] == 29948 * KIB and parsed["pss_anon_bytes"] is None


def test_errors():
    with pytest.raises(SkipSource):  # a kernel thread's smaps_rollup is empty
        parse_pid_smaps_rollup("")
    with pytest.raises(ParseError):
        parse_pid_smaps_rollup("[rollup]\nRss 12 kB\n")
