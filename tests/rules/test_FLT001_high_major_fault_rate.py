"""FLT001 high-major-fault-rate on the real page-cache and swap thrashing captures."""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.flt.high_major_fault_rate import high_major_fault_rate as RULE

THRESHOLD = RULE.setting("min_majflt_per_s").default


def heavy_intervals(vmstat: pd.DataFrame) -> pd.DataFrame:
    """Intervals between consecutive vmstat snapshots at or above the threshold (plain diff)."""
    v = vmstat.sort_values("ts").reset_index(drop=True)
    d = v.drop(columns=["snapshot", "ts"]).diff()
    d["seconds"] = v["ts"].diff().dt.total_seconds()
    d["ts"] = v["ts"]
    d = d.iloc[1:]
    return d[d["pgmajfault"] / d["seconds"] >= THRESHOLD]


def top_process(ps: pd.DataFrame, ends: set) -> tuple[int, str]:
    ps = ps.sort_values("ts")
    ps = ps.assign(delta=ps.groupby(["pid", "starttime"])["majflt"].diff())
    per = ps[ps["ts"].isin(ends)].groupby(["pid", "comm"])["delta"].sum()
    pid, comm = per.idxmax()
    return int(pid), str(comm)


@pytest.mark.parametrize(
    ("bundle", "cause", "comm"),
    [
        ("pagecache-thrash", "page-cache refaults", "mmap-scanner"),
        ("swap-thrash", "swap-in", "swap-cycler"),
    ],
)
def test_fires_with_the_cause_and_the_faulting_process(sample_bundle, bundle, cause, comm):
    t = sample_bundle(bundle).tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    (finding,) = result.findings
    assert (finding.code, finding.subject) == ("FLT001", "host")

    heavy = heavy_intervals(t["vmstat"])
    mean = heavy["pgmajfault"].sum() / heavy["seconds"].sum()
    assert finding.evidence["majflt_per_s"] == pytest.approx(mean, abs=0.1)
    assert finding.evidence["majflt_pages"] == heavy["pgmajfault"].sum()
    assert finding.evidence["file_refault_pages"] == heavy["workingset_refault_file"].sum()
    assert finding.evidence["cause"] == cause
    expected = Severity.CRITICAL if mean >= RULE.setting("critical_majflt_per_s").default else None
    assert finding.severity is (expected or Severity.WARNING)

    pid, name = top_process(t["process_samples"], set(heavy["ts"]))
    assert name == comm
    top = finding.evidence["top_processes"]
    assert (int(top["pid"].iloc[0]), top["comm"].iloc[0]) == (pid, comm)
    assert f"{comm} pid {pid}" in finding.message


def test_quiet_without_major_faults(sample_bundle):
    for name in ("healthy-idle", "overcommit", "memory-leak"):
        t = sample_bundle(name).tables
        assert heavy_intervals(t["vmstat"]).empty
        result = run(t, [RULE])
        assert result.status("FLT001").status == "ran"
        assert result.findings == ()


def test_skipped_on_one_snapshot(sample_bundle):
    t = dict(sample_bundle("pagecache-thrash").tables)
    t["vmstat"] = t["vmstat"].sort_values("ts").tail(1)
    t["samples"] = t["samples"][t["samples"]["phase"] == "sample"].tail(1)
    result = run(t, [RULE])
    assert result.status("FLT001").status == "skipped"
    assert "needs at least 2 samples" in result.status("FLT001").reason
