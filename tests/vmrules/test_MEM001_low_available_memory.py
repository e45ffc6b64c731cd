"""MEM001 low-available-memory on real captures.

This shared 24 GiB host can't be driven near MemAvailable = 0 safely, so the firing case on
real data raises the threshold through the rule's setting, and only the critical case uses a
synthetic level (see its comment).
"""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.mem.low_available_memory import low_available_memory as RULE


def pct(meminfo: pd.DataFrame) -> pd.Series:
    """MemAvailable as a share of MemTotal minus the hugetlb pool (the samples have one)."""
    pool = meminfo["hugepages_total"].astype(float) * meminfo["hugepagesize_bytes"].astype(float)
    return 100.0 * meminfo["mem_available_bytes"] / (meminfo["mem_total_bytes"] - pool)


def test_fires_on_the_memory_leak_capture_with_a_raised_threshold(sample_bundle):
    t = sample_bundle("memory-leak").tables
    m = t["meminfo"].sort_values("ts")
    p = pct(m)
    threshold = float(p.quantile(0.75))  # 3/4 of the snapshots are below it
    cfg = Config(rule_settings={"MEM001": {"min_available_pct": threshold}})
    result = run(t, [RULE], cfg)
    assert result.by_status("error") == ()
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("MEM001", "host", "warning")
    ]
    ev = result.findings[0].evidence
    below = p < threshold
    assert ev["source"] == "MemAvailable"
    assert ev["snapshots_below"] == int(below.sum()) and ev["snapshots"] == len(m)
    assert ev["min_available_mib"] == pytest.approx(m["mem_available_bytes"].min() / 2**20, abs=0.1)
    assert ev["min_available_pct"] == pytest.approx(p.min(), abs=0.01)
    assert ev["first_below"] == m.loc[below, "ts"].min()


def test_estimate_without_memavailable_matches_the_kernel(sample_bundle):
    # A kernel before 3.14 has no MemAvailable: drop the column of a real capture and check
    # that the estimate (MemFree + file LRU + SReclaimable - zone low watermarks from the real
    # zoneinfo) lands within 1% of what this kernel reported.
    t = dict(sample_bundle("memory-leak").tables)
    actual = t["meminfo"]["mem_available_bytes"]
    t["meminfo"] = t["meminfo"].drop(columns=["mem_available_bytes"])
    cfg = Config(rule_settings={"MEM001": {"min_available_pct": 100.0, "min_low_share": 1.0}})
    result = run(t, [RULE], cfg)
    assert [f.code for f in result.findings] == ["MEM001"]
    ev = result.findings[0].evidence
    assert ev["source"] == "estimate" and ev["low_watermark_source"] == "zoneinfo"
    assert ev["min_available_mib"] == pytest.approx(actual.min() / 2**20, rel=0.01)


def test_critical_when_available_memory_nearly_runs_out(sample_bundle):
    # Synthetic level (the only way on this shared host): real healthy-idle rows with
    # MemAvailable set to 3% of MemTotal in every snapshot.
    t = dict(sample_bundle("healthy-idle").tables)
    m = t["meminfo"].copy()
    m["mem_available_bytes"] = (m["mem_total_bytes"] * 0.03).astype("int64")
    t["meminfo"] = m
    result = run(t, [RULE])
    assert [(f.code, str(f.severity)) for f in result.findings] == [("MEM001", "critical")]
    assert result.findings[0].evidence["min_available_pct"] == pytest.approx(3.0, abs=0.01)
    assert result.findings[0].severity_reason


def test_quiet_on_the_idle_host(sample_bundle):
    t = sample_bundle("healthy-idle").tables
    assert pct(t["meminfo"]).min() > 10
    result = run(t, [RULE])
    assert result.status("MEM001").status == "ran" and result.findings == ()


@pytest.mark.root
def test_measured_against_memtotal_minus_the_hugetlb_pool(kernel_setting, live_capture):
    """A live capture with a 1 GiB hugetlb pool: the pool is not available memory, so the
    share is MemAvailable / (MemTotal - pool)."""
    kernel_setting("/proc/sys/vm/nr_hugepages", "512")
    live_capture.start(interval="200ms", count=3)
    t = live_capture.finish().tables
    m = t["meminfo"].sort_values("ts")
    pool = m["hugepages_total"].astype(float) * m["hugepagesize_bytes"].astype(float)
    if pool.iloc[-1] < 512 * 2**21:
        pytest.skip(f"the kernel found only {pool.iloc[-1] / 2**20:.0f} MiB for the pool")
    usable = m["mem_total_bytes"].astype(float) - pool
    share = 100.0 * m["mem_available_bytes"].astype(float) / usable
    cfg = Config(rule_settings={"MEM001": {"min_available_pct": float(share.max()) + 0.5}})
    (finding,) = run(t, [RULE], cfg).findings
    ev = finding.evidence
    assert ev["hugetlb_mib"] == pytest.approx(pool.iloc[-1] / 2**20, abs=0.1)
    assert ev["usable_mib"] == pytest.approx(usable.iloc[-1] / 2**20, abs=0.1)
    assert ev["min_available_pct"] == pytest.approx(share.min(), abs=0.01)
    assert "MemTotal minus the hugetlb pool" in finding.message
