"""smaps parser on a real capture of bash."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.pid_smaps import parse_pid_smaps

KIB = 1024


def test_first_mapping_whole_record(fixture_text):
    first = parse_pid_smaps(fixture_text("proc/3007/smaps"))[0]
    # sed -n 1,26p proc/3007/smaps
    assert first == {
        "start": 0x55C2C2F35000,
        "end": 0x55C2C2F64000,
        "perms": "r--p",
        "offset": 0,
        "dev": "fe:00",
        "inode": 260104,
        "pathname": "/usr/bin/bash",
        "size_bytes": 188 * KIB,
        "kernel_page_size_bytes": 4 * KIB,
        "mmu_page_size_bytes": 4 * KIB,
        "rss_bytes": 188 * KIB,
        "pss_bytes": 31 * KIB,
        "pss_dirty_bytes": 0,
        "shared_clean_bytes": 188 * KIB,
        "shared_dirty_bytes": 0,
        "private_clean_bytes": 0,
        "private_dirty_bytes": 0,
        "referenced_bytes": 188 * KIB,
        "anonymous_bytes": 0,
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
        "thp_eligible": 0,
        "protection_key": 0,
        "vm_flags": ["rd", "mr", "mw", "me"],
    }


def test_totals_match_awk(fixture_text):
    mappings = parse_pid_smaps(fixture_text("proc/3007/smaps"))
    # awk '/^[0-9a-f]+-/ {m++} /^Rss:/ {r+=$2} /^Pss:/ {p+=$2}': 44 mappings, 4100 kB, 993 kB
    assert len(mappings) == 44
    assert sum(m["rss_bytes"] for m in mappings) == 4100 * KIB
    assert sum(m["pss_bytes"] for m in mappings) == 993 * KIB


def test_kernel_thread_is_empty(fixture_text):
    assert parse_pid_smaps(fixture_text("proc/45/smaps")) == []


def test_errors():
    with pytest.raises(ParseError):
        parse_pid_smaps("Rss: 4 kB\n")  # a value before any mapping header
    with pytest.raises(ParseError):
        parse_pid_smaps("00400000-00401000 r--p 00000000 08:01 12 /bin/x\nRss: four kB\n")
