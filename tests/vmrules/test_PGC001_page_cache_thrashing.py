"""PGC001 page-cache-thrashing on the real read() and mmap refault captures, quiet elsewhere."""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.pgc.page_cache_thrashing import page_cache_thrashing as RULE

MIN_RATE = RULE.setting("min_refault_pages_per_s").default
MIN_SHARE = RULE.setting("min_share_per_min").default


def heavy_intervals(t: dict, refault: str = "workingset_refault_file") -> pd.DataFrame:
    """Intervals at or above both thresholds, from a plain diff of the tables."""
    v = t["vmstat"].sort_values("ts").reset_index(drop=True)
    m = t["meminfo"].sort_values("ts").reset_index(drop=True)
    assert list(v["ts"]) == list(m["ts"])  # one meminfo row per vmstat row in a bundle
    d = pd.DataFrame(
        {
            "ts": v["ts"],
            "seconds": v["ts"].diff().dt.total_seconds(),
            "refaults": v[refault].diff(),
            "majflt": v["pgmajfault"].diff(),
            "file": m["active_file_bytes"] + m["inactive_file_bytes"],
        }
    ).iloc[1:]
    rate = d["refaults"] / d["seconds"]
    share = rate * 60 * 4096 / d["file"]
    return d[(rate >= MIN_RATE) & (share >= MIN_SHARE)]


def cgroup_refaults(t: dict, cgroup: str, start, end) -> float:
    cg = t["cgroup_memory"]
    rows = cg[(cg["cgroup"] == cgroup) & (cg["ts"] >= start) & (cg["ts"] <= end)]
    rows = rows.sort_values("ts")["stat_workingset_refault_file"]
    return float(rows.iloc[-1] - rows.iloc[0])


@pytest.mark.parametrize(
    ("bundle", "access"),
    [
        ("pagecache-read-thrash", "read() (no major faults)"),
        ("pagecache-thrash", "mmap (major faults)"),
    ],
)
def test_fires_on_the_cgroup_that_refaults(sample_bundle, bundle, access):
    t = sample_bundle(bundle).tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    (finding,) = result.findings
    cgroup = f"/vmtriage-sample-{bundle}"
    assert finding.subject == f"cgroup:{cgroup}"
    assert finding.evidence["cgroup"] == cgroup

    heavy = heavy_intervals(t)
    assert finding.evidence["refaults"] == heavy["refaults"].sum()
    assert finding.evidence["refault_per_s"] == pytest.approx(
        heavy["refaults"].sum() / heavy["seconds"].sum(), abs=0.1
    )
    assert finding.evidence["majflt"] == heavy["majflt"].sum()
    assert finding.evidence["access"] == access
    if access.startswith("read"):
        # read() copies inside the kernel: no page fault for a refaulted page
        assert heavy["majflt"].sum() < heavy["refaults"].sum() / 1000
        assert "without major faults" in finding.message
    else:
        assert heavy["majflt"].sum() >= heavy["refaults"].sum() * 0.3
        assert "with major faults" in finding.message and "FLT001" in finding.message

    top = finding.evidence["top_cgroups"]
    assert top["cgroup"].iloc[0] == cgroup
    assert top["limit_mib"].iloc[0] == 256.0
    own = cgroup_refaults(t, cgroup, finding.start, finding.end)
    assert top["refaults"].iloc[0] == own
    assert own >= 0.5 * heavy["refaults"].sum()
    # the whole page cache read back more than once a minute
    assert finding.evidence["share_per_min"] >= RULE.setting("critical_share_per_min").default
    assert finding.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    "bundle", ["healthy-idle", "swap-thrash", "memory-leak", "oom-kill", "thp-always-postgres"]
)
def test_quiet_without_file_refaults(sample_bundle, bundle):
    t = sample_bundle(bundle).tables
    result = run(t, [RULE])
    assert result.status("PGC001").status == "ran"
    assert result.findings == ()
    # a burst of refaults on this shared host may pass both thresholds, but not for long
    v = t["vmstat"].sort_values("ts")
    window = (v["ts"].iloc[-1] - v["ts"].iloc[0]).total_seconds()
    assert heavy_intervals(t)["seconds"].sum() < RULE.setting("min_time_share").default * window


def test_kernels_before_the_split_use_workingset_refault(sample_bundle):
    """Before 5.9 vmstat has one workingset_refault (file pages only): the same episode with
    the split counters removed is found through it."""
    t = dict(sample_bundle("pagecache-read-thrash").tables)
    vm = t["vmstat"]
    t["vmstat"] = vm.drop(
        columns=[
            c for c in vm.columns if c.startswith("workingset_") and c.endswith(("_file", "_anon"))
        ]
    )
    (finding,) = run(t, [RULE]).findings
    assert finding.evidence["counter"] == "workingset_refault"
    assert (
        finding.evidence["refaults"] == heavy_intervals(t, "workingset_refault")["refaults"].sum()
    )


def test_skips_a_single_snapshot_and_a_kernel_without_the_counter(sample_bundle):
    t = dict(sample_bundle("pagecache-read-thrash").tables)
    one = {name: df.head(1) for name, df in t.items() if "ts" in df.columns}
    assert run(one, [RULE]).status("PGC001").status == "skipped"
    vm = t["vmstat"]
    old = {**t, "vmstat": vm.drop(columns=[c for c in vm.columns if c.startswith("workingset_")])}
    status = run(old, [RULE]).status("PGC001")
    assert status.status == "skipped" and "3.15" in status.reason
