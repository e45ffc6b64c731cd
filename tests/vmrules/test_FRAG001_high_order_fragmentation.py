"""FRAG001 high-order-fragmentation: quiet on the real captures; firing on edited buddyinfo.

Exhausting every free block of order >= 4 in the Normal zone of this shared 24 GiB host is not
something a test can do safely, so the firing cases take a real capture and zero its high
orders (and add compaction stalls) in the tables: synthetic, on purpose, and only there.
"""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmrules.frag.high_order_fragmentation import high_order_fragmentation as RULE

HIGH = [f"order_{k}" for k in range(4, 11)]


def exhausted(t: dict[str, pd.DataFrame], stalls_per_snapshot: int) -> dict[str, pd.DataFrame]:
    out = dict(t)
    buddy = t["buddyinfo"].copy()
    normal = buddy["zone"] == "Normal"
    buddy.loc[normal, HIGH] = 0
    out["buddyinfo"] = buddy
    vm = t["vmstat"].sort_values("ts").copy()
    steps = pd.Series(range(len(vm)), index=vm.index)
    vm["compact_stall"] = vm["compact_stall"] + steps * stalls_per_snapshot
    vm["compact_fail"] = vm["compact_fail"] + steps * stalls_per_snapshot
    out["vmstat"] = vm
    return out


@pytest.mark.parametrize("name", ["healthy-idle", "swap-thrash", "memory-leak"])
def test_quiet_on_real_captures(sample_bundle, name):
    t = sample_bundle(name).tables
    normal = t["buddyinfo"][t["buddyinfo"]["zone"] == "Normal"]
    assert (normal[HIGH].sum(axis=1) > 0).all()
    result = run(t, [RULE])
    assert result.status("FRAG001").status == "ran" and result.findings == ()


def test_fires_when_normal_has_no_high_order_block_and_compaction_stalls(sample_bundle):
    t = exhausted(sample_bundle("healthy-idle").tables, stalls_per_snapshot=5)
    result = run(t, [RULE])
    assert result.by_status("error") == ()
    assert [(f.code, f.subject, str(f.severity)) for f in result.findings] == [
        ("FRAG001", "zone:0:Normal", "warning")
    ]
    ev = result.findings[0].evidence
    vm = t["vmstat"].sort_values("ts")
    seconds = (vm["ts"].iloc[-1] - vm["ts"].iloc[0]).total_seconds()
    stalls = vm["compact_stall"].iloc[-1] - vm["compact_stall"].iloc[0]
    assert ev["compact_stall_delta"] == stalls
    assert ev["compact_stall_per_s"] == pytest.approx(stalls / seconds, abs=1e-3)
    normal = t["buddyinfo"][t["buddyinfo"]["zone"] == "Normal"]
    assert ev["snapshots_exhausted"] == len(normal)
    last = normal.sort_values("ts").iloc[-1]
    free = sum(int(last[f"order_{k}"]) << k for k in range(11))
    assert ev["free_mib_last"] == pytest.approx(free * 4096 / 2**20, abs=0.1)


def test_quiet_when_exhausted_but_nothing_compacts(sample_bundle):
    t = exhausted(sample_bundle("healthy-idle").tables, stalls_per_snapshot=0)
    assert run(t, [RULE]).findings == ()
