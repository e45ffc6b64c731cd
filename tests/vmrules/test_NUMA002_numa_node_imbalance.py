"""NUMA002 numa-node-imbalance on the real two-node capture: node 0 full, node 1 free."""

from __future__ import annotations

import pytest
from vmanalyze.engine import run
from vmrules.numa.numa_node_imbalance import numa_node_imbalance as RULE


def test_fires_on_the_node_at_its_low_watermark(sample_bundle):
    t = sample_bundle("numa-remote").tables
    result = run(t, [RULE])
    assert not result.by_status("error")
    # node 1 (where numa-remote's memory sits) has free memory and must not be reported
    assert [(f.code, f.subject) for f in result.findings] == [("NUMA002", "node:0")]
    (finding,) = result.findings

    z = t["zoneinfo"]
    per = z.groupby(["snapshot", "node"])[["pages_free", "low", "managed"]].sum().reset_index()
    factor = RULE.setting("low_watermark_factor").default
    other_free = RULE.setting("min_other_free_share").default
    node0 = per[per["node"] == 0].set_index("snapshot")
    node1 = per[per["node"] == 1].set_index("snapshot")
    exhausted = node0["pages_free"] <= factor * node0["low"]
    roomy = node1["pages_free"] / node1["managed"] >= other_free
    both = exhausted & roomy.reindex(exhausted.index)
    assert finding.evidence["exhausted_snapshots"] == int(both.sum())
    assert finding.evidence["snapshots"] == per["snapshot"].nunique()
    page = int(t["host"]["page_size"].iloc[0])
    assert finding.evidence["min_free_bytes"] == node0.loc[both, "pages_free"].min() * page
    assert finding.evidence["other_node"] == 1
    assert finding.evidence["other_node_free_share"] >= other_free


def test_quiet_when_the_other_node_must_be_almost_empty(sample_bundle):
    from vmanalyze.config import Config

    t = sample_bundle("numa-remote").tables
    config = Config(rule_settings={"NUMA002": {"min_other_free_share": 0.95}})
    assert run(t, [RULE], config).findings == ()


@pytest.mark.parametrize("name", ["healthy-idle", "swap-thrash"])
def test_skipped_on_one_node(sample_bundle, name):
    result = run(sample_bundle(name).tables, [RULE])
    assert result.status("NUMA002").status == "skipped"


def test_node_reclaim_is_read_from_refaults_not_pgsteal(sample_bundle):
    """Node vmstat files have no pgsteal (the parser gives None: the counter is global or per
    cgroup). Node reclaim shows as the node's refaults: the real numa-remote capture, with
    node 0's workingset_refault_file rising 500 pages/s (pages reclaimed and needed again, as
    the spill workload would make them), while the watermark part is set aside."""
    from vmanalyze.config import Config

    t = dict(sample_bundle("numa-remote").tables)
    nv = t["sys_node_vmstat"].copy()
    assert nv["pgsteal"].isna().all()
    node0 = nv["node"] == 0
    seconds = (nv["ts"] - nv["ts"].min()).dt.total_seconds()
    nv.loc[node0, "workingset_refault_file"] += (500 * seconds[node0]).round().astype("Int64")
    config = Config(rule_settings={"NUMA002": {"low_watermark_factor": 0.0}})
    result = run({**t, "sys_node_vmstat": nv}, [RULE], config)
    (finding,) = result.findings
    assert finding.subject == "node:0"
    assert finding.evidence["refaults_per_s"] == pytest.approx(500, rel=0.02)
    assert "refaulted" in finding.message
    # the unchanged capture has no refault on either node: quiet
    assert run(t, [RULE], config).findings == ()
