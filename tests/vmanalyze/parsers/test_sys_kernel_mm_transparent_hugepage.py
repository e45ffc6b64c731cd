"""THP settings and counters on a real 6.18 capture (with mTHP), RHEL 6 and pre-4.6 formats."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers import match_sources
from vmanalyze.parsers.sys_kernel_mm_transparent_hugepage import (
    parse_thp_number,
    parse_thp_setting,
    thp_size_from_path,
)

THP = "sys/kernel/mm/transparent_hugepage"

# For every [selected] file of the fixture: the bracketed word (grep -o '\[[^]]*\]') and the
# words of the file (tr -d '[]').
EXPECTED_SETTINGS = {
    "enabled": {"selected": "madvise", "options": ["always", "madvise", "never"]},
    "defrag": {
        "selected": "madvise",
        "options": ["always", "defer", "defer+madvise", "madvise", "never"],
    },
    "shmem_enabled": {
        "selected": "never",
        "options": ["always", "within_size", "advise", "never", "deny", "force"],
    },
    "hugepages-1024kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-128kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-16kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-2048kB/enabled": {
        "selected": "inherit",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-256kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-32kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-512kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-64kB/enabled": {
        "selected": "never",
        "options": ["always", "inherit", "madvise", "never"],
    },
    "hugepages-1024kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-128kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-16kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-2048kB/shmem_enabled": {
        "selected": "inherit",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-256kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-32kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-512kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-64kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
    "hugepages-8kB/shmem_enabled": {
        "selected": "never",
        "options": ["always", "inherit", "within_size", "advise", "never"],
    },
}

# cat khugepaged/* use_zero_page hpage_pmd_size shrink_underused
EXPECTED_NUMBERS = {
    "khugepaged/alloc_sleep_millisecs": 60000,
    "khugepaged/defrag": 1,
    "khugepaged/full_scans": 0,
    "khugepaged/max_ptes_none": 511,
    "khugepaged/max_ptes_shared": 256,
    "khugepaged/max_ptes_swap": 64,
    "khugepaged/pages_collapsed": 0,
    "khugepaged/pages_to_scan": 4096,
    "khugepaged/scan_sleep_millisecs": 10000,
    "use_zero_page": 1,
    "hpage_pmd_size": 2097152,
    "shrink_underused": 1,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SETTINGS))
def test_settings_of_real_capture(fixture_text, name):
    assert parse_thp_setting(fixture_text(f"{THP}/{name}")) == EXPECTED_SETTINGS[name]


def test_mthp_inherit_and_size(fixture_text):
    assert EXPECTED_SETTINGS["hugepages-2048kB/enabled"]["selected"] == "inherit"
    assert thp_size_from_path(f"{THP}/hugepages-2048kB/enabled") == 2 * 1024 * 1024
    assert thp_size_from_path(f"{THP}/enabled") is None


@pytest.mark.parametrize("name", sorted(EXPECTED_NUMBERS))
def test_numbers_of_real_capture(fixture_text, name):
    assert parse_thp_number(fixture_text(f"{THP}/{name}")) == EXPECTED_NUMBERS[name]


def test_registry_routes_khugepaged_defrag_to_the_setting_parser():
    assert match_sources(f"{THP}/khugepaged/defrag") == ["sys_kernel_mm_transparent_hugepage"]
    assert match_sources(f"{THP}/khugepaged/pages_to_scan") == [
        "sys_kernel_mm_transparent_hugepage_counters"
    ]
    assert match_sources(f"{THP}/hugepages-64kB/stats/anon_fault_alloc") == [
        "sys_kernel_mm_transparent_hugepage_counters"
    ]


def test_mthp_stats_counters_parse(debian12):
    stats = sorted((debian12 / THP / "hugepages-64kB" / "stats").iterdir())
    assert len(stats) == 17  # ls hugepages-64kB/stats | wc -l
    assert all(parse_thp_number(path.read_text()) >= 0 for path in stats)


def test_upstream_numeric_khugepaged_defrag(fixture_text):
    assert parse_thp_setting(fixture_text(f"{THP}/khugepaged/defrag")) == {
        "selected": "1",
        "options": [],
    }


def test_rhel6_redhat_transparent_hugepage_and_pre_4_6_defrag():
    # /sys/kernel/mm/redhat_transparent_hugepage/{enabled,defrag,khugepaged/defrag} on RHEL 6
    assert match_sources("sys/kernel/mm/redhat_transparent_hugepage/enabled") == [
        "sys_kernel_mm_transparent_hugepage"
    ]
    assert parse_thp_setting("[always] madvise never\n")["selected"] == "always"
    assert parse_thp_setting("[yes] no\n") == {"selected": "yes", "options": ["yes", "no"]}


def test_errors():
    with pytest.raises(ParseError):
        parse_thp_setting("[always] [never]\n")
    with pytest.raises(ParseError):
        parse_thp_setting("always [never\n")
    with pytest.raises(ParseError):
        parse_thp_number("lots\n")
    with pytest.raises(SkipSource):
        parse_thp_setting("")
