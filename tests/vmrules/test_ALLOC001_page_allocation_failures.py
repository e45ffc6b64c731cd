"""ALLOC001 page-allocation-failures: warn_alloc() records, re-timed into a real capture.

No host we may use fails page allocations on demand, so the records are the real-shaped ones
of tests/data/kmsg (see its README: kernel format, public captures); the bundle around them is
the real healthy-idle capture.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from vmanalyze.engine import run
from vmanalyze.parsers.kmsg import parse_kmsg
from vmanalyze.rule import Severity
from vmrules.alloc.page_allocation_failures import page_allocation_failures as RULE

KMSG = Path(__file__).resolve().parents[1] / "data" / "kmsg" / "page-allocation-failures.kmsg"


def with_failures(tables: dict[str, pd.DataFrame], snapshot_at: int) -> dict[str, pd.DataFrame]:
    """The tables with the fixture's records read by the ``snapshot_at``-th snapshot and timed
    one second apart from 5 s after the first sample."""
    samples = tables["samples"].sort_values("ts").reset_index(drop=True)
    read_by = samples.iloc[snapshot_at]
    events = pd.DataFrame(parse_kmsg(KMSG.read_text()))
    first_mono = float(samples["mono_s"].iloc[0])
    events["usec"] = [int((first_mono + 5 + i) * 1e6) for i in range(len(events))]
    events["snapshot"] = read_by["snapshot"]
    events["ts"] = read_by["ts"]
    events["source"] = "dev/kmsg"
    out = dict(tables)
    out["oom_events"] = events
    return out


def test_groups_the_failures_by_order_and_gfp(sample_bundle):
    t = with_failures(sample_bundle("healthy-idle").tables, snapshot_at=10)
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    [f] = result.findings
    ev = f.evidence
    assert ev["failures"] == 5 and ev["max_order"] == 4
    groups = {(g["order"], g["gfp"]): g for g in ev["by_order_and_gfp"]}
    assert set(groups) == {
        (4, "GFP_KERNEL|__GFP_COMP"),
        (3, "GFP_ATOMIC|__GFP_COMP"),
        (0, "GFP_ATOMIC"),
        (1, "0x20"),
    }
    assert groups[(3, "GFP_ATOMIC|__GFP_COMP")]["count"] == 2
    assert groups[(3, "GFP_ATOMIC|__GFP_COMP")]["processes"] == ["swapper/0"]
    assert groups[(3, "GFP_ATOMIC|__GFP_COMP")]["atomic"] is True
    assert groups[(1, "0x20")]["atomic"] is None  # hex only: the kernel did not name the flags
    # an order-4 GFP_KERNEL allocation could reclaim and compact, and still failed
    assert f.severity == Severity.CRITICAL and "order 4" in (f.severity_reason or "")
    assert f.message.startswith("5 page allocation failures during the capture")
    samples = t["samples"]
    assert samples["ts"].min() <= f.start <= f.end <= samples["ts"].max()
    # free blocks of order >= 4 in the last buddyinfo snapshot, over every zone
    buddy = t["buddyinfo"]
    last = buddy[buddy["snapshot"] == buddy["snapshot"].max()]
    assert ev["free_blocks_at_or_above_max_order"] == int(
        last[[f"order_{o}" for o in range(4, 11)]].sum().sum()
    )


def test_failures_before_the_capture_are_info(sample_bundle):
    t = with_failures(sample_bundle("healthy-idle").tables, snapshot_at=0)
    [f] = run(t, [RULE]).findings
    assert f.severity == Severity.INFO and "before the capture" in f.message


def test_quiet_without_failures(sample_bundle):
    for name in ("healthy-idle", "oom-kill", "hung-task"):
        t = sample_bundle(name).tables
        events = t["oom_events"]
        assert not (events["event"] == "alloc_failure").any()
        result = run(t, [RULE])
        assert result.status("ALLOC001").status == "ran" and result.findings == ()


def test_single_snapshot_counts_the_boot(sample_bundle):
    t = with_failures(sample_bundle("healthy-idle").tables, snapshot_at=-1)
    last = t["samples"]["snapshot"].max()
    one = {n: df[df["snapshot"] == last] if "snapshot" in df else df for n, df in t.items()}
    [f] = run(one, [RULE]).findings
    assert "in the kernel log of this boot" in f.message and f.evidence["failures"] == 5
