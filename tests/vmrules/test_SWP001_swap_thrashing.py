"""SWP001 swap-thrashing on the real swap-thrash capture (and quiet on the others)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.swp.swap_thrashing import swap_thrashing as RULE


def intervals(vmstat: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Per interval deltas and seconds, computed here with numpy (independent of the rule)."""
    vm = vmstat.sort_values("ts")
    secs = np.diff(vm["ts"].astype("int64").to_numpy()) / 1e9
    out = pd.DataFrame({"secs": secs, "ts": vm["ts"].to_numpy()[1:]})
    for col in cols:
        out[col] = np.diff(vm[col].astype(float).to_numpy())
    return out


def test_fires_on_swap_thrash_with_rates_psi_and_the_swapping_process(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("SWP001", "host", "warning")
    ]
    ev = result.findings[0].evidence

    d = intervals(t["vmstat"], "pswpin", "pswpout")
    both = (d["pswpin"] / d["secs"] >= 5) & (d["pswpout"] / d["secs"] >= 5)
    assert ev["active_intervals"] == int(both.sum()) and ev["intervals"] == len(d)
    assert ev["active_share"] == pytest.approx(d["secs"][both].sum() / d["secs"].sum(), abs=1e-3)
    assert ev["active_share"] >= 0.3
    assert ev["pswpin_pages"] == int(d["pswpin"][both].sum())
    assert ev["pswpout_pages"] == int(d["pswpout"][both].sum())
    mean_out = d["pswpout"][both].sum() / d["secs"][both].sum()
    assert ev["pswpout_per_s_mean"] == pytest.approx(mean_out, abs=0.1)
    assert ev["pswpout_per_s_peak"] == pytest.approx((d["pswpout"] / d["secs"])[both].max(), 0.1)

    # PSI over the same intervals, from the cumulative microsecond totals.
    p = intervals(t["pressure_memory"], "some_total_us", "full_total_us")
    hot = p[p["ts"].isin(set(d["ts"][both]))]
    some = 100 * hot["some_total_us"].sum() / 1e6 / hot["secs"].sum()
    assert ev["psi_some_pct"] == pytest.approx(some, abs=0.1)
    assert ev["psi_some_pct"] > 1

    # The scenario's workload is the process whose VmSwap grew.
    top = ev["top_processes"]
    assert top.iloc[0]["comm"] == "swap-cycler"
    cycler = t["process_samples"][t["process_samples"]["pid"] == top.iloc[0]["pid"]]
    swap = cycler["vm_swap_bytes"].dropna()
    assert top.iloc[0]["vm_swap_max_mib"] == pytest.approx(swap.max() / 2**20, abs=0.1)
    assert "swap-cycler" in result.findings[0].message


@pytest.mark.parametrize("name", ["healthy-idle", "pagecache-thrash", "memory-leak"])
def test_quiet_without_swap_traffic(sample_bundle, name):
    t = sample_bundle(name).tables
    vm = t["vmstat"].sort_values("ts")
    assert vm["pswpout"].iloc[-1] - vm["pswpout"].iloc[0] == 0
    result = run(t, [RULE])
    assert result.status("SWP001").status == "ran"
    assert result.findings == ()


def test_share_setting_is_honoured(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    d = intervals(t["vmstat"], "pswpin", "pswpout")
    both = (d["pswpin"] / d["secs"] >= 5) & (d["pswpout"] / d["secs"] >= 5)
    share = d["secs"][both].sum() / d["secs"].sum()
    above = Config(rule_settings={"SWP001": {"min_active_share": min(share + 0.05, 1.0)}})
    assert run(t, [RULE], above).findings == ()


def test_skipped_on_one_snapshot(sample_bundle):
    t = dict(sample_bundle("swap-thrash").tables)
    t["vmstat"] = t["vmstat"].iloc[[20]]
    result = run(t, [RULE])
    assert result.status("SWP001").status == "skipped"
    assert "two timestamped snapshots" in result.status("SWP001").reason


def test_skipped_without_timestamps(sample_bundle):
    # A copied /proc (a sosreport) has no sample times: two snapshots, no rates.
    t = dict(sample_bundle("swap-thrash").tables)
    vm = t["vmstat"].iloc[[10, 30]].copy()
    vm["ts"] = None
    t["vmstat"] = vm
    result = run(t, [RULE])
    assert result.status("SWP001").status == "skipped"
    assert "timestamped" in result.status("SWP001").reason


def test_counts_zswap_traffic(sample_bundle):
    """The real swap-thrash capture as a zswap host counts it: every page that went to the
    swap device goes to the compressed pool instead (mm/page_io.c counts zswpout/zswpin and
    not pswpout/pswpin for those), so pswp* stay flat."""
    t = dict(sample_bundle("swap-thrash").tables)
    device = run(t, [RULE]).findings[0].evidence
    vm = t["vmstat"].copy()
    vm["zswpin"], vm["zswpout"] = vm["pswpin"], vm["pswpout"]
    vm["pswpin"] = vm["pswpout"] = vm["pswpin"].iloc[0]
    (finding,) = run({**t, "vmstat": vm}, [RULE]).findings
    ev = finding.evidence
    assert (ev["pswpin_pages"], ev["pswpout_pages"]) == (0, 0)
    assert ev["zswpin_pages"] == device["pswpin_pages"] > 0
    assert ev["zswpout_pages"] == device["pswpout_pages"] > 0
    assert ev["swapout_per_s_mean"] == device["swapout_per_s_mean"] == device["pswpout_per_s_mean"]
    assert ev["active_intervals"] == device["active_intervals"]
    assert "zswap" in finding.message
