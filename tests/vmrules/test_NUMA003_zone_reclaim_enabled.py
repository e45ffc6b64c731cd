"""NUMA003 zone-reclaim-enabled: quiet on the real two-node capture (mode 0) and on a real
one-node capture with zone_reclaim_mode=1; the firing case flips the sysctl row of the real
two-node capture (no real multi-node host with zone reclaim on is available)."""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmanalyze.rule import Severity
from vmrules.numa.zone_reclaim_enabled import zone_reclaim_enabled as RULE


def with_zone_reclaim(tables: dict, mode: int) -> dict:
    t = dict(tables)
    sysctl = t["sysctl_vm"].copy()
    rows = sysctl["name"] == "zone_reclaim_mode"
    sysctl.loc[rows, "value"] = str(mode)
    sysctl.loc[rows, "value_int"] = mode
    t["sysctl_vm"] = sysctl
    return t


def test_quiet_on_two_nodes_with_zone_reclaim_off(sample_bundle):
    t = sample_bundle("numa-remote").tables
    s = t["sysctl_vm"]
    assert set(s[s["name"] == "zone_reclaim_mode"]["value_int"]) == {0}
    result = run(t, [RULE])
    assert result.status("NUMA003").status == "ran"
    assert result.findings == ()


def test_fires_on_two_nodes_with_zone_reclaim_on(sample_bundle):
    t = with_zone_reclaim(sample_bundle("numa-remote").tables, 3)
    (finding,) = run(t, [RULE]).findings
    assert (finding.code, finding.subject, finding.severity) == (
        "NUMA003",
        "host",
        Severity.WARNING,
    )
    assert finding.evidence["zone_reclaim_mode"] == 3
    assert finding.evidence["numa_nodes"] == 2
    vm = t["vmstat"].sort_values("ts")
    assert finding.evidence["zone_reclaim_failed_delta"] == float(
        vm["zone_reclaim_failed"].iloc[-1] - vm["zone_reclaim_failed"].iloc[0]
    )
    assert "reclaim, write out dirty pages" in finding.message


def test_critical_on_a_database_host(sample_bundle):
    t = with_zone_reclaim(sample_bundle("numa-remote").tables, 1)
    ps = t["process_samples"]
    db = ps[ps["comm"] == "numa-remote"].assign(comm="mongod")
    t["process_samples"] = pd.concat([ps, db.assign(pid=db["pid"] + 100000)])
    (finding,) = run(t, [RULE]).findings
    assert finding.severity is Severity.CRITICAL
    assert "MongoDB" in finding.message


@pytest.mark.root
def test_quiet_on_a_real_one_node_host_with_zone_reclaim_on(kernel_setting, live_capture):
    kernel_setting("/proc/sys/vm/zone_reclaim_mode", "1")
    live_capture.start(interval="200ms", count=3)
    t = live_capture.finish().tables
    s = t["sysctl_vm"]
    assert set(s[s["name"] == "zone_reclaim_mode"]["value_int"]) == {1}
    result = run(t, [RULE])
    assert result.status("NUMA003").status == "skipped"
    assert "zone_reclaim_mode has no effect" in result.status("NUMA003").reason
