"""Per-second rates from cumulative counters, on real data and on the reset/reuse edge cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from vmanalyze.dataset import parse
from vmanalyze.rates import counter_rates


def test_rates_of_a_real_bundle(live_bundle: Path) -> None:
    ds = parse(str(live_bundle))
    vm = ds.vmstat.sort_values("ts")
    rates = counter_rates(vm, ["pgfault", "pgmajfault"])
    assert len(rates) == len(vm) - 1
    expected = (vm["pgfault"].iloc[1] - vm["pgfault"].iloc[0]) / (
        vm["ts"].iloc[1] - vm["ts"].iloc[0]
    ).total_seconds()
    assert rates["pgfault_per_s"].iloc[0] == expected
    assert (rates["pgfault_per_s"] >= 0).all()
    per_proc = counter_rates(ds.pid_stat, ["minflt"], by=["pid", "starttime"])
    assert set(per_proc["pid"]) <= set(ds.pid_stat["pid"])
    assert per_proc["minflt_per_s"].min() >= 0


def test_counter_reset_gives_null_and_pid_reuse_starts_a_new_series() -> None:
    # Edge cases a live host will not produce on demand: a reboot and a recycled pid.
    ts = pd.to_datetime([0, 1, 2, 0, 1], unit="s", utc=True)
    df = pd.DataFrame(
        {
            "pid": [7, 7, 7, 7, 7],
            "starttime": [100, 100, 100, 900, 900],
            "ts": ts,
            "majflt": [10, 30, 5, 1000, 1010],
        }
    )
    out = counter_rates(df, ["majflt"], by=["pid", "starttime"])
    assert out["majflt_per_s"].iloc[0] == 20.0
    assert pd.isna(out["majflt_per_s"].iloc[1])  # 30 -> 5: reset, not -25/s
    assert out["majflt_per_s"].iloc[2] == 10.0  # the new process (starttime 900)
    assert len(out) == 3
