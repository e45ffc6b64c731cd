"""PSI001 memory-pressure-stalls on the real swap-thrash capture (PSI totals, then avg60)."""

from __future__ import annotations

import numpy as np
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.psi.memory_pressure_stalls import memory_pressure_stalls as RULE


def shares(pressure):
    p = pressure.sort_values("ts")
    secs = np.diff(p["ts"].astype("int64").to_numpy()) / 1e9
    some = np.diff(p["some_total_us"].astype(float).to_numpy())
    full = np.diff(p["full_total_us"].astype(float).to_numpy())
    return secs, some, full


def test_fires_on_swap_thrash_from_total_deltas(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    assert [(f.code, f.subject) for f in result.findings] == [("PSI001", "host")]
    ev = result.findings[0].evidence

    secs, some, full = shares(t["pressure_memory"])
    some_pct = np.clip(100 * some / 1e6 / secs, 0, 100)
    full_pct = np.clip(100 * full / 1e6 / secs, 0, 100)
    stalled = (some_pct >= 10) | (full_pct >= 5)
    assert ev["stalled_intervals"] == int(stalled.sum()) and ev["intervals"] == len(secs)
    assert ev["stalled_share"] == pytest.approx(secs[stalled].sum() / secs.sum(), abs=1e-3)
    assert ev["stalled_share"] >= 0.3
    assert ev["some_pct"] == pytest.approx(
        100 * some[stalled].sum() / 1e6 / secs[stalled].sum(), abs=0.05
    )
    assert ev["full_pct"] == pytest.approx(
        100 * full[stalled].sum() / 1e6 / secs[stalled].sum(), abs=0.05
    )
    assert ev["window_some_pct"] == pytest.approx(100 * some.sum() / 1e6 / secs.sum(), abs=0.05)
    # the peak: the stalled interval with the most `some`, among intervals at least half the
    # median length (the milliseconds before a bundle's end snapshot don't count)
    long_enough = stalled & (secs >= np.median(secs) / 2)
    assert ev["peak_some_pct"] == pytest.approx(some_pct[long_enough].max(), abs=0.05)
    expected = "critical" if ev["full_pct"] >= 20 else "warning"
    assert str(result.findings[0].severity) == expected


def test_single_snapshot_uses_the_kernel_avg60(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    p = t["pressure_memory"]
    row = p.loc[p["some_avg60"].idxmax()]
    one = dict(t)
    one["pressure_memory"] = p[p["snapshot"] == row["snapshot"]]
    threshold = min(float(row["some_avg60"]) - 0.01, 10.0)
    cfg = Config(rule_settings={"PSI001": {"min_some_pct": threshold}})
    result = run(one, [RULE], cfg)
    assert [f.code for f in result.findings] == ["PSI001"]
    ev = result.findings[0].evidence
    assert ev["single_snapshot"] is True
    assert ev["some_avg60"] == pytest.approx(row["some_avg60"], abs=0.01)


@pytest.mark.parametrize("name", ["healthy-idle", "memory-leak", "pagecache-thrash"])
def test_quiet_without_memory_stalls(sample_bundle, name):
    t = sample_bundle(name).tables
    secs, some, _ = shares(t["pressure_memory"])
    assert (100 * some / 1e6 / secs).max() < 10
    result = run(t, [RULE])
    assert result.status("PSI001").status == "ran" and result.findings == ()
