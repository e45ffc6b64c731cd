"""NUMA002 numa-node-imbalance: one node at its low watermark while another has free memory."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from vmanalyze import Finding, RuleContext, Setting, Severity, Skip, Subject, rule

from vmrules._common import (
    fmt_bytes,
    fmt_rate,
    node_count,
    page_size,
    stamp,
    when,
    window_rates,
)


def node_watermarks(zoneinfo: pd.DataFrame, page_size: int) -> pd.DataFrame:
    """Per node and snapshot: free, min, low, high and managed bytes summed over its zones."""
    cols = ["pages_free", "min", "low", "high", "managed"]
    per = zoneinfo.groupby(["snapshot", "ts", "node"], sort=False)[cols].sum().reset_index()
    for col in cols:
        per[f"{col}_bytes"] = per[col].astype(float) * page_size
    return per.sort_values(["ts", "node"]).reset_index(drop=True)


@rule(
    code="NUMA002",
    name="numa-node-imbalance",
    severity=Severity.WARNING,
    chart="numa",
    harm="measured",
    explains=("NUMA001",),
    requires=("zoneinfo",),
    optional=("numa_topology", "sys_node_vmstat"),
    settings=[
        Setting(
            "low_watermark_factor",
            1.25,
            "A node counts as exhausted while its free memory (all zones) is at or below this "
            "many times its low watermark (kswapd wakes at the low watermark). "
            "Our choice: 25% above low, about the high watermark (where kswapd stops) with "
            "the kernel's default watermark spacing (mm/page_alloc.c __setup_per_zone_wmarks).",
        ),
        Setting(
            "min_time_share",
            0.2,
            "Share (0-1) of the snapshots in which a node must be exhausted to be reported. "
            "Our choice: as DRT001, 20%.",
        ),
        Setting(
            "min_other_free_share",
            0.2,
            "Share (0-1) of another node's managed memory that must be free at the same time "
            "for the imbalance to be reported. "
            "Our choice: a fifth of the other node free is room to place the memory.",
        ),
        Setting(
            "min_refaults_per_s",
            100.0,
            "Refaults per second on a node (workingset_refault_anon + _file of its node "
            "vmstat: its pages were reclaimed and needed again) from which it counts as "
            "reclaiming while another node has free memory. Our choice: 100 pages/s (0.4 "
            "MiB/s) is well above the trickle of an idle node and the same bar as NUMA001's "
            "min_pages_per_s.",
        ),
    ],
)
def numa_node_imbalance(ctx: RuleContext) -> Iterator[Finding]:
    """One NUMA node is at its low watermark or reclaiming while another node has free memory.

    ## What it does
    On hosts with two or more nodes, sums each node's zones of `/proc/zoneinfo` (free pages,
    min/low/high watermarks) in every snapshot. A node is exhausted when its free memory is at
    or below `low_watermark_factor` times its low watermark. When that holds in at least
    `min_time_share` of the snapshots while another node has at least `min_other_free_share`
    of its memory free, reports the node with the lowest free memory, when, and the other
    nodes' free memory. Also reports a node that reclaims while another node is that free,
    seen as refaults of that node (`workingset_refault_anon` + `workingset_refault_file` of
    its node vmstat; node vmstat files have no `pgsteal`/`pgscan`, which are global or
    per-cgroup) at `min_refaults_per_s` or more. Works on one snapshot
    for the watermark part.

    ## Why is this bad?
    Allocations that prefer the exhausted node (its CPUs' tasks, or a `--membind`/preferred
    policy) make kswapd and direct reclaim evict its page cache or swap out its anonymous
    memory, although the host as a whole has free memory; with `zone_reclaim_mode` on, they
    reclaim locally instead of using the free remote node. Latency rises on that node only.

    ## Example
    node 0 free 21.0 MiB (low watermark 18.2 MiB) in 38 of 42 snapshots, node 1 611.0 MiB
    free (60%): "node 0 at its low watermark in 90% of the snapshots (free 21.0 MiB at
    10:02:13Z vs low 18.2 MiB) while node 1 had 611.0 MiB (60%) free".

    ## Remediation
    Spread the memory: `numactl --interleave=all` for processes larger than one node, bind
    workloads with both CPUs and memory to nodes that can hold them (`--cpunodebind=N
    --membind=N`), move memory-heavy services to the other node, check `vm.zone_reclaim_mode`
    is 0, and check hugepage pools are not reserved on one node only
    (`/sys/devices/system/node/node*/hugepages`).

    ## References
    - https://docs.kernel.org/admin-guide/mm/concepts.html
    - https://docs.kernel.org/admin-guide/sysctl/vm.html#zone-reclaim-mode
    - https://man7.org/linux/man-pages/man7/numa.7.html
    """
    zoneinfo = ctx.tables["zoneinfo"]
    nodes = max(node_count(ctx.host, ctx.table("numa_topology")), zoneinfo["node"].nunique())
    if nodes < 2:
        raise Skip(f"the host has {nodes} NUMA node: no imbalance possible")
    factor = float(ctx.settings["low_watermark_factor"])
    other_free = float(ctx.settings["min_other_free_share"])
    per = node_watermarks(zoneinfo, page_size(ctx.host))
    per["exhausted"] = per["pages_free"] <= factor * per["low"]
    per["free_share"] = (per["pages_free"] / per["managed"]).where(per["managed"] > 0)
    snapshots = per["snapshot"].nunique()
    reported: set[int] = set()

    for node, rows in per.groupby("node"):
        exhausted = rows[rows["exhausted"]]
        if exhausted.empty:
            continue
        others = per[(per["node"] != node) & per["snapshot"].isin(exhausted["snapshot"])]
        roomy = others[others["free_share"] >= other_free]
        both = exhausted[exhausted["snapshot"].isin(roomy["snapshot"])]
        share = len(both) / snapshots if snapshots else 0.0
        if both.empty or share < float(ctx.settings["min_time_share"]):
            continue
        worst = both.loc[both["pages_free"].idxmin()]
        other = roomy[roomy["snapshot"] == worst["snapshot"]].sort_values("pages_free").iloc[-1]
        reported.add(int(node))
        yield Finding(
            subject=Subject.node(int(node)),
            message=(
                f"node {node} at its low watermark in {len(both)} of {snapshots} snapshots "
                f"(free {fmt_bytes(worst['pages_free_bytes'])} at {when(worst['ts'])} vs low "
                f"{fmt_bytes(worst['low_bytes'])}) while node {int(other['node'])} had "
                f"{fmt_bytes(other['pages_free_bytes'])} ({100 * other['free_share']:.0f}%) free"
            ),
            start=stamp(both["ts"].min()),
            end=stamp(both["ts"].max()),
            evidence={
                "node": int(node),
                "exhausted_snapshots": len(both),
                "snapshots": snapshots,
                "time_share": round(share, 3),
                "min_free_bytes": float(worst["pages_free_bytes"]),
                "low_watermark_bytes": float(worst["low_bytes"]),
                "min_watermark_bytes": float(worst["min_bytes"]),
                "other_node": int(other["node"]),
                "other_node_free_bytes": float(other["pages_free_bytes"]),
                "other_node_free_share": round(float(other["free_share"]), 3),
                "per_node": per[per["snapshot"] == worst["snapshot"]][
                    ["node", "pages_free_bytes", "low_bytes", "min_bytes", "managed_bytes"]
                ].reset_index(drop=True),
            },
        )

    node_vmstat = ctx.table("sys_node_vmstat")
    if node_vmstat is None or not ctx.multi_sample:
        return
    parts = [c for c in ("workingset_refault_anon", "workingset_refault_file") if c in node_vmstat]
    if not parts and "workingset_refault" not in node_vmstat.columns:
        return  # a kernel before 4.? without per-node refault counters: nothing to read
    node_vmstat = node_vmstat.copy()
    node_vmstat["refaults"] = (
        node_vmstat[parts].astype(float).sum(axis=1)
        if parts
        else node_vmstat["workingset_refault"].astype(float)
    )
    window = window_rates(node_vmstat, ["refaults"], by=("node",))
    if window.seconds <= 0:
        return
    min_rate = float(ctx.settings["min_refaults_per_s"])
    rates = window.intervals
    free_at = per.set_index(["ts", "node"])["free_share"]
    for node, rows in rates.groupby("node"):
        if int(node) in reported:
            continue
        busy = rows[rows["refaults_per_s"] >= min_rate]
        hits = []
        for ts in busy["ts"]:
            others = [free_at.get((ts, n)) for n in per["node"].unique() if n != node]
            if any(o is not None and pd.notna(o) and o >= other_free for o in others):
                hits.append(ts)
        if not hits:
            continue
        steal = busy[busy["ts"].isin(hits)]
        seconds = float(steal["interval_s"].sum())
        if seconds / window.seconds < float(ctx.settings["min_time_share"]):
            continue
        mean = float(steal["refaults_delta"].sum()) / seconds
        yield Finding(
            subject=Subject.node(int(node)),
            message=(
                f"node {node} refaulted {fmt_rate(mean)} pages (reclaimed and needed again) "
                f"for {seconds:.0f} of {window.seconds:.0f} s while another node had at least "
                f"{100 * other_free:.0f}% of its memory free"
            ),
            start=stamp(steal["ts_start"].min()),
            end=stamp(steal["ts"].max()),
            evidence={
                "node": int(node),
                "refaults_per_s": round(mean, 1),
                "reclaim_seconds": round(seconds, 1),
                "window_s": round(window.seconds, 1),
            },
        )
