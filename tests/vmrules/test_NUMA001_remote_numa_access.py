"""NUMA001 remote-numa-access on the real two-node capture (numa-remote, a QEMU guest)."""

from __future__ import annotations

import pandas as pd
import pytest
from vmanalyze.engine import run
from vmrules.numa.remote_numa_access import misplaced_processes
from vmrules.numa.remote_numa_access import remote_numa_access as RULE

COUNTERS = ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"]


def node_deltas(numastat: pd.DataFrame) -> pd.DataFrame:
    """Per node: last minus first snapshot of each counter (no reset in these captures)."""
    n = numastat.sort_values("ts")
    first = n.groupby("node")[COUNTERS].first()
    last = n.groupby("node")[COUNTERS].last()
    assert (n.groupby("node")[COUNTERS].diff().fillna(0) >= 0).all().all()
    return last - first


def test_fires_on_the_node_serving_remote_tasks(sample_bundle):
    t = sample_bundle("numa-remote").tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    assert [(f.code, f.subject) for f in result.findings] == [("NUMA001", "node:1")]
    (finding,) = result.findings

    d = node_deltas(t["sys_node_numastat"]).loc[1]
    remote = (d["other_node"] - d["interleave_hit"]) / (d["local_node"] + d["other_node"])
    miss = d["numa_miss"] / (d["numa_hit"] + d["numa_miss"])
    assert remote > 0.9  # numa-remote runs on node 0 with --membind=1
    assert finding.evidence["remote_share"] == pytest.approx(remote, abs=1e-4)
    assert finding.evidence["miss_share"] == pytest.approx(miss, abs=1e-4)
    assert finding.evidence["other_node_pages"] == d["other_node"]
    assert finding.evidence["numa_stat"] == 1
    assert finding.evidence["basis"].startswith("over ")
    # the node that asked (node 0) counts the same pages as numa_foreign
    d0 = node_deltas(t["sys_node_numastat"]).loc[0]
    assert d0["numa_foreign"] == d["numa_miss"]
    assert f"node 1: {100 * remote:.0f}% of its allocations" in finding.message


def test_single_snapshot_uses_since_boot_ratios(sample_bundle):
    t = dict(sample_bundle("numa-remote").tables)
    last = t["sys_node_numastat"].sort_values("ts").groupby("node").tail(1)
    t["sys_node_numastat"] = last
    t["samples"] = t["samples"][t["samples"]["phase"] == "sample"].tail(1)
    result = run(t, [RULE])
    (finding,) = result.findings
    row = last.set_index("node").loc[1]
    boot = (row["other_node"] - row["interleave_hit"]) / (row["local_node"] + row["other_node"])
    assert finding.subject == "node:1"
    assert finding.evidence["basis"] == "since boot"
    assert finding.evidence["remote_share"] == pytest.approx(boot, abs=1e-4)


def test_skipped_on_one_node_and_when_numa_stat_is_off(sample_bundle):
    result = run(sample_bundle("healthy-idle").tables, [RULE])
    assert result.status("NUMA001").status == "skipped"
    assert "1 NUMA node" in result.status("NUMA001").reason

    t = dict(sample_bundle("numa-remote").tables)
    sysctl = t["sysctl_vm"].copy()
    off = sysctl["name"] == "numa_stat"
    sysctl.loc[off, "value"] = "0"
    sysctl.loc[off, "value_int"] = 0
    t["sysctl_vm"] = sysctl
    result = run(t, [RULE])
    assert result.status("NUMA001").status == "skipped"
    assert "vm.numa_stat is 0" in result.status("NUMA001").reason


def test_names_a_process_whose_memory_sits_on_another_node():
    # numa_maps of numa-remote as its guest showed it: bind:1, 256 MiB on N1, CPU on node 0
    ts = pd.Timestamp("2026-01-01T00:00:00Z")
    ps = pd.DataFrame(
        {"snapshot": ["end"], "ts": [ts], "pid": [190], "comm": ["numa-remote"], "cpu_node": [0]}
    )
    maps = pd.DataFrame(
        {
            "snapshot": ["end", "end"],
            "ts": [ts, ts],
            "pid": [190, 190],
            "node": [0, 1],
            "pages": [100, 65536],
            "bytes": [100 * 4096, 256 << 20],
        }
    )
    found = misplaced_processes(ps, maps, 0.5, 64 << 20)
    assert found[["pid", "comm", "cpu_node"]].values.tolist() == [[190, "numa-remote", 0]]
    assert found["remote_bytes"].iloc[0] == 256 << 20


def test_names_numa_remote_from_its_real_numa_maps(sample_bundle):
    t = sample_bundle("numa-remote").tables
    maps = t["pid_numa_maps"]
    if maps.empty:
        pytest.skip("pid_numa_maps is empty: this table builder does not fill it yet")
    ps = t["process_samples"]
    pid = int(ps[ps["comm"] == "numa-remote"]["pid"].iloc[0])
    assert set(ps[ps["pid"] == pid]["cpu_node"]) == {0}  # --cpunodebind=0
    samples = t["samples"]
    end = samples.loc[samples["phase"] == "end", "snapshot"].item()
    mine = maps[(maps["pid"] == pid) & (maps["snapshot"] == end)]
    remote = float(mine[mine["node"] != 0]["bytes"].sum())

    (finding,) = run(t, [RULE]).findings
    named = finding.evidence["misplaced_processes"]
    row = named[named["pid"] == pid].iloc[0]
    assert (row["comm"], row["cpu_node"], row["remote_bytes"]) == ("numa-remote", 0, remote)
    assert f"numa-remote pid {pid} runs on node 0" in finding.message
    # numa-spill also runs on node 0 but keeps most of its memory there: not named
    assert "numa-spill" not in set(named["comm"])


def since_boot_share(numastat) -> float:
    values = dict(line.split() for line in numastat.read_text().splitlines())
    other, local = int(values["other_node"]), int(values["local_node"])
    return other / (local + other)


def test_real_two_socket_snapshot_is_judged_since_boot(corpus_capture):
    # node_exporter's fixture: nodes 0 and 1 are a real capture (node 2 is maintainer-made)
    from vmanalyze.config import Config

    root, ds = corpus_capture("prometheus-node_exporter")
    node1 = root / "sys/devices/system/node/node1/numastat"
    share = since_boot_share(node1)
    assert 0.15 < share < RULE.setting("max_remote_share").default
    quiet = run(ds.tables, [RULE])
    assert "node:1" not in {f.subject for f in quiet.findings}

    config = Config(rule_settings={"NUMA001": {"max_remote_share": 0.15}})
    result = run(ds.tables, [RULE], config)
    finding = {f.subject: f for f in result.findings}["node:1"]
    assert finding.evidence["basis"] == "since boot"
    assert finding.evidence["remote_share"] == pytest.approx(share, abs=1e-4)
    assert "node:0" not in {f.subject for f in result.findings}


def test_real_two_socket_host_with_little_remote_traffic_is_quiet(corpus_capture):
    # pcp's meminfo-root-008: 2-socket Xeon, 886967186 pages of misses on node 1, but 5%
    root, ds = corpus_capture("performancecopilot-pcp/meminfo-root-008")
    share = since_boot_share(root / "sys/devices/system/node/node1/numastat")
    assert share < 0.1
    result = run(ds.tables, [RULE])
    assert result.status("NUMA001").status == "ran"
    assert result.findings == ()


def test_interleaved_allocations_are_not_remote_access(sample_bundle):
    """The real numa-remote capture as `numactl --interleave=all` would count it: node 1's
    allocations for node-0 tasks are interleave hits (numastat counts interleaved pages in
    local_node/other_node too). Interleaving is NUMA001's own remedy: nothing to report."""
    t = dict(sample_bundle("numa-remote").tables)
    ns = t["sys_node_numastat"].copy()
    ns["numa_miss"] = 0  # an interleave policy allocates where it means to
    ns["interleave_hit"] = ns["interleave_hit"] + ns["other_node"]
    result = run({**t, "sys_node_numastat": ns}, [RULE])
    assert result.status("NUMA001").status == "ran"
    assert result.findings == ()


def test_home_node_comes_from_the_allowed_cpus_of_all_threads(sample_bundle):
    """numa-remote is bound to node 0's CPU (Cpus_allowed_list 0) with its memory on node 1:
    named. Allowed on both nodes' CPUs (an unbound or interleaved process), its memory on
    node 1 is at home: not named, whatever CPU its main thread last ran on (field 39)."""
    t = dict(sample_bundle("numa-remote").tables)
    named = run(t, [RULE]).findings[0].evidence["misplaced_processes"]
    pid = int(named[named["comm"] == "numa-remote"]["pid"].iloc[0])
    assert named[named["pid"] == pid]["home_nodes"].iloc[0] == "0"
    status = t["pid_status"].copy()
    status.loc[status["pid"] == pid, "cpus_allowed_list"] = "0-1"
    again = run({**t, "pid_status": status}, [RULE]).findings[0].evidence["misplaced_processes"]
    assert pid not in set(again["pid"])
