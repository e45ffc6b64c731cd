"""MEM002 process-memory-growth on the real memory-leak capture (leaky-cache, ~10 MiB/s, started
330 s before the capture)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmanalyze.facts import HostFacts
from vmrules.mem.process_memory_growth import process_memory_growth as RULE


def test_fires_on_the_leaking_process_only(sample_bundle):
    t = sample_bundle("memory-leak").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    procs = t["process_samples"]
    leaky = procs[procs["comm"] == "leaky-cache"].sort_values("ts")
    pid = int(leaky["pid"].iloc[0])
    # leaky-cache started 330 s before the capture, longer ago than min_age_s (300 s): a leak
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("MEM002", f"process:{pid}:leaky-cache", "warning")
    ]
    finding = result.findings[0]
    facts = HostFacts.from_tables(t)
    started = facts.process_start(int(leaky["starttime"].iloc[0]))
    age = (procs["ts"].min() - started).total_seconds()
    assert 300 < age < 420, age
    assert finding.evidence["started"] == started.isoformat()
    assert "may be warming up" not in finding.message
    ev = finding.evidence

    # Independent fit of anonymous RSS + swap against time.
    x = (leaky["ts"] - leaky["ts"].iloc[0]).dt.total_seconds().to_numpy()
    y = (leaky["rss_anon_bytes"] + leaky["vm_swap_bytes"]).astype(float).to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert ev["measure"] == "anonymous RSS + swap"
    assert ev["slope_mib_per_s"] == pytest.approx(slope / 2**20, abs=1e-3)
    assert 8 <= ev["slope_mib_per_s"] <= 12  # the scenario writes 10 MiB/s
    assert ev["r2"] == pytest.approx(r2, abs=1e-4) and ev["r2"] > 0.99
    assert ev["samples"] == len(leaky)
    assert ev["last_mib"] == pytest.approx(y[-1] / 2**20, abs=0.1)
    available = t["meminfo"].sort_values("ts")["mem_available_bytes"].iloc[-1]
    assert ev["exhaust_seconds"] == pytest.approx(available / slope, rel=1e-3)


def test_old_process_growing_is_a_warning_and_young_one_info(sample_bundle):
    """The same real leak, as a young process: with min_age_s above its age (330 s), or with
    the boot time moved so that it started inside the capture, it is info. Without a boot
    time its age is unknown; it was in the first snapshot, so it stays a warning."""
    t = dict(sample_bundle("memory-leak").tables)
    config = Config(rule_settings={"MEM002": {"min_age_s": 7200.0}})
    assert [str(f.severity) for f in run(t, [RULE], config).findings] == ["info"]
    host = t["host"].copy()
    host["boot_time"] = host["boot_time"] + pd.Timedelta(seconds=345)  # started 15 s in
    (finding,) = run({**t, "host": host}, [RULE]).findings
    assert str(finding.severity) == "info" and "into the capture" in finding.message
    host["boot_time"] = pd.NaT
    assert [str(f.severity) for f in run({**t, "host": host}, [RULE]).findings] == ["warning"]


def test_total_rss_alone_is_info(sample_bundle):
    """Without RssAnon (a kernel before 4.5, or no status file), RSS counts shared memory."""
    t = dict(sample_bundle("memory-leak").tables)
    host = t["host"].copy()
    host["boot_time"] = host["boot_time"] - pd.Timedelta(hours=1)
    procs = t["process_samples"].copy()
    procs["rss_anon_bytes"] = pd.NA
    (finding,) = run({**t, "host": host, "process_samples": procs}, [RULE]).findings
    assert finding.evidence["measure"] == "RSS"
    assert str(finding.severity) == "info" and "shared memory" in finding.severity_reason


@pytest.mark.parametrize("name", ["healthy-idle", "oom-kill", "pagecache-thrash"])
def test_quiet_where_nothing_grows_for_the_whole_window(sample_bundle, name):
    # healthy-idle: nothing runs; oom-kill: each oom-hog grows fast but is killed after a few
    # seconds (too little of the window); pagecache-thrash: page cache, not anonymous memory.
    result = run(sample_bundle(name).tables, [RULE])
    assert result.status("MEM002").status == "ran"
    assert result.findings == ()


def test_quiet_on_a_single_snapshot(sample_bundle):
    t = dict(sample_bundle("memory-leak").tables)
    t["process_samples"] = t["process_samples"][t["process_samples"]["snapshot"] == 10]
    assert run(t, [RULE]).findings == ()


@pytest.mark.parametrize(
    "name", ["memory-leak", "thp-always-postgres", "swap-thrash", "oom-kill", "overcommit"]
)
def test_fitting_all_at_once_keeps_every_process_one_fit_at_a_time_reports(sample_bundle, name):
    """candidates() only saves time: with low bars (many processes pass), it keeps exactly the
    processes that fit() run on every process, one by one, would keep."""
    from vmrules.mem.process_memory_growth import candidates, fit

    procs = sample_bundle(name).tables["process_samples"].sort_values("ts", kind="stable")
    window = float((procs["ts"].max() - procs["ts"].min()).total_seconds())
    for min_growth, min_r2 in ((64 << 10, 0.3), (1 << 20, 0.5), (64 << 20, 0.9), (0.0, 0.0)):
        bar = {"min_samples": 3, "min_span": 0.5 * window}
        one_by_one = set()
        for key, proc in procs.groupby(["pid", "starttime"], sort=False):
            span = (proc["ts"].iloc[-1] - proc["ts"].iloc[0]).total_seconds()
            if len(proc) < bar["min_samples"] or span < bar["min_span"]:
                continue
            g = fit((int(key[0]), int(key[1])), proc)
            if g and g.slope_bytes_per_s * g.seconds >= min_growth and g.r2 >= min_r2:
                one_by_one.add((g.pid, g.starttime))
        kept = procs[candidates(procs, **bar, min_growth=min_growth, min_r2=min_r2)]
        at_once = {(int(p), int(s)) for p, s in zip(kept["pid"], kept["starttime"], strict=True)}
        if min_growth == 0.0:  # every process with a line: flat ones sit on the bar
            assert one_by_one <= at_once and len(one_by_one) > 5, name
        else:
            assert at_once == one_by_one, (name, min_growth, min_r2)
