"""SWP002 swap-nearly-full on the real swap-thrash capture.

The capture's 1.5 GiB swap file stays about half free, so the firing cases raise the threshold
through the rule's setting (the way a user would) above the free share measured here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

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


#: Joins the memory cgroup, then fills anonymous memory 2 MiB at a time while more than 8.5% of
#: swap is free; after that it keeps rewriting its last 72 MiB (more than the cgroup's 64 MiB:
#: pages go out and come back in, with swap nearly full), a MiB every 5 ms, until killed. The
#: pace and the ~43 MiB of swap left free keep the cgroup's reclaim from giving up (OOM).
FILLER = r"""
import mmap, os, sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))

def swap_free():
    info = {}
    for line in open("/proc/meminfo"):
        key, value = line.split(":")
        info[key] = int(value.split()[0])
    return info["SwapFree"] / info["SwapTotal"]

size, step, page = 1024 << 20, 2 << 20, 4096
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
touched, said = 0, False
while True:
    if swap_free() > 0.085 and touched < size:
        for off in range(touched, touched + step, page):
            m[off] = 1
        touched += step
        time.sleep(0.002)
        continue
    if not said:
        print("full", touched >> 20, flush=True)
        said = True
    for off in range(max(0, touched - (72 << 20)), touched, page):
        m[off] = (m[off] + 1) & 0xFF
        if off & 0xFFFFF == 0:
            time.sleep(0.005)
"""


@pytest.fixture
def small_swap_in_a_memory_cgroup(tmp_path):
    """A 512 MiB swap file and a v1 memory cgroup limited to 64 MiB (root; v1 controller)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (swapon, memory cgroup)")
    root = Path("/sys/fs/cgroup/memory")
    if not (root / "memory.limit_in_bytes").is_file():
        pytest.skip("no cgroup v1 memory controller")
    if len(Path("/proc/swaps").read_text().splitlines()) > 1:
        pytest.skip("another swap area is active on this shared host")
    swapfile = Path(f"/var/tmp/vmtriage-test-swp002-{os.getpid()}.swap")
    cgroup = root / f"vmtriage-test-swp002-{os.getpid()}"
    try:
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={swapfile}", "bs=1M", "count=512"],
            check=True,
            capture_output=True,
        )
        swapfile.chmod(0o600)
        subprocess.run(["mkswap", str(swapfile)], check=True, capture_output=True)
        subprocess.run(["swapon", str(swapfile)], check=True, capture_output=True)
        cgroup.mkdir()
        (cgroup / "memory.limit_in_bytes").write_text(str(64 << 20))
        # Should reclaim ever give up, pause the filler instead of OOM-killing it: no kill
        # record lands in the shared host's kernel log (other captures would show it).
        (cgroup / "memory.oom_control").write_text("1")
        yield swapfile, cgroup
    finally:
        if cgroup.is_dir():
            for pid in (cgroup / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
            for _ in range(50):
                try:
                    cgroup.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        subprocess.run(["swapoff", str(swapfile)], capture_output=True)
        swapfile.unlink(missing_ok=True)


@pytest.mark.slow
@pytest.mark.root
def test_fires_on_a_real_nearly_full_swap_file(small_swap_in_a_memory_cgroup, live_capture):
    swapfile, cgroup = small_swap_in_a_memory_cgroup
    filler = subprocess.Popen(
        [sys.executable, "-c", FILLER, str(cgroup)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = filler.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("full"):
            filler.kill()
            pytest.fail(f"the filler stopped early: {line!r} {filler.stderr.read()!r}")  # type: ignore[union-attr]
        live_capture.start(interval="300ms", count=6)
        ds = live_capture.finish()
    finally:
        filler.kill()
        filler.wait()
    t = ds.tables
    result = run(t, [RULE])  # default threshold: free swap below 10%
    assert result.by_status("error") == ()
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("SWP002", "host", "warning")
    ]
    ev = result.findings[0].evidence
    pct = free_pct(t["meminfo"])
    assert ev["min_free_swap_pct"] == pytest.approx(pct.min(), abs=0.05) and pct.min() < 10
    assert ev["swap_total_mib"] == pytest.approx(512, abs=0.1)
    assert ev["swapout_intervals_below"] >= 1 and ev["pswpout_per_s_mean"] >= 5
    assert [d["filename"] for d in ev["devices"]] == [str(swapfile)]
