"""SWP004 compressed-swap-thrashing on the real zswap and zram captures, quiet on disk swap."""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.swp.compressed_swap_thrashing import compressed_swap_thrashing as RULE

FLOOR = RULE.setting("min_pages_per_s").default


def both_intervals(vmstat: pd.DataFrame, out: str, into: str) -> pd.DataFrame:
    """Intervals where both counters rose at FLOOR pages/s or more (plain diff)."""
    v = vmstat.sort_values("ts").reset_index(drop=True)
    d = pd.DataFrame(
        {
            "seconds": v["ts"].diff().dt.total_seconds(),
            "out": v[out].diff(),
            "in": v[into].diff(),
        }
    ).iloc[1:]
    return d[(d["out"] / d["seconds"] >= FLOOR) & (d["in"] / d["seconds"] >= FLOOR)]


def test_zswap_thrashing(sample_bundle):
    t = sample_bundle("zswap-thrash").tables
    result = run(t, [RULE])
    (finding,) = result.findings
    assert finding.subject == "host"
    assert finding.evidence["kind"] == "zswap"
    both = both_intervals(t["vmstat"], "zswpout", "zswpin")
    assert finding.evidence["zswpout"] == both["out"].sum()
    assert finding.evidence["zswpin"] == both["in"].sum()
    assert finding.evidence["in_pages_per_s"] == pytest.approx(
        both["in"].sum() / both["seconds"].sum(), abs=0.1
    )
    # the pool as /proc/meminfo showed it, and the swap file behind it barely used
    m = t["meminfo"]
    rows = m[(m["ts"] >= finding.start) & (m["ts"] <= finding.end)]
    assert finding.evidence["zswap_max_bytes"] == rows["zswap_bytes"].max()
    assert finding.evidence["zswapped_max_bytes"] == rows["zswapped_bytes"].max()
    assert finding.evidence["compression_ratio"] > 1
    assert finding.evidence["disk_swap"] == ["/var/tmp/vmtriage-zswap-thrash.swap"]
    assert finding.evidence["pswpout"] < finding.evidence["zswpout"] / 10
    assert "zswap thrashing" in finding.message and "holding" in finding.message
    assert finding.severity in (Severity.WARNING, Severity.CRITICAL)


def test_zram_thrashing(sample_bundle):
    t = sample_bundle("zram-thrash").tables
    (finding,) = run(t, [RULE]).findings
    assert finding.evidence["kind"] == "zram"
    swaps = t["swaps"]
    assert set(swaps["filename"]) == {finding.evidence["zram_devices"]["filename"].iloc[0]}
    assert finding.evidence["disk_swap"] == []
    both = both_intervals(t["vmstat"], "pswpout", "pswpin")
    assert finding.evidence["pswpin"] == both["in"].sum()
    assert finding.evidence["zswpout"] == 0
    device = finding.evidence["zram_devices"].iloc[0]
    assert device["used_max_bytes"] == swaps["used_bytes"].max()
    assert str(device["filename"]) in finding.message
    # the device's own mm_stat: what it stored and how small it made it
    zram = t["zram"]
    rows = zram[zram["device"] == str(device["filename"]).rsplit("/", 1)[-1]]
    peak = rows.loc[rows["orig_data_size_bytes"].idxmax()]
    c = finding.evidence["zram_compression"][str(device["filename"])]
    assert c["stored_bytes"] == peak["orig_data_size_bytes"] > 100 * 2**20
    assert c["compressed_bytes"] == peak["compr_data_size_bytes"]
    assert c["compression_ratio"] == round(c["stored_bytes"] / c["compressed_bytes"], 2) > 1
    assert "stored in" in finding.message


@pytest.mark.parametrize("bundle", ["swap-thrash", "healthy-idle", "pagecache-thrash"])
def test_quiet_without_compressed_swap(sample_bundle, bundle):
    """swap-thrash thrashes a swap file with zswap off: SWP001's episode, not this rule's."""
    t = sample_bundle(bundle).tables
    result = run(t, [RULE])
    assert result.status("SWP004").status == "ran"
    assert result.findings == ()
    v = t["vmstat"]
    assert v["zswpout"].max() - v["zswpout"].min() < FLOOR


def test_zram_next_to_disk_swap_is_not_counted_as_zram(sample_bundle):
    """With a disk swap area as well, pswp* cannot be attributed to zram: only zswp* count."""
    t = dict(sample_bundle("zram-thrash").tables)
    disk = t["swaps"].assign(filename="/swapfile", type="file", priority=-2, used_bytes=0)
    t["swaps"] = pd.concat([t["swaps"], disk], ignore_index=True)
    assert run(t, [RULE]).findings == ()


def test_skips_kernels_without_zswap_counters_or_zram(sample_bundle):
    t = dict(sample_bundle("swap-thrash").tables)
    t["vmstat"] = t["vmstat"].drop(columns=["zswpin", "zswpout", "zswpwb"])
    status = run(t, [RULE]).status("SWP004")
    assert status.status == "skipped" and "5.19" in status.reason
