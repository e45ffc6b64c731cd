"""HUNG001 hung-tasks-under-pressure on the real hung-task capture: a writer blocked on a frozen
file system while a memory cgroup swap-thrashed (sample-bundles/README.md)."""

from __future__ import annotations

import pandas as pd
from vmanalyze.engine import run
from vmanalyze.rates import counter_rates
from vmanalyze.rule import Severity
from vmrules.hung.hung_tasks_under_pressure import hung_tasks_under_pressure as RULE
from vmrules.oom.oom_kills import log_records
from vmrules.psi.memory_pressure_stalls import stall_shares


def hung(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return log_records(t["oom_events"], ("hung_task",), t["samples"])


def test_fires_with_the_pressure_of_the_blocked_time(sample_bundle):
    t = sample_bundle("hung-task").tables
    records = hung(t)
    inside = records[~records["before_window"]]
    assert len(inside) >= 1
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    [f] = [f for f in result.findings if f.severity == Severity.WARNING]
    ev = f.evidence
    assert ev["hung_tasks"] == len(inside)
    assert {(r["comm"], r["pid"]) for r in ev["tasks"]} == set(
        zip(inside["victim_name"], inside["victim_pid"].astype(int), strict=True)
    )
    # the signals are those of the intervals the task was blocked in
    start = (inside["at"] - pd.to_timedelta(inside["blocked_seconds"].astype(float), "s")).min()
    end = inside["at"].max()
    shares = stall_shares(t["pressure_memory"])
    during = shares[(shares["ts"] >= start) & (shares["ts_start"] <= end)]
    assert ev["psi_some_pct_peak"] == round(during["some_pct"].max(), 1) >= 10
    swap = counter_rates(t["vmstat"], ["pswpin", "pswpout"])
    swap = swap[(swap["ts"] >= start) & (swap["ts_start"] <= end)]
    peak = (swap["pswpin_per_s"].fillna(0) + swap["pswpout_per_s"].fillna(0)).max()
    assert ev["swap_pages_per_s_peak"] == round(peak, 1)
    assert "mem_available_pct_min" not in ev  # the host had memory: the cgroup swapped
    assert f.message.startswith(f"{len(inside)} hung-task reports while memory was under pressure")
    assert "sh:" in f.message and "PSI memory some up to" in f.message


def test_without_pressure_signals_it_is_info(sample_bundle):
    t = dict(sample_bundle("hung-task").tables)
    # MemAvailable stayed high: with only meminfo the blocked time is covered and calm
    del t["pressure_memory"], t["vmstat"]
    result = run(t, [RULE])
    assert {str(f.severity) for f in result.findings} == {"info"}
    calm = [f for f in result.findings if "no memory pressure" in f.message]
    assert len(calm) == 1 and calm[0].evidence["hung_tasks"] == len(
        hung(t)[lambda r: ~r["before_window"]]
    )


def test_single_snapshot_and_no_hung_tasks(sample_bundle):
    t = sample_bundle("hung-task").tables
    last = t["samples"]["snapshot"].max()
    one = {
        n: df[df["snapshot"] == last] if "snapshot" in df and n != "oom_events" else df
        for n, df in t.items()
    }
    result = run(one, [RULE])
    assert [str(f.severity) for f in result.findings] == ["info"]
    assert "a single snapshot" in result.findings[0].message
    for name in ("healthy-idle", "swap-thrash"):
        quiet = run(sample_bundle(name).tables, [RULE])
        assert quiet.status("HUNG001").status == "ran" and quiet.findings == ()
