"""CGR001 cgroup-memory-limit on real cgroup v1 captures (swap-thrash, oom-kill).

This host's cgroup v2 hierarchy has no memory controller (it is bound to v1), so the v2 case
uses a small synthetic table with the column names the loader gives memory.* files.
"""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmrules.cgr.cgroup_memory_limit import cgroup_memory_limit as RULE


def one_cgroup(t: dict[str, pd.DataFrame], path: str) -> pd.DataFrame:
    cg = t["cgroup_memory"]
    return cg[cg["cgroup"] == path].sort_values("ts")


def test_fires_on_the_swap_thrash_cgroup_at_its_limit(sample_bundle):
    t = sample_bundle("swap-thrash").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    path = "/vmtriage-sample-swap-thrash"
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("CGR001", f"cgroup:{path}", "warning")
    ]
    ev = result.findings[0].evidence
    rows = one_cgroup(t, path)
    assert ev["version"] == "v1"
    assert ev["limit_mib"] == pytest.approx(rows["limit_in_bytes"].iloc[-1] / 2**20, abs=0.1)
    assert ev["limit_hits_delta"] == rows["failcnt"].iloc[-1] - rows["failcnt"].iloc[0]
    seconds = (rows["ts"].iloc[-1] - rows["ts"].iloc[0]).total_seconds()
    assert ev["limit_hits_per_s"] == pytest.approx(ev["limit_hits_delta"] / seconds, abs=0.01)
    at_limit = rows["usage_in_bytes"] >= 0.98 * rows["limit_in_bytes"]
    assert ev["at_limit_snapshots"] == int(at_limit.sum())
    assert ev["oom_kills"] == 0
    assert any(p.startswith("swap-cycler") for p in ev["processes"])


def test_critical_on_the_oom_kill_cgroup(sample_bundle):
    t = sample_bundle("oom-kill").tables
    result = run(t, [RULE])
    path = "/vmtriage-sample-oom-kill"
    assert [(f.subject, str(f.severity)) for f in result.findings] == [
        (f"cgroup:{path}", "critical")
    ]
    rows = one_cgroup(t, path)
    kills = rows["oom_control_oom_kill"].iloc[-1] - rows["oom_control_oom_kill"].iloc[0]
    assert kills > 0
    assert result.findings[0].evidence["oom_kills"] == kills
    assert result.findings[0].severity_reason


def test_quiet_on_unlimited_cgroups(sample_bundle):
    t = sample_bundle("healthy-idle").tables
    cg = t["cgroup_memory"]
    assert (cg["limit_in_bytes"] >= 1 << 62).all()
    result = run(t, [RULE])
    assert result.status("CGR001").status == "ran" and result.findings == ()


def v2_table(events_max: list[int], events_high: list[int], kills: list[int]) -> pd.DataFrame:
    n = len(events_max)
    ts = pd.date_range("2026-11-26 12:00", periods=n, freq="5s", tz="UTC")
    return pd.DataFrame(
        {
            "snapshot": [str(i) for i in range(n)],
            "ts": ts,
            "cgroup": "/system.slice/app.service",
            "version": "v2",
            "current": [500 << 20] * n,
            "max": [512 << 20] * n,
            "high": [None] * n,
            "events_max": events_max,
            "events_high": events_high,
            "events_oom": kills,
            "events_oom_kill": kills,
            "stat_anon": [450 << 20] * n,
            "stat_file": [50 << 20] * n,
        }
    )


def test_v2_max_events_and_oom_kill():
    # synthetic: no cgroup v2 memory controller on this host (see the module docstring)
    cg = v2_table([0, 50, 100, 150, 200], [0] * 5, [0, 0, 0, 1, 1])
    samples = pd.DataFrame({"snapshot": cg["snapshot"], "ts": cg["ts"], "phase": "sample"})
    result = run({"cgroup_memory": cg, "samples": samples}, [RULE])
    assert [(f.subject, str(f.severity)) for f in result.findings] == [
        ("cgroup:/system.slice/app.service", "critical")
    ]
    ev = result.findings[0].evidence
    assert ev["limit_hits_delta"] == 200 and ev["limit_hits_per_s"] == pytest.approx(10.0)
    assert ev["oom_kills"] == 1 and ev["anon_mib_last"] == 450.0


def test_v2_quiet_when_no_event_rises():
    cg = v2_table([7] * 5, [0] * 5, [0] * 5)
    cg["current"] = 100 << 20
    samples = pd.DataFrame({"snapshot": cg["snapshot"], "ts": cg["ts"], "phase": "sample"})
    assert run({"cgroup_memory": cg, "samples": samples}, [RULE]).findings == ()


def test_unlimited_cgroup_with_global_oom_victims_is_not_flagged(sample_bundle):
    # The kill counter of a cgroup without a limit counts victims of global OOMs (OOM001's
    # business), not a limit being hit: real rows of an unlimited cgroup, kill counter raised.
    t = dict(sample_bundle("healthy-idle").tables)
    cg = t["cgroup_memory"].copy()
    cg["oom_control_oom_kill"] = range(len(cg))
    t["cgroup_memory"] = cg
    assert run(t, [RULE]).findings == ()


#: Reads a file once, sequentially, with read(): page cache only, each page read once.
READER = """
import sys, time
time.sleep(1.5)  # the capture starts meanwhile: the interpreter's own memory is not growth
with open(sys.argv[1], "rb") as f:
    while f.read(1 << 20):
        pass
print("read", flush=True)
time.sleep(30)
"""


@pytest.mark.root
def test_v1_limit_filled_by_page_cache_only_is_info(live_capture, tmp_path):
    """A live v1 cgroup (64 MiB limit) whose process reads a 256 MiB file once: the page cache
    fills the limit and is reclaimed, with no anonymous growth, refault, swap or OOM."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path("/sys/fs/cgroup/memory")
    if not (root / "memory.limit_in_bytes").exists():
        pytest.skip("no cgroup v1 memory controller on this host")
    data = tmp_path / "once.bin"
    with open(data, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())
        # out of the page cache, so that the reader's reads charge its cgroup
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    group = root / f"vmtriage-test-cgr001-{os.getpid()}"
    group.mkdir()
    reader = None
    try:
        (group / "memory.limit_in_bytes").write_text(str(64 << 20))
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(data)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
        )
        time.sleep(0.5)
        live_capture.start(interval="250ms", count=14)
        t = live_capture.finish().tables
    finally:
        if reader is not None:
            reader.kill()
            reader.wait()
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    path = "/" + group.name
    rows = one_cgroup(t, path)
    assert not rows.empty, "the capture did not see the test cgroup"
    result = run({**t, "cgroup_memory": rows}, [RULE])
    (finding,) = result.findings
    assert finding.subject == f"cgroup:{path}"
    assert finding.evidence["pressure"] == []
    assert str(finding.severity) == "info" and finding.harm == "config"
    assert "page cache only" in finding.message
