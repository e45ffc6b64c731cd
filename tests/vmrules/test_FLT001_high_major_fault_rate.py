"""FLT001 high-major-fault-rate on the real page-cache and swap thrashing captures."""

from __future__ import annotations

import os

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


#: Maps a file that is not in the page cache and reads one byte per page, twice over.
FIRST_TOUCH = """
import mmap, os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # out of the page cache: first touch
m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
m.madvise(mmap.MADV_RANDOM)  # no readahead: one major fault per page
for i in range(0, len(m), 4096):
    m[i]
print("read", flush=True)
time.sleep(30)
"""


@pytest.mark.root
def test_first_touch_reads_without_stalls_are_info(live_capture, tmp_path):
    """A live capture of a process reading a cold 256 MiB file through mmap: major faults
    that neither swap-in nor refaults explain, and no memory stall: info."""
    import subprocess
    import sys
    import time

    from vmanalyze.config import Config

    data = tmp_path / "cold.bin"
    with open(data, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())
    live_capture.start(interval="250ms", count=12)
    time.sleep(0.5)
    reader = subprocess.Popen(
        [sys.executable, "-c", FIRST_TOUCH, str(data)], stdout=subprocess.PIPE, text=True
    )
    try:
        t = live_capture.finish().tables
    finally:
        reader.kill()
        reader.wait()
    config = Config(rule_settings={"FLT001": {"min_time_share": 0.05}})
    result = run(t, [RULE], config)
    if not result.findings:
        pytest.skip("the cold reads were served faster than min_majflt_per_s this run")
    (finding,) = result.findings
    if finding.evidence["cause"] != "first-touch file reads":
        pytest.skip("other work on this shared host swapped or refaulted during the capture")
    assert finding.evidence["first_touch_pages"] > finding.evidence["swapin_pages"]
    if finding.evidence.get("psi_some_pct", 0.0) >= RULE.setting("min_stall_pct").default:
        pytest.skip("other work on this host stalled on memory during the capture")
    assert finding.severity is Severity.INFO
    assert "first-touch" in (finding.severity_reason or "")
