"""KSM files on a real 6.18 capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.sys_kernel_mm_ksm import parse_sys_kernel_mm_ksm

# grep . sys/kernel/mm/ksm/*; advisor_mode is '[none] scan-time'.
EXPECTED = {
    "advisor_max_cpu": 70,
    "advisor_max_pages_to_scan": 30000,
    "advisor_min_pages_to_scan": 500,
    "advisor_mode": "none",
    "advisor_target_scan_time": 200,
    "full_scans": 0,
    "general_profit": 0,
    "ksm_zero_pages": 0,
    "max_page_sharing": 256,
    "merge_across_nodes": 1,
    "pages_scanned": 0,
    "pages_shared": 0,
    "pages_sharing": 0,
    "pages_skipped": 0,
    "pages_to_scan": 100,
    "pages_unshared": 0,
    "pages_volatile": 0,
    "run": 0,
    "sleep_millisecs": 20,
    "smart_scan": 1,
    "stable_node_chains": 0,
    "stable_node_chains_prune_millisecs": 2000,
    "stable_node_dups": 0,
    "use_zero_pages": 0,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_files_of_real_capture(fixture_text, name):
    assert parse_sys_kernel_mm_ksm(fixture_text(f"sys/kernel/mm/ksm/{name}")) == EXPECTED[name]


def test_negative_profit_and_nul_padding():
    assert parse_sys_kernel_mm_ksm("-4096\n") == -4096
    assert parse_sys_kernel_mm_ksm("0\n" + "\x00" * 100) == 0


def test_errors():
    with pytest.raises(ParseError):
        parse_sys_kernel_mm_ksm("scan-time\n")
    with pytest.raises(SkipSource):
        parse_sys_kernel_mm_ksm("")
