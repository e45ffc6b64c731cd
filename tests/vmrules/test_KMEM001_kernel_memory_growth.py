"""KMEM001 kernel-memory-growth on the real kernel-thread-leak capture (a process starting 25
threads/s that never end: KernelStack and unreclaimable slab grow), and quiet elsewhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vmanalyze.config import Config
from vmanalyze.engine import run
from vmrules.kmem.kernel_memory_growth import kernel_memory_growth as RULE

PARTS = ["s_unreclaim_bytes", "kernel_stack_bytes", "page_tables_bytes", "percpu_bytes"]


def _fit(ts: pd.Series, y: np.ndarray) -> tuple[float, float]:
    x = (ts - ts.iloc[0]).dt.total_seconds().to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    r2 = 1 - ((y - (slope * x + intercept)) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return float(slope), float(r2)


def test_fires_on_the_thread_leak_with_the_slab_caches_that_grew(sample_bundle):
    t = sample_bundle("kernel-thread-leak").tables
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    (finding,) = result.findings
    assert (finding.code, finding.subject, str(finding.severity)) == ("KMEM001", "host", "warning")
    ev = finding.evidence

    # An independent fit of the sum the rule documents, from the meminfo table.
    mem = t["meminfo"].sort_values("ts")
    stacks = mem["kernel_stack_bytes"].astype(float)
    vmalloc = mem["vmalloc_used_bytes"].astype(float) - stacks
    y = (mem[PARTS + ["sec_page_tables_bytes"]].astype(float).sum(axis=1) + vmalloc).to_numpy()
    y = y - vmalloc.iloc[0]
    slope, r2 = _fit(mem["ts"], y)
    assert ev["slope_mib_per_s"] == pytest.approx(slope / 2**20, abs=1e-3)
    assert ev["r2"] == pytest.approx(r2, abs=1e-4) and r2 > 0.9
    # 20 threads/s for ~140 s, 16 KiB of kernel stack each (x86-64 THREAD_SIZE): ~44 MiB
    grown = ev["growth_by_part_mib"]
    stack_growth = (stacks.iloc[-1] - stacks.iloc[0]) / 2**20
    assert grown["KernelStack"] == pytest.approx(stack_growth, abs=0.1)
    assert 30 < stack_growth < 80
    assert grown["SUnreclaim"] > 10
    assert ev["kernel_mib_last"] == pytest.approx(
        mem[PARTS + ["sec_page_tables_bytes"]].iloc[-1].sum() / 2**20, abs=0.1
    )
    assert ev["ram_share_last"] == pytest.approx(
        ev["kernel_mib_last"] * 2**20 / mem["mem_total_bytes"].iloc[-1], abs=1e-4
    )

    # The slab caches, from the start and end /proc/slabinfo the collector read as root.
    slab = t["slabinfo"]
    assert sorted(slab["snapshot"].unique().tolist()) == [-1, int(t["samples"]["snapshot"].max())]
    first = slab[slab["snapshot"] == -1].set_index("name")["cache_size_bytes"]
    last = slab[slab["snapshot"] != -1].set_index("name")["cache_size_bytes"]
    growth = (last - first.reindex(last.index).fillna(0)).sort_values(ascending=False)
    names = [s["name"] for s in ev["slab_caches"]]
    assert names == list(growth.index[: len(names)]) and len(names) == 5
    assert "task_struct" in names
    task = next(s for s in ev["slab_caches"] if s["name"] == "task_struct")
    assert task["growth_mib"] == pytest.approx(growth["task_struct"] / 2**20, abs=0.1)
    assert "task_struct" in finding.message and "KernelStack +" in finding.message


def test_without_slabinfo_says_which_caches_grew_is_unknown(sample_bundle):
    """A run that was not root has no /proc/slabinfo: the growth is still found."""
    t = dict(sample_bundle("kernel-thread-leak").tables)
    t["slabinfo"] = t["slabinfo"].iloc[0:0]
    (finding,) = run(t, [RULE]).findings
    assert finding.evidence["slab_caches"] == []
    assert "which slab caches grew is unknown" in finding.message


def test_thresholds_decide(sample_bundle):
    t = sample_bundle("kernel-thread-leak").tables
    (finding,) = run(t, [RULE]).findings
    above = finding.evidence["growth_mib"] + 1
    config = Config(rule_settings={"KMEM001": {"min_growth_mib": above}})
    assert run(t, [RULE], config).findings == ()
    config = Config(rule_settings={"KMEM001": {"min_duration_s": 3600.0}})
    assert run(t, [RULE], config).findings == ()
    # MemAvailable lasts hours at this slope: info when the bar is below that
    hours = finding.evidence["exhaust_seconds"] / 3600
    assert 1 < hours < 24 and str(finding.severity) == "warning"
    config = Config(rule_settings={"KMEM001": {"max_exhaust_hours": hours / 2}})
    (info,) = run(t, [RULE], config).findings
    assert str(info.severity) == "info" and "would last more than" in info.severity_reason


@pytest.mark.parametrize(
    "name", ["healthy-idle", "memory-leak", "oom-kill", "swap-thrash", "pagecache-thrash"]
)
def test_quiet_where_kernel_memory_stays_flat(sample_bundle, name):
    # memory-leak and oom-kill grow user memory fast; the kernel's own stays flat
    result = run(sample_bundle(name).tables, [RULE])
    assert result.status("KMEM001").status == "ran"
    assert result.findings == ()


def test_skips_a_single_snapshot_and_a_kernel_without_the_fields(sample_bundle):
    t = dict(sample_bundle("kernel-thread-leak").tables)
    one = {**t, "samples": t["samples"].iloc[:1]}
    assert run(one, [RULE]).status("KMEM001").status == "skipped"
    mem = t["meminfo"].drop(columns=[*PARTS, "sec_page_tables_bytes", "vmalloc_used_bytes"])
    status = run({**t, "meminfo": mem}, [RULE]).status("KMEM001")
    assert status.status == "skipped" and "SUnreclaim" in status.reason


def test_vmalloc_counted_only_beyond_kernel_stacks(sample_bundle):
    """Vmalloc'ed kernel stacks are in VmallocUsed too: the growth is not counted twice."""
    t = sample_bundle("kernel-thread-leak").tables
    (finding,) = run(t, [RULE]).findings
    grown = finding.evidence["growth_by_part_mib"]
    mem = t["meminfo"].sort_values("ts")
    vmalloc = (mem["vmalloc_used_bytes"].iloc[-1] - mem["vmalloc_used_bytes"].iloc[0]) / 2**20
    assert grown["VmallocUsed"] == pytest.approx(vmalloc - grown["KernelStack"], abs=0.2)
    # adding VmallocUsed whole would count the stacks twice
    cols = [*PARTS, "sec_page_tables_bytes", "vmalloc_used_bytes"]
    naive = float((mem[cols].iloc[-1] - mem[cols].iloc[0]).sum()) / 2**20
    assert naive - sum(grown.values()) == pytest.approx(grown["KernelStack"], abs=0.3)
