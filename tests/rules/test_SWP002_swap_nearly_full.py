"""SWP002 swap-nearly-full on the real swap-thrash capture.

The capture's 1.5 GiB swap file stays about half free, so the firing cases raise the threshold
through the rule's setting (the way a user would) above the free share measured here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.swp.swap_nearly_full import swap_nearly_full as RULE


def free_pct(meminfo: pd.DataFrame) -> pd.Series:
    m = meminfo.sort_values("ts")
    return 100.0 * m["swap_free_bytes"] / m["swap_total_bytes"]


def config(threshold: float) -> Config:
    return Config(rule_settings={"SWP002": {"max_free_swap_pct": threshold}})


def test_fires_when_free_swap_is_below_the_threshold_while_swapping_out(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    pct = free_pct(t["meminfo"])
    threshold = float(pct.min()) + 5.0
    result = run(t, [RULE], config(threshold))
    assert result.by_status("error") == ()
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("SWP002", "host", "warning")
    ]
    ev = result.findings[0].evidence
    assert ev["min_free_swap_pct"] == pytest.approx(pct.min(), abs=0.05)
    assert ev["snapshots_below"] == int((pct < threshold).sum())
    total_mib = t["meminfo"]["swap_total_bytes"].max() / 2**20
    assert ev["swap_total_mib"] == pytest.approx(total_mib, abs=0.05)

    # Independently: intervals ending below the threshold with >= 5 pages/s swapped out.
    vm = t["vmstat"].sort_values("ts")
    secs = np.diff(vm["ts"].astype("int64").to_numpy()) / 1e9
    out = np.diff(vm["pswpout"].astype(float).to_numpy()) / secs
    m = t["meminfo"].sort_values("ts")
    low_end = (pct.to_numpy() < threshold)[1:]
    assert ev["swapout_intervals_below"] == int(((out >= 5) & low_end).sum()) > 0
    assert ev["devices"][0]["filename"].endswith(".swap")
    assert m["swap_total_bytes"].iloc[0] > 0


def test_single_snapshot_fires_on_the_level_alone(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    pct = free_pct(t["meminfo"])
    label = t["meminfo"].sort_values("ts").loc[pct.idxmin(), "snapshot"]
    one = {name: df[df["snapshot"] == label] if "snapshot" in df else df for name, df in t.items()}
    result = run(one, [RULE], config(float(pct.min()) + 1.0))
    assert [f.code for f in result.findings] == ["SWP002"]
    ev = result.findings[0].evidence
    assert ev["single_snapshot"] is True
    assert ev["min_free_swap_pct"] == pytest.approx(pct.min(), abs=0.05)


def test_quiet_at_the_default_threshold_and_without_swap(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    assert free_pct(t["meminfo"]).min() > 10.0
    assert run(t, [RULE]).findings == ()
    idle = sample_bundle("healthy-idle").tables
    assert (idle["meminfo"]["swap_total_bytes"] == 0).all()
    result = run(idle, [RULE])
    assert result.status("SWP002").status == "ran" and result.findings == ()
