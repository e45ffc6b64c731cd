"""THP002 thp-defrag-stalls: a real capture of THP faults compacting under defrag=always."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.thp.thp_defrag_stalls import thp_defrag_stalls as RULE

THP = "/sys/kernel/mm/transparent_hugepage"

#: Touches 2 GiB of anonymous memory in 8 steps, then holds it until killed.
TOUCHER = """
import mmap, sys, time
m = mmap.mmap(-1, 2 << 30)
step = (2 << 30) // 8
for k in range(8):
    for i in range(k * step, (k + 1) * step, 4096):
        m[i] = 1
    time.sleep(0.25)
print("touched", flush=True)
time.sleep(60)
"""


def free_huge_blocks() -> int:
    """Free 2 MiB blocks in /proc/buddyinfo (order 9, and order 10 counted twice), DMA aside."""
    blocks = 0
    for line in Path("/proc/buddyinfo").read_text().splitlines():
        fields = line.split()
        if fields[3] != "DMA" and len(fields) >= 15:
            blocks += int(fields[13]) + 2 * int(fields[14])
    return blocks


def test_quiet_when_defrag_is_madvise_and_nothing_stalls(sample_bundle):
    for name in ("healthy-idle", "thp-always-postgres"):
        t = sample_bundle(name).tables
        vm = t["vmstat"].sort_values("ts")
        assert vm["compact_stall"].iloc[-1] - vm["compact_stall"].iloc[0] == 0
        result = run(t, [RULE])
        assert result.status("THP002").status == "ran"
        assert result.findings == ()


@pytest.mark.slow
@pytest.mark.root
def test_fires_on_compaction_stalls_with_defrag_always(kernel_setting, live_capture):
    # Make free 2 MiB blocks scarce for real: move every free block of order 9 and 10 into
    # the hugetlb pool, so the free memory left is in smaller pieces (and the page cache
    # stays), and THP faults under defrag=always must compact to get a 2 MiB page.
    kernel_setting(f"{THP}/enabled", "always")
    kernel_setting(f"{THP}/defrag", "always")
    kernel_setting("/proc/sys/vm/compaction_proactiveness", "0")  # no background rebuilding
    kernel_setting("/proc/sys/vm/nr_hugepages", str(free_huge_blocks()))
    live_capture.start(interval="500ms", count=8)
    time.sleep(0.6)
    toucher = subprocess.Popen([sys.executable, "-c", TOUCHER], stdout=subprocess.PIPE, text=True)
    try:
        ds = live_capture.finish()
    finally:
        toucher.kill()
        toucher.wait()
    t = ds.tables
    defrag = t["thp"][t["thp"]["setting"] == "defrag"]["value"]
    assert set(defrag) == {"always"}
    vm = t["vmstat"].sort_values("ts")
    stalls = float(vm["compact_stall"].iloc[-1] - vm["compact_stall"].iloc[0])
    seconds = (vm["ts"].iloc[-1] - vm["ts"].iloc[0]).total_seconds()
    if stalls / seconds < RULE.setting("min_compact_stall_per_s").default:
        faults = float(vm["thp_fault_alloc"].iloc[-1] - vm["thp_fault_alloc"].iloc[0])
        pytest.skip(
            f"the kernel compacted only {stalls:.0f} times in {seconds:.1f} s this run "
            f"({faults:.0f} THP faults found free 2 MiB blocks)"
        )
    result = run(t, [RULE])
    assert not result.by_status("error")
    (finding,) = [f for f in result.findings if "compaction" in f.message]
    assert (finding.code, finding.subject) == ("THP002", "host")
    assert finding.evidence["thp_defrag"] == "always"
    assert finding.evidence["compact_stall_delta"] == stalls
    assert finding.evidence["compact_stall_per_s"] == pytest.approx(stalls / seconds, abs=1e-3)
    assert "defrag=always" in finding.message
    assert isinstance(finding.start, pd.Timestamp)


def test_single_snapshot_with_madvise_is_quiet(sample_bundle):
    t = dict(sample_bundle("thp-always-postgres").tables)
    t["vmstat"] = t["vmstat"].sort_values("ts").tail(1)
    t["samples"] = t["samples"][t["samples"]["phase"] == "sample"].tail(1)
    result = run(t, [RULE])
    assert result.status("THP002").status == "ran"
    assert result.findings == ()


@pytest.mark.root
def test_single_snapshot_with_defrag_always_uses_the_since_boot_rate(kernel_setting, live_capture):
    kernel_setting(f"{THP}/enabled", "always")  # since boot: only counted when THP is on
    kernel_setting(f"{THP}/defrag", "always")
    live_capture.start(interval="200ms", count=1)
    t = live_capture.finish().tables
    samples = t["samples"]
    assert (samples["phase"] == "sample").sum() == 1
    row = t["vmstat"].sort_values("ts").iloc[-1]
    uptime = float(samples.sort_values("ts")["mono_s"].iloc[-1])
    if row["compact_stall"] == 0:
        pytest.skip("no direct compaction stall since boot on this host")
    config = Config(rule_settings={"THP002": {"min_compact_stall_per_s": 1e-6}})
    (finding,) = run(t, [RULE], config).findings
    assert finding.evidence["compact_stall_per_s_since_boot"] == round(
        row["compact_stall"] / uptime, 3
    )
    assert "since boot" in finding.message


@pytest.mark.slow
@pytest.mark.root
def test_quiet_about_stalls_thp_did_not_cause(kernel_setting, live_capture):
    """THP enabled=never, defrag=always: compaction stalls caused by something else (here the
    hugetlb pool growing, which compacts to find 2 MiB blocks) are not THP's (FRAG001's)."""
    kernel_setting(f"{THP}/enabled", "never")
    kernel_setting(f"{THP}/defrag", "always")
    kernel_setting("/proc/sys/vm/compaction_proactiveness", "0")
    live_capture.start(interval="500ms", count=6)
    time.sleep(0.6)
    pool = Path("/proc/sys/vm/nr_hugepages")
    kernel_setting(str(pool), str(int(pool.read_text()) + free_huge_blocks() + 512))
    t = live_capture.finish().tables
    enabled = t["thp"][t["thp"]["setting"] == "enabled"]["value"]
    assert set(enabled) == {"never"}
    vm = t["vmstat"].sort_values("ts")
    stalls = float(vm["compact_stall"].iloc[-1] - vm["compact_stall"].iloc[0])
    faults = float(vm["thp_fault_alloc"].iloc[-1] - vm["thp_fault_alloc"].iloc[0])
    assert faults == 0
    if stalls == 0:
        pytest.skip("growing the hugetlb pool did not need direct compaction this run")
    config = Config(rule_settings={"THP002": {"min_compact_stall_per_s": 1e-6}})
    result = run(t, [RULE], config)
    assert result.status("THP002").status == "ran"
    assert [f for f in result.findings if "compaction" in f.message] == []
